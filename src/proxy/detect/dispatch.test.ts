// A connection still in protocol detection when its listener drains. As Envoy's filter chain update (which drains the
// connections owned by the chains that went), a connection with no chain yet is matched against the listener's new
// chains once its first bytes come: a plaintext client of a port that turned STRICT is refused, not served under the
// old plaintext chain for as long as it keeps the connection. A listener that goes away drains it.
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../proxy-config/types.js';
import { startProxy, type RunningProxy } from '../proxy.js';
import { oneRouteConfig } from '../sample-config.js';

const upstreams: Server[] = [];
let portA = 0;
let portB = 0;

/** An upstream answering every request with `body`. */
async function upstream(body: string): Promise<number> {
  const s = createServer((req, res) => { req.resume(); res.end(body); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  upstreams.push(s);
  return (s.address() as { port: number }).port;
}

beforeAll(async () => { portA = await upstream('A'); portB = await upstream('B'); });
afterAll(async () => { for (const s of upstreams) { s.closeAllConnections(); await new Promise<void>((r) => s.close(() => r())); } });

/** A client connection that records what it reads and when it closes. */
interface Client { socket: Socket; out(): string; closed: Promise<void> }

/**
 * A connection to `port` that has sent nothing yet, accepted by the proxy (so in protocol detection: the listener has no
 * TCP chain, it waits for the first bytes). The listener accepts in order: once a second connection opened after it has
 * its response, this one was accepted.
 */
async function detecting(port: number): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  let out = '';
  socket.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const probe = connect(port, '127.0.0.1');
  probe.resume();
  probe.write('GET /probe HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
  await new Promise<void>((r) => probe.on('close', () => r()));
  return { socket, out: () => out, closed };
}

/** v1: the sample outbound listener, one HTTP chain `http` (any transport) routing to upstream A. */
const v1 = (): ProxyConfig => oneRouteConfig(portA);

async function withProxy(run: (p: RunningProxy, port: number) => Promise<void>): Promise<void> {
  const p = await startProxy({ config: v1(), adminPort: 0, admin: false, log: () => {} });
  try { await run(p, p.ports.listeners.outbound!); } finally { await p.close(); }
}

describe('a listener drain while a connection is still in protocol detection', () => {
  it('matches the connection against the new chains: a plaintext client of a port that turned STRICT is refused', async () => {
    await withProxy(async (p, port) => {
      const c = await detecting(port);
      // As PERMISSIVE -> STRICT: the plaintext chain goes, only a chain for TLS connections stays.
      await p.applyConfig(oneRouteConfig(portA, (cfg) => {
        cfg.version = 'v2';
        cfg.listeners[0]!.filterChains = [{ name: 'tls-only', match: { transportProtocol: 'tls' }, http: { routeConfig: 'r' } }];
      }));
      c.socket.write('GET /a HTTP/1.1\r\nhost: a\r\n\r\n');
      await c.closed;
      expect(c.out()).toBe('');
      expect(p.stats.noFilterChainMatch).toBe(1);
    });
  });

  it('serves the connection under the chain the new config gives it (its routes, kept alive), not the one it had', async () => {
    await withProxy(async (p, port) => {
      const c = await detecting(port);
      // The chain `http` now takes TLS connections only; plaintext goes to `http-v2`, routed to upstream B.
      await p.applyConfig(oneRouteConfig(portA, (cfg) => {
        cfg.version = 'v2';
        cfg.listeners[0]!.filterChains = [
          { name: 'http', match: { transportProtocol: 'tls' }, http: { routeConfig: 'r', acceptAbsoluteForm: true } },
          { name: 'http-v2', http: { routeConfig: 'r2', acceptAbsoluteForm: true } },
        ];
        cfg.routes.push({ name: 'r2', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ name: 'default', route: { destinations: [{ cluster: 'up2', weight: 100 }] } }] }] });
        cfg.clusters.push({ name: 'up2', discovery: 'eds', protocol: 'http1' });
        cfg.endpoints.push({ cluster: 'up2', endpoints: [{ address: '127.0.0.1', port: portB }] });
      }));
      c.socket.write('GET /a HTTP/1.1\r\nhost: a\r\n\r\n');
      await waitForText(c, /\r\n\r\n[AB]$/);
      expect(c.out()).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nB$/);
      expect(c.out()).not.toMatch(/connection: close/i);
      c.socket.destroy();
    });
  });

  it('drains the connection when its listener goes away: it closes instead of being served for as long as it is kept', async () => {
    await withProxy(async (p, port) => {
      const c = await detecting(port);
      await p.applyConfig(oneRouteConfig(portA, (cfg) => { cfg.version = 'v2'; cfg.listeners[0]!.name = 'outbound-v2'; }));
      c.socket.write('GET /a HTTP/1.1\r\nhost: a\r\n\r\n');
      await c.closed;
      // No response, or one that closes the connection; never a keep-alive one.
      expect(c.out()).toMatch(/^$|connection: close\r\n/);
    });
  });
});

/** Resolves once the client has read text matching `re` (or closed without it: then the expectation fails). */
async function waitForText(c: Client, re: RegExp): Promise<void> {
  let done = false;
  const closed = c.closed.then(() => { done = true; });
  while (!done && !re.test(c.out())) await Promise.race([closed, new Promise<void>((r) => c.socket.once('data', () => r()))]);
  expect(c.out()).toMatch(re);
}
