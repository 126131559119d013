// The ClientHello reader against real ClientHellos from node:tls (captured from a real
// handshake), split at every byte across reads and across TLS records, and against garbage.
import { connect } from 'node:tls';
import { createServer } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { autoPassthroughCluster } from '../tcp/route.js';
import { parseClientHello } from './client-hello.js';

/** The first flight a real TLS client sends for `servername` and `alpn`. */
async function realHello(servername: string | undefined, alpn: string[] = []): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
  const c = connect({ host: '127.0.0.1', port, ...(servername !== undefined ? { servername } : {}), ALPNProtocols: alpn, rejectUnauthorized: false });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}

/** Re-frames a single-record hello into records of at most `size` bytes of handshake data. */
function splitRecords(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const h = Buffer.from([0x16, 3, 1, 0, 0]);
    h.writeUInt16BE(part.length, 3);
    out.push(h, part);
  }
  return Buffer.concat(out);
}

describe('parseClientHello', () => {
  it('reads SNI and ALPN from a real ClientHello, and asks for more on every prefix', async () => {
    const hello = await realHello('Reviews.Default.svc.cluster.local', ['h2', 'http/1.1']);
    expect(parseClientHello(hello)).toEqual({ kind: 'hello', serverName: 'reviews.default.svc.cluster.local', alpn: ['h2', 'http/1.1'] });
    for (let i = 1; i < hello.length; i++) expect(parseClientHello(hello.subarray(0, i)).kind).toBe('need-more');
  });

  it('reads a ClientHello split across TLS records', async () => {
    const hello = await realHello('a.example.com', ['istio-peer-exchange']);
    for (const size of [1, 7, 64, 300]) {
      expect(parseClientHello(splitRecords(hello, size))).toEqual({ kind: 'hello', serverName: 'a.example.com', alpn: ['istio-peer-exchange'] });
    }
  });

  it('reports a ClientHello without SNI (an IP address as server name sends none)', async () => {
    const hello = await realHello(undefined);
    expect(parseClientHello(hello)).toMatchObject({ kind: 'hello', serverName: undefined });
  });

  it('says not-tls for HTTP and invalid for broken handshakes', () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind).toBe('not-tls');
    expect(parseClientHello(Buffer.from([0x16, 3, 1, 0, 4, 2, 0, 0, 0])).kind).toBe('invalid'); // ServerHello
    expect(parseClientHello(Buffer.from([0x16, 3, 1, 0, 0])).kind).toBe('invalid'); // empty record
    expect(parseClientHello(Buffer.from([0x16, 3, 1, 0x50, 0, 1, 0xff, 0xff, 0xff])).kind).toBe('invalid'); // > 16 KiB
  });

  it('never throws on mutated ClientHellos', async () => {
    const hello = await realHello('x.test', ['h2']);
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(hello.length - 1), fc.nat(255)), { maxLength: 8 }), fc.nat(hello.length), (muts, cut) => {
      const b = Buffer.from(hello);
      for (const [i, v] of muts) b[i] = v;
      const r = parseClientHello(b.subarray(0, cut));
      expect(['need-more', 'not-tls', 'invalid', 'hello']).toContain(r.kind);
    }), { numRuns: 2000 });
  });

  it('maps AUTO_PASSTHROUGH server names to clusters', () => {
    expect(autoPassthroughCluster('outbound_.9080_.v1_.reviews.default.svc.cluster.local')).toBe('outbound|9080|v1|reviews.default.svc.cluster.local');
    expect(autoPassthroughCluster('outbound_.9080_._.reviews.default.svc.cluster.local')).toBe('outbound|9080||reviews.default.svc.cluster.local');
    expect(autoPassthroughCluster('reviews.default.svc.cluster.local')).toBeUndefined();
  });
});
