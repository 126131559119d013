// Graceful drain under load: requests and streams in flight when the drain starts all finish
// (zero failures), HTTP/2 clients get GOAWAY, HTTP/1.1 responses carry `connection: close`,
// new connections are refused; and replacing a listener's config drains the old socket
// without dropping its established connections. A request sent on an idle keep-alive connection
// right after a drain started is answered (connection: close), not reset; a retired listener's
// long-lived TCP connection flows until the drain deadline, then gets a FIN.
import { Agent, request, createServer as httpServer } from 'node:http';
import { connect as h2connect, createServer as h2server } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../src/proxy-config/types.js';
import { waitFor } from '../support/wait.js';
import { cluster, config, listener, onStop, proxy, stopAll, tcpChain, tcpServer } from './protocols-harness.js';

let h1Port = 0;
let h2Port = 0;
/** Requests the upstreams have received (so a test knows they are in flight at the proxy). */
const seen = { h1: 0, h2: 0 };

beforeAll(async () => {
  const h1 = httpServer((req, res) => { seen.h1++; req.resume(); setTimeout(() => res.end('ok ' + req.url), 300); });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  h1Port = (h1.address() as { port: number }).port;
  onStop({ close: () => new Promise<void>((r) => { h1.closeAllConnections(); h1.close(() => r()); }) });
  const h2 = h2server();
  // /hang... is never answered (a stream still in flight at a drain's deadline).
  h2.on('stream', (s, h) => { seen.h2++; s.on('error', () => {}); if (!String(h[':path']).startsWith('/hang')) setTimeout(() => { s.respond({ ':status': 200 }); s.end('ok ' + h[':path']); }, 300); });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  h2Port = (h2.address() as { port: number }).port;
  onStop({ close: () => new Promise<void>((r) => h2.close(() => r())) });
});
afterAll(stopAll);

function cfg(listenAddress = '127.0.0.1'): ProxyConfig {
  const rt = (c: string) => ({ name: 'rt-' + c, virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ route: { destinations: [{ cluster: c, weight: 1 }] } }] }] });
  return config([
    listener('h1', [{ name: 'h', http: { routeConfig: 'rt-h1app', codec: 'http1' } }], { address: listenAddress }),
    listener('h2', [{ name: 'h', http: { routeConfig: 'rt-h2app' } }]),
  ], [cluster('h1app', [h1Port], { protocol: 'http1' }), cluster('h2app', [h2Port], { protocol: 'http2' })], { routes: [rt('h1app'), rt('h2app')] });
}

function h1get(port: number, path: string, agent: Agent): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: b, connection: res.headers.connection }));
    }).on('error', reject).end();
  });
}

function h1getAt(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host, port, path, agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
    }).on('error', reject).end();
  });
}

describe('graceful drain', () => {
  it('finishes every in-flight HTTP/1.1 request and HTTP/2 stream, sends GOAWAY, then refuses', async () => {
    const p = await proxy(cfg());
    // Every request is in flight at the proxy when the drain starts (none queued inside the client).
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    onStop({ close: () => agent.destroy() });
    const session = h2connect(`http://127.0.0.1:${p.ports.listeners.h2!}`);
    onStop({ close: () => session.close() });
    let goaway = false;
    session.on('goaway', () => { goaway = true; });
    const h2get = (path: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const r = session.request({ ':path': path });
      let status = 0;
      let b = '';
      r.on('response', (h) => { status = Number(h[':status']); });
      r.on('data', (d) => { b += d; });
      r.on('end', () => resolve({ status, body: b }));
      r.on('error', reject);
    });
    const h1Port_ = p.ports.listeners.h1!;
    const before = { ...seen };
    const inflight = [
      ...Array.from({ length: 20 }, (_, i) => h1get(h1Port_, `/a${i}`, agent)),
      ...Array.from({ length: 20 }, (_, i) => h2get(`/b${i}`)),
    ];
    // Upstreams answer 300 ms after a request arrives: once all 40 arrived, all are in flight at the proxy.
    await waitFor(() => seen.h1 - before.h1 === 20 && seen.h2 - before.h2 === 20, { timeoutMs: 10_000, what: 'all 40 requests in flight' });
    const t0 = Date.now();
    const drained = p.drain(5000);
    const results = await Promise.all(inflight);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.every((r) => r.body.startsWith('ok /'))).toBe(true);
    expect(results.slice(0, 20).every((r) => (r as { connection?: string }).connection === 'close')).toBe(true);
    expect(goaway).toBe(true);
    await drained;
    expect(Date.now() - t0).toBeLessThan(3000); // finished with the last response, not at the drain deadline
    // 20 HTTP/1.1 connections closed after their connection: close response, and the HTTP/2 one after its GOAWAY.
    expect(p.stats.drainClosed).toBe(21);
    expect(p.stats.drainDeadlineClosed).toBe(0);
    const refused = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: h1Port_ });
      s.on('connect', () => { s.destroy(); resolve(false); });
      s.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it('an HTTP/2 client gets GOAWAY at the drain start and, for streams still in flight at the deadline, their resets and a final GOAWAY with the same last stream id before the close', async () => {
    const p = await proxy(cfg());
    const session = h2connect(`http://127.0.0.1:${p.ports.listeners.h2!}`);
    onStop({ close: () => { session.destroy(); } });
    session.on('error', () => {});
    const goaways: Array<{ code: number; last: number }> = [];
    session.on('goaway', (code, last) => { goaways.push({ code, last }); });
    const closed = new Promise<void>((r) => session.once('close', () => r()));
    const open = (path: string): Promise<number> => new Promise((resolve) => {
      const r = session.request({ ':path': path });
      r.on('error', () => {});
      r.on('response', () => resolve(-1));
      r.on('close', () => resolve(r.rstCode ?? -1));
      r.end();
    });
    const before = seen.h2;
    const streams = [open('/hang1'), open('/hang2')]; // streams 1 and 3
    await waitFor(() => seen.h2 - before === 2, { what: 'both streams at the upstream' });
    const DRAIN_MS = 1000;
    const t0 = Date.now();
    const drained = p.drain(DRAIN_MS);
    await waitFor(() => goaways.length === 1, { what: 'the GOAWAY of the drain start' });
    expect(goaways[0]).toEqual({ code: 0, last: 3 });
    expect(Date.now() - t0).toBeLessThan(DRAIN_MS);
    // The streams stay open until the deadline, then each is reset (CANCEL) and the final GOAWAY comes before the close.
    expect(await Promise.all(streams)).toEqual([8, 8]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DRAIN_MS - 5);
    await closed;
    expect(goaways).toEqual([{ code: 0, last: 3 }, { code: 0, last: 3 }]);
    await drained;
    expect(p.stats.drainDeadlineClosed).toBe(1);
    expect(p.stats.h2StreamsReset).toBe(2);
  });

  it('replacing a listener drains the old socket without dropping its connections', async () => {
    const p = await proxy(cfg());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    onStop({ close: () => agent.destroy() });
    const oldPort = p.ports.listeners.h1!;
    const before = seen.h1;
    const pending = h1get(oldPort, '/during-swap', agent);
    await waitFor(() => seen.h1 > before, { timeoutMs: 10_000, what: 'the request in flight' });
    // A new address (port 0: the kernel picks) replaces the listener's socket.
    await p.applyConfig(cfg('127.0.0.2'));
    const fresh = p.ports.listeners.h1!;
    expect(fresh).not.toBe(oldPort);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body).toBe('ok /during-swap');
    expect((await h1getAt('127.0.0.2', fresh, '/new')).body).toBe('ok /new');
  });

  it('answers a request sent on an idle keep-alive connection right after the drain started, with connection: close', async () => {
    const p = await proxy(cfg());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    onStop({ close: () => agent.destroy() });
    const port = p.ports.listeners.h1!;
    const first = await h1get(port, '/first', agent);
    expect(first.connection).not.toBe('close');
    // The same keep-alive socket carries the next request, written in the turn the drain starts.
    const drained = p.drain(5000);
    const r = await h1get(port, '/right-after', agent);
    expect(r).toEqual({ status: 200, body: 'ok /right-after', connection: 'close' });
    await drained;
    expect(p.stats.drainDeadlineClosed).toBe(0);
  });

  it('counts an idle keep-alive connection a drain closed in /stats drainClosed', async () => {
    const p = await proxy(cfg(), { admin: true });
    const stats = async (): Promise<Record<string, number>> => JSON.parse((await h1getAt('127.0.0.1', p.ports.admin, '/stats')).body) as Record<string, number>;
    const s = netConnect(p.ports.listeners.h1!, '127.0.0.1');
    let text = '';
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('error', () => {});
    const gotClose = new Promise<void>((r) => s.once('close', () => r()));
    s.write('GET /keep HTTP/1.1\r\nhost: a\r\n\r\n');
    await waitFor(() => text.endsWith('ok /keep'), { what: 'the first response' });
    expect(text).not.toMatch(/connection: close/i);
    expect((await stats()).drainClosed).toBe(0);
    // The listener is renamed: the old one drains, and its idle keep-alive connection is closed at the idle grace.
    const renamed = cfg();
    renamed.listeners[0]!.name = 'h1-v2';
    await p.applyConfig(renamed);
    await gotClose;
    const after = await stats();
    expect(after.drainClosed).toBe(1);
    expect(after.drainDeadlineClosed).toBe(0);
  });

  it('closes a retired listener\'s long-lived TCP connection at the drain deadline (mesh.drainDurationMs), not before', async () => {
    const DRAIN_MS = 800;
    const { port: echoPort } = await tcpServer((s) => { s.on('error', () => {}); s.pipe(s); });
    const tcpCfg = (name: string): ProxyConfig => {
      const c = config([listener(name, [tcpChain('echo')])], [cluster('echo', [echoPort])]);
      c.mesh.drainDurationMs = DRAIN_MS;
      return c;
    };
    const p = await proxy(tcpCfg('tcp'));
    const s = netConnect(p.ports.listeners.tcp!, '127.0.0.1');
    let text = '';
    let ended = false;
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('error', () => {});
    const gotEnd = new Promise<void>((r) => s.once('end', () => { ended = true; r(); }));
    const gotClose = new Promise<void>((r) => s.once('close', () => r()));
    s.write('a');
    await waitFor(() => text === 'a', { what: 'the echo' });
    const t0 = Date.now();
    // The listener is renamed: the old one stops accepting and drains.
    await p.applyConfig(tcpCfg('tcp-v2'));
    s.write('b');
    await waitFor(() => text === 'ab' || ended, { what: 'the echo during the drain' });
    expect(text).toBe('ab');
    await gotEnd;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DRAIN_MS - 5);
    expect(p.stats.drainDeadlineClosed).toBe(1);
    s.end();
    await gotClose;
    await waitFor(() => p.stats.tcpConnectionsActive === 0, { what: 'the session gone' });
  });
});
