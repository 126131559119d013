// Drains with a deadline (drain.ts) on real sockets, with timers only the test moves (no wall clock in the assertions):
// a config change that turns a port STRICT leaves a plaintext TCP connection flowing for the drain time, then closes it
// (FIN, then destroyed if the peer does not finish); an HTTP/1.1 keep-alive connection drained while idle answers a
// request sent after the drain started (connection: close) and, left idle, is closed at the idle grace; a request still
// in flight at the deadline is closed then; an HTTP/2 connection gets GOAWAY when the drain starts and, with a stream
// still in flight at the deadline, that stream's RST_STREAM and a final GOAWAY naming the same last stream before the
// FIN. Every drain's timers are gone once its connections are.
import { createServer as httpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FilterChain, ProxyConfig } from '../proxy-config/types.js';
import { waitFor } from '../../test/support/wait.js';
import { ManualTimers } from '../../test/support/manual-timers.js';
import { END_HEADERS, END_STREAM, ERR, frame, opening, requestBlock, T } from '../../test/support/h2-frames.js';
import { DRAIN_GRACE_MS } from './drain.js';
import { startProxy, type RunningProxy } from './proxy.js';
import { oneRouteConfig } from './sample-config.js';

const DRAIN_MS = 3000;
let echo: Server;
let echoPort = 0;
let web: HttpServer;
let webPort = 0;

beforeAll(async () => {
  echo = createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s); });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  // /hang never answers (a request still in flight at the deadline); the rest answer with their path.
  web = httpServer((req, res) => { req.resume(); if (req.url !== '/hang') res.end('ok ' + req.url); });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webPort = (web.address() as { port: number }).port;
});
afterAll(async () => {
  web.closeAllConnections();
  await new Promise<void>((r) => web.close(() => r()));
  await new Promise<void>((r) => echo.close(() => r()));
});

const proxies: RunningProxy[] = [];
afterEach(async () => { for (const p of proxies.splice(0)) await p.close(); });

async function proxy(config: ProxyConfig, timers: ManualTimers): Promise<RunningProxy> {
  const p = await startProxy({ config, admin: false, adminPort: 0, log: () => {}, timers, drainMs: DRAIN_MS });
  proxies.push(p);
  return p;
}

/** Inbound TCP to the echo server: PERMISSIVE (a plaintext and a TLS chain, told apart by the first bytes) or STRICT (TLS only). */
function tcpConfig(mode: 'PERMISSIVE' | 'STRICT'): ProxyConfig {
  const tcp = { routes: [{ destinations: [{ cluster: 'echo', weight: 1 }] }] };
  const chains: FilterChain[] = [{ name: 'mtls', match: { transportProtocol: 'tls' }, tcp }];
  if (mode === 'PERMISSIVE') chains.push({ name: 'plaintext', match: { transportProtocol: 'raw' }, tcp });
  return oneRouteConfig(webPort, (c) => {
    c.version = mode;
    c.listeners = [{ name: 'inbound', address: '127.0.0.1', port: 0, direction: 'inbound', filterChains: chains }];
    c.clusters.push({ name: 'echo', discovery: 'eds', protocol: 'tcp' });
    c.endpoints.push({ cluster: 'echo', endpoints: [{ address: '127.0.0.1', port: echoPort }] });
  });
}

/** A client socket recording what it read, whether the proxy's FIN came, and its close. */
interface Client { s: Socket; text(): string; ended(): boolean; closed(): boolean; gotEnd: Promise<void>; gotClose: Promise<void> }

async function client(port: number, allowHalfOpen = false): Promise<Client> {
  const s = connect({ port, host: '127.0.0.1', allowHalfOpen });
  let text = '';
  let ended = false;
  let closed = false;
  s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  s.on('error', () => {});
  const gotEnd = new Promise<void>((r) => s.once('end', () => { ended = true; r(); }));
  const gotClose = new Promise<void>((r) => s.once('close', () => { closed = true; r(); }));
  await new Promise<void>((r) => s.once('connect', () => r()));
  return { s, text: () => text, ended: () => ended, closed: () => closed, gotEnd, gotClose };
}

/** A few event-loop turns (socket events that were going to come have come). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('a config change drains a TCP proxy connection with a deadline', () => {
  it('PERMISSIVE -> STRICT: an open plaintext connection flows until the drain deadline, then gets a FIN; a new one is refused', async () => {
    const timers = new ManualTimers();
    const p = await proxy(tcpConfig('PERMISSIVE'), timers);
    const port = p.ports.listeners.inbound!;
    const c = await client(port);
    c.s.write('hello ');
    await waitFor(() => c.text() === 'hello ', { what: 'the echo through the plaintext chain' });
    await p.applyConfig(tcpConfig('STRICT'));
    // The drain time: the connection accepted under the plaintext chain still carries bytes.
    timers.advance(DRAIN_MS - 1);
    c.s.write('still ');
    await waitFor(() => c.text() === 'hello still ', { what: 'bytes during the drain' });
    expect(c.ended()).toBe(false);
    expect(p.stats.drainDeadlineClosed).toBe(0);
    timers.advance(1);
    expect(p.stats.drainDeadlineClosed).toBe(1);
    await c.gotEnd;
    c.s.end();
    await c.gotClose;
    await waitFor(() => p.stats.tcpConnectionsActive === 0, { what: 'the session closed' });
    expect(timers.pending).toBe(0);
    // A plaintext client of the port that turned STRICT is refused.
    const fresh = await client(port);
    fresh.s.write('plain');
    await fresh.gotClose;
    expect(fresh.text()).toBe('');
    expect(p.stats.noFilterChainMatch).toBe(1);
  });

  it('destroys a session whose peer does not finish after the FIN, a close grace after the deadline', async () => {
    const timers = new ManualTimers();
    const p = await proxy(tcpConfig('PERMISSIVE'), timers);
    const c = await client(p.ports.listeners.inbound!, true);
    c.s.write('x');
    await waitFor(() => c.text() === 'x', { what: 'the echo' });
    // The listener goes away (renamed): its connections drain.
    await p.applyConfig(oneRouteConfig(webPort, (cfg) => { cfg.version = 'v2'; cfg.listeners[0]!.name = 'other'; }));
    timers.advance(DRAIN_MS);
    await c.gotEnd; // the FIN; this client keeps its own side open
    await settle();
    expect(p.stats.tcpConnectionsActive).toBe(1);
    timers.advance(Math.min(DRAIN_GRACE_MS, DRAIN_MS));
    await waitFor(() => p.stats.tcpConnectionsActive === 0, { what: 'the session destroyed' });
    expect(p.stats.drainDeadlineClosed).toBe(1);
    expect(timers.pending).toBe(0);
    c.s.destroy();
  });

  it('clears the drain timers when the connections finish before the deadline', async () => {
    const timers = new ManualTimers();
    const p = await proxy(tcpConfig('PERMISSIVE'), timers);
    const c = await client(p.ports.listeners.inbound!);
    c.s.write('x');
    await waitFor(() => c.text() === 'x', { what: 'the echo' });
    await p.applyConfig(tcpConfig('STRICT'));
    expect(timers.pending).toBe(1);
    c.s.end();
    await c.gotClose;
    await waitFor(() => timers.pending === 0, { what: 'the drain timer cleared' });
    expect(p.stats.drainDeadlineClosed).toBe(0);
  });
});

/** One HTTP/1.1 request on `c` (keep-alive unless `close`); resolves with the text of its response once complete. */
async function get(c: Client, path: string): Promise<string> {
  const from = c.text().length;
  c.s.write(`GET ${path} HTTP/1.1\r\nhost: a\r\n\r\n`);
  const body = 'ok ' + path;
  await waitFor(() => c.text().slice(from).endsWith(body) || c.closed(), { what: `the response to ${path}` });
  return c.text().slice(from);
}

describe('the drain time of a shutdown and of a config change', () => {
  /** A proxy without a drainMs option: the config's mesh settings decide. */
  async function meshTimed(timers: ManualTimers): Promise<RunningProxy> {
    const cfg = tcpConfig('PERMISSIVE');
    cfg.mesh.drainDurationMs = 30_000;
    cfg.mesh.terminationDrainDurationMs = 2000;
    const p = await startProxy({ config: cfg, admin: false, adminPort: 0, log: () => {}, timers });
    proxies.push(p);
    return p;
  }

  /** A TCP client of the proxy's inbound listener whose first byte came back through it. */
  async function echoing(p: RunningProxy): Promise<Awaited<ReturnType<typeof client>>> {
    const c = await client(p.ports.listeners.inbound!);
    c.s.write('x');
    await waitFor(() => c.text() === 'x', { what: 'the echo' });
    return c;
  }

  /** `c` is still open `ms` - 1 after now, gets its FIN at `ms`, counted as closed at the drain deadline. */
  async function finAt(timers: ManualTimers, p: RunningProxy, c: Awaited<ReturnType<typeof echoing>>, ms: number): Promise<void> {
    timers.advance(ms - 1);
    await settle();
    expect(c.ended()).toBe(false);
    timers.advance(1);
    await c.gotEnd;
    expect(p.stats.drainDeadlineClosed).toBe(1);
    c.s.end();
  }

  it('a shutdown drains for mesh.terminationDrainDurationMs: an open TCP connection gets its FIN then', async () => {
    const timers = new ManualTimers();
    const p = await meshTimed(timers);
    const c = await echoing(p);
    const shutdown = p.drain();
    await finAt(timers, p, c, 2000);
    await shutdown;
  });

  it('a config change drains for mesh.drainDurationMs, not the shutdown time', async () => {
    const timers = new ManualTimers();
    const p = await meshTimed(timers);
    const c = await echoing(p);
    const strict = tcpConfig('STRICT');
    strict.mesh.drainDurationMs = 30_000;
    strict.mesh.terminationDrainDurationMs = 2000;
    await p.applyConfig(strict);
    await finAt(timers, p, c, 30_000);
  });
});

describe('an HTTP/1.1 connection in a drain', () => {
  it('answers a request sent after the drain started with connection: close, then closes', async () => {
    const timers = new ManualTimers();
    const p = await proxy(oneRouteConfig(webPort), timers);
    const c = await client(p.ports.listeners.outbound!);
    expect(await get(c, '/first')).not.toMatch(/connection: close/i);
    // The listener goes away while the keep-alive connection is idle: it is not closed under the client.
    await p.applyConfig(oneRouteConfig(webPort, (cfg) => { cfg.version = 'v2'; cfg.listeners[0]!.name = 'other'; }));
    const r = await get(c, '/after-drain');
    expect(r).toMatch(/^HTTP\/1\.1 200 [^\r]*\r\n(?:[^\r]+\r\n)*connection: close\r\n(?:[^\r]+\r\n)*\r\nok \/after-drain$/i);
    await c.gotClose;
    await waitFor(() => timers.pending === 0, { what: 'the drain finished' });
    expect(p.stats.drainDeadlineClosed).toBe(0);
    expect(p.stats.toJSON().drainClosed).toBe(1);
  });

  it('closes an idle keep-alive connection at the idle grace, and a shutdown then finishes before the drain time', async () => {
    const timers = new ManualTimers();
    const p = await proxy(oneRouteConfig(webPort), timers);
    const c = await client(p.ports.listeners.outbound!);
    await get(c, '/first');
    let drained = false;
    const shutdown = p.drain().then(() => { drained = true; });
    timers.advance(DRAIN_GRACE_MS - 1);
    await settle();
    expect(c.ended()).toBe(false);
    expect(p.stats.drainClosed).toBe(0);
    timers.advance(1);
    await c.gotEnd;
    await shutdown;
    expect(drained).toBe(true);
    expect(c.text()).not.toMatch(/after/);
    expect(p.stats.drainDeadlineClosed).toBe(0);
    expect(p.stats.drainClosed).toBe(1);
  });

  it('closes a connection whose request is still in flight at the deadline', async () => {
    const timers = new ManualTimers();
    const p = await proxy(oneRouteConfig(webPort), timers);
    const c = await client(p.ports.listeners.outbound!);
    c.s.write('GET /hang HTTP/1.1\r\nhost: a\r\n\r\n');
    await waitFor(() => p.stats.upstreamRequestsTotal === 1, { what: 'the request at the upstream' });
    await p.applyConfig(oneRouteConfig(webPort, (cfg) => { cfg.version = 'v2'; cfg.listeners[0]!.name = 'other'; }));
    timers.advance(DRAIN_MS - 1);
    await settle();
    expect(c.closed()).toBe(false);
    timers.advance(1);
    await c.gotClose;
    expect(p.stats.drainDeadlineClosed).toBe(1);
    expect(p.stats.drainClosed).toBe(0);
    expect(c.text()).toBe('');
  });

  it('closes a connection of a retired listener still in protocol detection at the deadline', async () => {
    const timers = new ManualTimers();
    // A chain matched on the transport: the listener reads the first bytes before it picks a codec (no TCP chain: it waits).
    const sniffing = (name: string) => oneRouteConfig(webPort, (cfg) => {
      cfg.version = name;
      cfg.listeners[0]!.name = name;
      cfg.listeners[0]!.filterChains[0]!.match = { transportProtocol: 'raw' };
    });
    const p = await proxy(sniffing('outbound'), timers);
    const c = await client(p.ports.listeners.outbound!);
    // It is accepted (a second connection's answer shows the listener accepted in order), then the listener goes.
    const probe = await client(p.ports.listeners.outbound!);
    await get(probe, '/probe');
    probe.s.end();
    await probe.gotClose;
    await p.applyConfig(sniffing('other'));
    timers.advance(DRAIN_MS - 1);
    await settle();
    expect(c.closed()).toBe(false);
    timers.advance(1);
    await c.gotClose;
    expect(c.text()).toBe('');
    expect(p.stats.drainDeadlineClosed).toBe(1);
  });
});

/** A raw HTTP/2 client: what frames came back (type, stream, error code, GOAWAY's last stream id), in order, and the FIN. */
interface H2Client { s: Socket; frames: Array<{ type: number; stream: number; code: number; last: number }>; ended(): boolean; gotClose: Promise<void> }

async function h2client(port: number): Promise<H2Client> {
  const s = connect({ port, host: '127.0.0.1' });
  const frames: H2Client['frames'] = [];
  let buf = Buffer.alloc(0);
  let ended = false;
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
      const len = buf.readUIntBE(0, 3);
      const type = buf[3]!;
      const p = buf.subarray(9, 9 + len);
      const f = { type, stream: buf.readUInt32BE(5) & 0x7fffffff, code: -1, last: -1 };
      if (type === T.GOAWAY) { f.last = p.readUInt32BE(0) & 0x7fffffff; f.code = p.readUInt32BE(4); }
      if (type === T.RST_STREAM) f.code = p.readUInt32BE(0);
      if (type === T.GOAWAY || type === T.RST_STREAM) frames.push(f);
      buf = buf.subarray(9 + len);
    }
  });
  s.on('error', () => {});
  s.once('end', () => { ended = true; s.end(); });
  const gotClose = new Promise<void>((r) => s.once('close', () => r()));
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(opening());
  return { s, frames, ended: () => ended, gotClose };
}

describe('an HTTP/2 connection in a drain', () => {
  it('gets GOAWAY when the drain starts; at the deadline its stream in flight is reset and a final GOAWAY names the same last stream before the FIN', async () => {
    const timers = new ManualTimers();
    const p = await proxy(oneRouteConfig(webPort), timers);
    const c = await h2client(p.ports.listeners.outbound!);
    c.s.write(frame(T.HEADERS, END_STREAM | END_HEADERS, 1, requestBlock('a', '/hang')));
    await waitFor(() => p.stats.upstreamRequestsTotal === 1, { what: 'stream 1 at the upstream' });
    await p.applyConfig(oneRouteConfig(webPort, (cfg) => { cfg.version = 'v2'; cfg.listeners[0]!.name = 'other'; }));
    await waitFor(() => c.frames.length === 1, { what: 'the GOAWAY of the drain start' });
    expect(c.frames[0]).toEqual({ type: T.GOAWAY, stream: 0, code: ERR.NO_ERROR, last: 1 });
    // A stream the client opens after the GOAWAY is not processed, and does not raise the last stream id.
    c.s.write(frame(T.HEADERS, END_STREAM | END_HEADERS, 3, requestBlock('a', '/late')));
    timers.advance(DRAIN_MS - 1);
    await settle();
    expect(c.frames).toHaveLength(1);
    expect(c.ended()).toBe(false);
    expect(p.stats.upstreamRequestsTotal).toBe(1);
    timers.advance(1);
    await c.gotClose;
    expect(c.frames.slice(1)).toEqual([
      { type: T.RST_STREAM, stream: 1, code: ERR.CANCEL, last: -1 },
      { type: T.GOAWAY, stream: 0, code: ERR.NO_ERROR, last: 1 },
    ]);
    expect(c.ended()).toBe(true); // a FIN after the frames, not a reset
    expect(p.stats.drainDeadlineClosed).toBe(1);
    expect(p.stats.drainClosed).toBe(0);
    await waitFor(() => p.stats.h2SessionsActive === 0 && p.stats.requestsActive === 0, { what: 'the session and its exchange gone' });
    expect(timers.pending).toBe(0);
  });

  it('with no stream in flight, closes at the GOAWAY of the drain start, counted in drainClosed', async () => {
    const timers = new ManualTimers();
    const p = await proxy(oneRouteConfig(webPort), timers);
    const c = await h2client(p.ports.listeners.outbound!);
    await p.applyConfig(oneRouteConfig(webPort, (cfg) => { cfg.version = 'v2'; cfg.listeners[0]!.name = 'other'; }));
    await c.gotClose;
    expect(c.frames).toEqual([{ type: T.GOAWAY, stream: 0, code: ERR.NO_ERROR, last: 0 }]);
    await waitFor(() => p.stats.drainClosed === 1, { what: 'drainClosed' });
    expect(p.stats.drainDeadlineClosed).toBe(0);
  });
});
