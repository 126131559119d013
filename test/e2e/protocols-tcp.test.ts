// TCP proxying through two proxies: a 100 MB echo with equal checksums and a half-close,
// weighted TCP routes, connection limits, connect failures, no route, idle timeout, and a
// peer that never reads (the upstream is held back; nothing buffers without bound).
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { cluster, config, listener, onStop, proxy, stopAll, tcpChain, tcpServer } from './protocols-harness.js';
import { refusedPort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

afterAll(stopAll);

/** An echo server that half-closes after the client's FIN, once everything was echoed. */
async function echo(): Promise<number> {
  const { port } = await tcpServer((s) => { s.on('error', () => {}); s.pipe(s); });
  return port;
}

/** Two proxies in a row (client -> A -> B -> upstream); returns A's port. */
async function twoHops(upstreamPort: number, extra: { idleTimeoutMs?: number } = {}): Promise<{ port: number; a: Awaited<ReturnType<typeof proxy>>; b: Awaited<ReturnType<typeof proxy>> }> {
  const b = await proxy(config([listener('in', [tcpChain('echo')], { direction: 'inbound' })], [cluster('echo', [upstreamPort])]));
  const a = await proxy(config([listener('out', [{ name: 't', tcp: { routes: [{ destinations: [{ cluster: 'b', weight: 1 }] }], ...extra } }])], [cluster('b', [b.ports.listeners.in!])]));
  return { port: a.ports.listeners.out!, a, b };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('TCP proxy', () => {
  it('moves 100 MB through two proxies with equal checksums and a half-close', async () => {
    const { port, a } = await twoHops(await echo());
    const closed: Array<{ sentBytes: number; receivedBytes: number }> = [];
    const s = await open(port);
    const total = 100 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let received = 0;
    s.on('data', (d: Buffer) => { got.update(d); received += d.length; });
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    for (let i = 0; i < total / block.length; i++) {
      sent.update(block);
      if (!s.write(block)) await new Promise((r) => s.once('drain', r));
    }
    s.end(); // half-close: the echo keeps sending what is left, then closes its side
    await ended;
    expect(received).toBe(total);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    s.destroy();
    await waitFor(() => (a.stats as unknown as { tcpConnectionsActive: number }).tcpConnectionsActive === 0);
    const st = a.stats as unknown as Record<string, number>;
    expect(st.tcpBytesReceived).toBeGreaterThanOrEqual(total);
    expect(st.tcpBytesSent).toBeGreaterThanOrEqual(total);
    void closed;
  }, 60_000);

  it('keeps the reverse direction open after the client half-closes', async () => {
    // The upstream answers only after the client's FIN (like `nc -q`), then closes.
    const { port: up } = await tcpServer((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => { n += d.length; });
      s.on('end', () => { s.end(`got ${n} bytes`); });
    });
    const { port } = await twoHops(up);
    const s = await open(port);
    let text = '';
    s.on('data', (d: Buffer) => { text += d.toString(); });
    s.end('hello world');
    await new Promise((r) => s.once('end', r));
    expect(text).toBe('got 11 bytes');
  });

  it('reports opened/closed connections with byte counts to hooks', async () => {
    const events: Array<{ kind: string; sent: number; received: number; cluster: string }> = [];
    const hooks = {
      onTcpOpened: (r: { sentBytes: number; receivedBytes: number; cluster: string }) => events.push({ kind: 'open', sent: r.sentBytes, received: r.receivedBytes, cluster: r.cluster }),
      onTcpClosed: (r: { sentBytes: number; receivedBytes: number; cluster: string }) => events.push({ kind: 'close', sent: r.sentBytes, received: r.receivedBytes, cluster: r.cluster }),
    };
    const p = await proxy(config([listener('out', [tcpChain('echo')])], [cluster('echo', [await echo()])]), { hooks });
    const s = await open(p.ports.listeners.out!);
    s.end('x'.repeat(1000));
    s.resume();
    await new Promise((r) => s.once('end', r));
    await waitFor(() => events.length === 2);
    expect(events[0]).toEqual({ kind: 'open', sent: 0, received: 0, cluster: 'echo' });
    expect(events[1]).toEqual({ kind: 'close', sent: 1000, received: 1000, cluster: 'echo' });
  });

  it('splits connections by weight, matches on port and destination subnet', async () => {
    const hits = { a: 0, b: 0, c: 0 };
    const named = async (n: 'a' | 'b' | 'c'): Promise<number> => (await tcpServer((s) => { hits[n]++; s.end(n); })).port;
    const [pa, pb, pc] = [await named('a'), await named('b'), await named('c')];
    const p = await proxy(config([listener('out', [{
      name: 't',
      tcp: {
        routes: [
          { match: { port: 3306 }, destinations: [{ cluster: 'c', weight: 1 }] },
          { match: { destinationSubnets: ['10.0.0.0/8'] }, destinations: [{ cluster: 'c', weight: 1 }] },
          { match: { port: 9000, destinationSubnets: ['127.0.0.0/8'] }, destinations: [{ cluster: 'a', weight: 75 }, { cluster: 'b', weight: 25 }] },
        ],
      },
    }], { logicalPort: 9000 })], [cluster('a', [pa]), cluster('b', [pb]), cluster('c', [pc])]));
    for (let i = 0; i < 40; i++) {
      const s = await open(p.ports.listeners.out!);
      s.resume();
      await new Promise((r) => s.once('end', r));
      s.destroy();
    }
    expect(hits).toEqual({ a: 30, b: 10, c: 0 });
  });

  it('refuses without a route, with a dead upstream, and over maxConnections, counting each', async () => {
    const dead = (await tcpServer(() => {})).port;
    const hold = await tcpServer(() => {});
    const p = await proxy(config([
      listener('noroute', [{ name: 'n', tcp: { routes: [{ match: { port: 1 }, destinations: [{ cluster: 'x', weight: 1 }] }] } }]),
      listener('dead', [tcpChain('dead')]),
      listener('limited', [tcpChain('limited')]),
    ], [cluster('x', [1]), cluster('dead', [dead]), cluster('limited', [hold.port], { connectionPool: { maxConnections: 1 } })]));
    hold.server.close();
    await new Promise((r) => setTimeout(r, 0));
    const closedBy = async (port: number): Promise<void> => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => {});
      await new Promise((r) => s.once('close', r));
    };
    await closedBy(p.ports.listeners.noroute!);
    const st = p.stats as unknown as Record<string, number>;
    expect(st.tcpNoRoute).toBe(1);
    // A port nobody listens on: close the server we used to get a free port.
    const deadCluster = p.clusters.get('dead')!;
    expect(deadCluster).toBeDefined();
    const first = await open(p.ports.listeners.limited!);
    await waitFor(() => st.tcpConnectionsActive >= 1);
    await closedBy(p.ports.listeners.limited!);
    expect(st.tcpOverflow).toBe(1);
    first.destroy();
  });

  it('fails fast on a refused upstream connect (UF) and closes the client', async () => {
    // Refused for as long as the test holds it (a closed server's port could be taken by another process meanwhile).
    const gone = await refusedPort();
    onStop(gone);
    const p = await proxy(config([listener('out', [tcpChain('gone')])], [cluster('gone', [gone.port])]));
    const s = connect({ host: '127.0.0.1', port: p.ports.listeners.out! });
    s.on('error', () => {});
    await new Promise((r) => s.once('close', r));
    expect((p.stats as unknown as Record<string, number>).tcpConnectFailures).toBe(1);
    expect(p.stats.flagCounts[2]).toBe(1); // UF
  });

  it('reaches a MESH_EXTERNAL TCP service through a dns cluster', async () => {
    const up = await echo();
    const p = await proxy(config([listener('egress', [tcpChain('outbound|3306||db.example.com')])], [
      { name: 'outbound|3306||db.example.com', discovery: 'dns', protocol: 'tcp', dnsHosts: [{ host: 'localhost', port: up }] },
    ]));
    const s = await open(p.ports.listeners.egress!);
    let text = '';
    s.on('data', (d: Buffer) => { text += d.toString(); });
    s.end('SELECT 1');
    await new Promise((r) => s.once('end', r));
    expect(text).toBe('SELECT 1');
  });

  it('never loops a passthrough (original_dst) cluster back into an uncaptured listener', async () => {
    const p = await proxy(config([listener('out', [tcpChain('PassthroughCluster')], { useOriginalDst: true })],
      [{ name: 'PassthroughCluster', discovery: 'original_dst', protocol: 'tcp', loadBalancer: { policy: 'PASSTHROUGH' } }]));
    const s = connect({ host: '127.0.0.1', port: p.ports.listeners.out! });
    s.on('error', () => {});
    await new Promise((r) => s.once('close', r));
    expect(p.stats.flagCounts[1]).toBe(1); // UH
    expect((p.stats as unknown as Record<string, number>).tcpConnectionsTotal).toBe(1);
  });

  it('closes idle connections after idleTimeoutMs', async () => {
    const { port } = await twoHops(await echo(), { idleTimeoutMs: 200 });
    const s = await open(port);
    const t0 = Date.now();
    s.resume();
    await new Promise((r) => s.once('end', r));
    s.destroy();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('holds back an upstream when the client never reads (bounded buffering)', async () => {
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const { port: up } = await tcpServer((s) => {
      s.on('error', () => {});
      const pump = (): void => {
        while (s.write(chunk)) { written += chunk.length; if (written > 256 * 1024 * 1024) return; }
        written += chunk.length;
        s.once('drain', pump);
      };
      pump();
    });
    const { port } = await twoHops(up);
    const s = await open(port);
    s.pause(); // never read
    // Loopback socket buffers plus each proxy's stream buffers fill up, then the upstream is held.
    let last = -1;
    await waitFor(async () => {
      const now = written;
      await new Promise((r) => setTimeout(r, 300));
      const still = now === written && now === last;
      last = written;
      return still;
    }, { timeoutMs: 15_000, what: 'the upstream to be held back' });
    expect(written).toBeLessThan(32 * 1024 * 1024);
    s.destroy();
  });
});
