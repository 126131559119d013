import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { NameEntry } from '../../proxy-config/types.js';
import { startDnsProxy, type DnsProxy } from './server.js';
import { compileNameTable } from './table.js';
import { resolvConfUpstreams } from './upstream.js';
import { tempDir } from '../../../test/support/temp.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const table: NameEntry[] = [
  { name: 'reviews.default.svc.cluster.local', aliases: ['reviews.default', 'reviews'], addresses: ['240.240.0.7'] },
  { name: 'dual.example', addresses: ['10.0.0.5', 'fd00::5'] },
  { name: '*.wild.example', addresses: ['10.9.9.9'] },
];

/** A real resolver on loopback (UDP and TCP) that answers every A query with 192.0.2.1, and counts what it got. */
async function upstream(): Promise<{ port: number; names: string[] }> {
  const names: string[] = [];
  const answer = (q: Buffer) => {
    const p = dnsPacket.decode(q);
    names.push(p.questions![0]!.name);
    return dnsPacket.encode({ id: p.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: p.questions, answers: [{ type: 'A', name: p.questions![0]!.name, ttl: 5, data: '192.0.2.1' }] });
  };
  // The kernel picks the UDP port; TCP needs the same number, which another process may hold for
  // TCP: take a new UDP port and try again then (as startDnsProxy does).
  for (let attempt = 0; ; attempt++) {
    const udp: UdpSocket = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    udp.on('message', (m, ri) => udp.send(answer(m), ri.port, ri.address));
    const port = udp.address().port;
    const tcp: Server = createServer((s) => s.on('data', (d) => { const r = answer(d.subarray(2)); const l = Buffer.alloc(2); l.writeUInt16BE(r.length); s.end(Buffer.concat([l, r])); }));
    try {
      await new Promise<void>((r, j) => { tcp.once('error', j); tcp.listen(port, '127.0.0.1', () => r()); });
    } catch (err) {
      udp.close();
      if (attempt >= 10) throw err;
      continue;
    }
    closers.push(() => udp.close(), () => new Promise((r) => tcp.close(r)));
    return { port, names };
  }
}

async function proxy(upstreams: Array<{ host: string; port: number }>): Promise<DnsProxy> {
  const compiled = compileNameTable(table);
  const p = await startDnsProxy({ port: 0, table: () => compiled, upstreams, forwardTimeoutMs: 500 });
  closers.push(() => p.close());
  return p;
}

function askUdp(port: number, name: string, type: dnsPacket.RecordType, raw?: Buffer): Promise<dnsPacket.Packet & { rcode?: string; flag_aa?: boolean }> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('message', (m) => { s.close(); try { resolve(dnsPacket.decode(m)); } catch (e) { reject(e); } });
    s.send(raw ?? dnsPacket.encode({ id: 4242, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), port, '127.0.0.1');
  });
}

function askTcp(port: number, name: string, type: dnsPacket.RecordType): Promise<dnsPacket.Packet & { rcode?: string }> {
  return new Promise((resolve, reject) => {
    const q = dnsPacket.encode({ id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    const s = connect(port, '127.0.0.1', () => s.write(Buffer.concat([len, q])));
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { s.destroy(); resolve(dnsPacket.decode(buf.subarray(2))); }
    });
    s.on('error', reject);
  });
}

const data = (p: dnsPacket.Packet) => (p.answers ?? []).map((a) => (a as { data: unknown }).data);

describe('the DNS proxy', () => {
  it('answers mesh names (host, aliases, wildcards) from the name table over UDP and TCP, authoritatively', async () => {
    const up = await upstream();
    const p = await proxy([{ host: '127.0.0.1', port: up.port }]);
    const a = await askUdp(p.port, 'reviews.default.svc.cluster.local', 'A');
    expect(a).toMatchObject({ id: 4242, rcode: 'NOERROR', flag_aa: true });
    expect(data(a)).toEqual(['240.240.0.7']);
    expect(data(await askUdp(p.port, 'REVIEWS.default.', 'A'))).toEqual(['240.240.0.7']);
    expect(data(await askTcp(p.port, 'reviews', 'A'))).toEqual(['240.240.0.7']);
    expect(data(await askUdp(p.port, 'a.b.wild.example', 'A'))).toEqual(['10.9.9.9']);
    expect(data(await askUdp(p.port, 'dual.example', 'AAAA'))).toEqual(['fd00::5']);
    // A mesh name without an address of the asked family, or another type: an empty answer, not NXDOMAIN.
    const none = await askUdp(p.port, 'reviews', 'AAAA');
    expect(none.rcode).toBe('NOERROR');
    expect(none.answers).toEqual([]);
    expect((await askUdp(p.port, 'reviews', 'TXT')).answers).toEqual([]);
    expect(up.names).toEqual([]);
    expect(p.stats.answered).toBe(7);
  });

  it('forwards every other name to the host resolvers, over the transport it came on', async () => {
    const up = await upstream();
    const p = await proxy([{ host: '127.0.0.1', port: up.port }]);
    expect(data(await askUdp(p.port, 'example.org', 'A'))).toEqual(['192.0.2.1']);
    expect(data(await askTcp(p.port, 'wild.example', 'A'))).toEqual(['192.0.2.1']);
    expect(up.names).toEqual(['example.org', 'wild.example']);
    expect(p.stats.forwarded).toBe(2);
  });

  it('answers SERVFAIL when no resolver answers, FORMERR for garbage, and keeps serving', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    closers.push(() => silent.close());
    const p = await proxy([{ host: '127.0.0.1', port: silent.address().port }]);
    expect((await askUdp(p.port, 'example.org', 'A')).rcode).toBe('SERVFAIL');
    const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(await askUdp(p.port, '', 'A', garbage)).toMatchObject({ id: 0x1234, rcode: 'FORMERR' });
    expect(data(await askUdp(p.port, 'reviews', 'A'))).toEqual(['240.240.0.7']);
  });

  it('reads the resolvers from resolv.conf', () => {
    const dir = tempDir('bowline-dns-');
    writeFileSync(join(dir, 'resolv.conf'), '# x\nsearch corp.example\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:2\n');
    expect(resolvConfUpstreams(join(dir, 'resolv.conf'))).toEqual([{ host: '10.0.0.2', port: 53 }, { host: 'fe80::1', port: 53 }]);
    expect(resolvConfUpstreams(join(dir, 'missing'))).toEqual([]);
  });
});
