// Ports a bootstrapped proxy picks itself (`--bind-port P=0`, `--outbound-port auto`): bound before
// the hello (so the announcement carries the real port), held, and adopted by the listener the
// control plane configures there; never released in between for another process to take.
import { createServer as createHttpServer, get, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBootstrap, reserveEphemeralPorts } from './bootstrap.js';
import { startProxy, type RunningProxy } from './proxy.js';
import { oneRouteConfig } from './sample-config.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/** Resolves to the bind error code on 127.0.0.1:port, or undefined when it could be bound. */
function bindProblem(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(undefined)));
  });
}

function fetchText(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: 'http://up.example/hello', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('ports a proxy picks itself', () => {
  it('parses --outbound-port auto (sidecars only) and keeps 0 = none', () => {
    const b = parseBootstrap({ server: 'h:1', name: 'r', 'outbound-port': 'auto', 'bind-port': ['9080=0'] });
    expect(b.ephemeralOutbound).toBe(true);
    expect(b.workload.outboundPort).toBeUndefined();
    expect(b.workload.portMap).toEqual({ '9080': 0 });
    expect(parseBootstrap({ server: 'h:1', name: 'r', 'outbound-port': '0' }).workload.outboundPort).toBe(0);
    expect(() => parseBootstrap({ server: 'h:1', name: 'g', gateway: true, 'outbound-port': 'auto' })).toThrow(/gateways have no outbound listener/);
  });

  it('binds them before the hello, announces the bound ports, and holds them until a listener adopts them', async () => {
    const b = parseBootstrap({ server: 'h:1', name: 'reviews-v1', service: ['reviews:9080'], 'app-port': '9081', 'bind-port': ['9080=0', '9443=19443'], 'outbound-port': 'auto' });
    const reserved = await reserveEphemeralPorts(b);
    cleanups.push(() => { for (const s of reserved.values()) s.close(); });
    const inbound = b.workload.portMap!['9080']!;
    const outbound = b.workload.outboundPort!;
    expect(inbound).toBeGreaterThan(0);
    expect(outbound).toBeGreaterThan(0);
    expect(b.workload.portMap!['9443']).toBe(19443); // a fixed mapping is left alone
    expect([...reserved.keys()].sort()).toEqual([`127.0.0.1:${inbound}`, `127.0.0.1:${outbound}`].sort());
    expect(await bindProblem(inbound)).toBe('EADDRINUSE');
    expect(await bindProblem(outbound)).toBe('EADDRINUSE');
  });

  it('a listener configured on a reserved address:port adopts the held socket and serves on it; a refused config gives it back', async () => {
    const upstream: HttpServer = createHttpServer((_req, res) => res.end('from upstream'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => upstream.close(() => r())));
    const upPort = (upstream.address() as { port: number }).port;

    const b = parseBootstrap({ server: 'h:1', name: 'sleep', 'outbound-port': 'auto' });
    const reserved: Map<string, Server> = await reserveEphemeralPorts(b);
    const port = b.workload.outboundPort!;
    const proxy: RunningProxy = await startProxy({ config: oneRouteConfig(upPort, (c) => { c.listeners = []; }), adminPort: 0, log: () => {}, reservedListeners: reserved });
    cleanups.push(() => proxy.close());

    // A config whose second listener cannot be bound is refused: the reserved socket is not lost.
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const takenPort = (taken.address() as { port: number }).port;
    await expect(proxy.applyConfig(oneRouteConfig(upPort, (c) => {
      c.listeners[0]!.port = port;
      c.listeners.push({ ...c.listeners[0]!, name: 'second', port: takenPort });
    }))).rejects.toThrow(/EADDRINUSE/);
    expect(await bindProblem(port)).toBe('EADDRINUSE');

    await proxy.applyConfig(oneRouteConfig(upPort, (c) => { c.listeners[0]!.port = port; }));
    expect(proxy.ports.listeners.outbound).toBe(port);
    expect(await fetchText(port)).toEqual({ status: 200, body: 'from upstream' });
    // The same config again (a re-push) keeps the socket.
    await proxy.applyConfig(oneRouteConfig(upPort, (c) => { c.listeners[0]!.port = port; c.version = 'v2'; }));
    expect(await fetchText(port)).toEqual({ status: 200, body: 'from upstream' });
  });
});
