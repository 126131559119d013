// Request heads that arrive slowly: a head trickled in tiny chunks is parsed a bounded number of
// times (not once per chunk: that was O(n^2) for a 60 KiB head), and a head that does not complete
// within requestHeadersTimeoutMs gets 408 and a close even when bytes keep arriving (slowloris).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ProxyConfig } from '../../proxy-config/types.js';
import type { HttpListenerRuntime, ListenerSlot, ProxyContext } from '../context.js';
import { oneRouteConfig } from '../sample-config.js';
import { startProxy, type RunningProxy } from '../proxy.js';
import { compileListeners } from '../listeners.js';
import { waitFor } from '../../../test/support/wait.js';
import { ManualTimers } from '../../../test/support/manual-timers.js';
import { ProxyStats } from '../stats.js';
import type { ProxyTimers } from '../timers.js';
import { Downstream } from './downstream.js';
import { IdleSweep } from './idle-sweep.js';
import { deliverRead } from './socket-read.js';
import { EOH_FOUND, EOH_NONE, scanHeadEnd } from './head-end.js';
import { KeptRequest } from '../exchange/kept-request.js';

const parses = vi.hoisted(() => ({ n: 0 }));
vi.mock('./request-head.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('./request-head.js')>();
  return { ...m, parseRequestHead: (...a: Parameters<typeof m.parseRequestHead>) => { parses.n++; return m.parseRequestHead(...a); } };
});

/** A request head of about `size` bytes: many short headers, ending with the empty line. */
function bigHead(size: number): Buffer {
  let s = 'GET /slow HTTP/1.1\r\nhost: example\r\n';
  for (let i = 0; s.length < size - 40; i++) s += `x-h${i}: ${'v'.repeat(20)}\r\n`;
  return Buffer.from(s + 'connection: close\r\n\r\n', 'latin1');
}

describe('end-of-head scanner', () => {
  it('finds CRLF CRLF, LF LF and LF CR LF across chunk boundaries, one byte at a time', () => {
    for (const text of ['GET / HTTP/1.1\r\nhost: a\r\n\r\n', 'GET / HTTP/1.1\nhost: a\n\n', 'a\n\r\n']) {
      const b = Buffer.from(text, 'latin1');
      let s = EOH_NONE;
      let at = -1;
      for (let i = 0; i < b.length && at < 0; i++) if ((s = scanHeadEnd(b.subarray(i, i + 1), s)) === EOH_FOUND) at = i + 1;
      expect(at).toBe(b.length);
      expect(scanHeadEnd(b, EOH_NONE)).toBe(EOH_FOUND);
    }
    expect(scanHeadEnd(Buffer.from('GET / HTTP/1.1\r\nhost: a\r\n\r', 'latin1'), EOH_NONE)).not.toBe(EOH_FOUND);
    expect(scanHeadEnd(Buffer.from('\r\nx\r\ny\r\n', 'latin1'), EOH_NONE)).not.toBe(EOH_FOUND);
  });
});

describe('a head trickled one byte at a time', () => {
  let server: ReturnType<typeof createNetServer>;
  let port = 0;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    server = createNetServer((s) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => { for (const s of accepted) s.destroy(); server.close(() => r()); }));

  /** Feeds `head` to a Downstream on a real accepted socket, one byte per 'data' event; returns the client's bytes and the parse count. */
  async function trickle(head: Buffer): Promise<{ reply: string; parses: number; cpuMs: number }> {
    const client = connect(port, '127.0.0.1');
    let reply = '';
    client.on('data', (d) => { reply += d.toString('latin1'); });
    const closed = new Promise<void>((r) => client.on('close', () => r()));
    while (accepted.length === 0) await new Promise((r) => setImmediate(r));
    const sock = accepted.shift()!;
    const stats = new ProxyStats();
    const lst: HttpListenerRuntime = {
      name: 'l', direction: 'outbound', logicalPort: 80, routes: undefined, maxRequestHeadersBytes: 64 * 1024,
      acceptAbsoluteForm: false, generateRequestId: false, idleTimeoutMs: 0, requestHeadersTimeoutMs: 60_000, pathNormalization: 'BASE', scheme: 'http', version: 'v',
    };
    const slot: ListenerSlot = { current: lst };
    const ctx = { stats, hooks: {}, kept: new KeptRequest(), random: Math.random, log: () => {}, draining: false } as unknown as ProxyContext;
    sock.removeAllListeners('data');
    const d = new Downstream(sock, slot, ctx, () => {});
    parses.n = 0;
    const t0 = process.cpuUsage();
    for (let i = 0; i < head.length; i++) feed(sock, head.subarray(i, i + 1));
    const cpu = process.cpuUsage(t0);
    const n = parses.n;
    await closed;
    expect(d.busy).toBe(false);
    return { reply, parses: n, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  it('parses a 60 KiB head a bounded number of times and answers it', async () => {
    const small = await trickle(bigHead(10 * 1024));
    const large = await trickle(bigHead(60 * 1024));
    // Routed nowhere (no route table): 404 NR proves the whole head was parsed.
    expect(large.reply).toMatch(/^HTTP\/1\.1 404 /);
    expect(small.parses).toBeLessThanOrEqual(3);
    expect(large.parses).toBeLessThanOrEqual(3);
    // Linear, not quadratic: 6x the bytes may cost at most a generous multiple of 6x the time.
    expect(large.cpuMs).toBeLessThan(Math.max(small.cpuMs, 5) * 20);
  });

  it('still refuses a malformed head that arrived in pieces (400 at its end)', async () => {
    const r = await trickle(Buffer.from('GET / HTTP/1.1\r\nhost: a\n\n', 'latin1'));
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 [\s\S]*BOWLINE_E_HTTP_BARE_LF/);
  });

  it('refuses a trickled head over the size limit without waiting for its end', async () => {
    const r = await trickle(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nhost: a\r\nx: '), Buffer.alloc(70 * 1024, 97)]));
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 [\s\S]*BOWLINE_E_HTTP_HEAD_TOO_LARGE/);
    expect(r.parses).toBeLessThanOrEqual(3);
  });
});

/** One read of `bytes` on a Downstream's socket, as the kernel would deliver it (socket-read.ts; a socket reading `data` events gets one). */
function feed(sock: Socket, bytes: Buffer): void {
  if (!deliverRead(sock, bytes)) sock.emit('data', bytes);
}

/** A Downstream (no route table) on a real accepted loopback socket, its timers `timers`; the test feeds it reads (`feed`). */
async function downstreamOn(requestHeadersTimeoutMs: number, timers: ProxyTimers): Promise<{ sock: Socket; stats: ProxyStats; reply: () => string; closed: Promise<void> }> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  let reply = '';
  client.on('data', (d) => { reply += d.toString('latin1'); });
  client.on('error', () => {});
  const closed = new Promise<void>((r) => client.on('close', () => { server.close(); r(); }));
  const sock = await accepted;
  const stats = new ProxyStats();
  const lst: HttpListenerRuntime = {
    name: 'l', direction: 'outbound', logicalPort: 80, routes: undefined, maxRequestHeadersBytes: 64 * 1024,
    acceptAbsoluteForm: false, generateRequestId: false, idleTimeoutMs: 0, requestHeadersTimeoutMs, pathNormalization: 'BASE', scheme: 'http', version: 'v',
  };
  const ctx = { stats, hooks: {}, kept: new KeptRequest(), random: Math.random, log: () => {}, draining: false, timers } as unknown as ProxyContext;
  sock.removeAllListeners('data');
  new Downstream(sock, { current: lst }, ctx, () => {});
  return { sock, stats, reply: () => reply, closed };
}

describe('request headers timeout', () => {
  let upstream: Server;
  let upPort = 0;
  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res: ServerResponse) => { req.resume(); req.on('end', () => res.end('ok:' + req.url)); });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upPort = (upstream.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));
  const proxies: RunningProxy[] = [];
  afterEach(async () => { for (const p of proxies.splice(0)) await p.close(); });

  async function proxy(timeoutMs: number | undefined, timers?: ProxyTimers): Promise<{ p: RunningProxy; port: number }> {
    const patch = (c: ProxyConfig): void => { if (timeoutMs !== undefined) c.listeners[0]!.filterChains[0]!.http!.requestHeadersTimeoutMs = timeoutMs; };
    const p = await startProxy({ config: oneRouteConfig(upPort, patch), adminPort: 0, log: () => {}, ...(timers ? { timers } : {}) });
    proxies.push(p);
    return { p, port: p.ports.listeners.outbound! };
  }

  it('answers 408 and closes when a head trickles in slower than the timeout, though bytes keep coming', async () => {
    // A Downstream on a real accepted socket, fed synchronously, with timers only the test moves: no wall clock involved.
    const timers = new ManualTimers();
    const { sock, stats, reply, closed } = await downstreamOn(300, timers);
    feed(sock, Buffer.from('GET /slow HTTP/1.1\r\nhost: a\r\n', 'latin1'));
    expect(timers.pending).toBe(1);
    // One header byte every 20 ms for 280 ms: the connection is never idle, and the deadline does not move.
    for (let i = 0; i < 14; i++) { timers.advance(20); feed(sock, Buffer.from('x')); }
    timers.advance(19);
    expect(stats.downstreamHeadersTimeouts).toBe(0);
    expect(sock.destroyed || sock.writableEnded).toBe(false);
    timers.advance(1);
    expect(stats.downstreamHeadersTimeouts).toBe(1);
    await closed;
    expect(reply()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*connection: close[\s\S]*BOWLINE_E_HTTP_HEADERS_TIMEOUT/);
  });

  it('does not touch a keep-alive connection that is idle between requests, nor a head that completes in time', async () => {
    const timers = new ManualTimers();
    const { p, port } = await proxy(200, timers);
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => { out += d.toString('latin1'); });
    // A head in two pieces: the first starts the headers timer, the second completes the head and stops it.
    s.write('GET /one HTTP/1.1\r\nhost: a\r\n');
    await waitFor(() => timers.pending === 1, { what: 'headers timer started' });
    s.write('\r\n');
    await waitFor(() => out.includes('ok:/one'), { what: 'first response' });
    expect(timers.pending).toBe(0);
    // Idle for twice the headers timeout: nothing is due, the connection stays open and serves the next request.
    timers.advance(400);
    expect(s.destroyed).toBe(false);
    s.write('GET /two HTTP/1.1\r\nhost: a\r\n\r\n');
    await waitFor(() => out.includes('ok:/two'), { what: 'second response' });
    expect(out).not.toContain('408');
    expect(p.stats.downstreamHeadersTimeouts).toBe(0);
    s.destroy();
  });

  it('is 10 s by default and refused when negative', async () => {
    const { p } = await proxy(undefined);
    expect(compileListeners(oneRouteConfig(upPort)).get('outbound')!.runtime.requestHeadersTimeoutMs).toBe(10_000);
    await expect(p.applyConfig(oneRouteConfig(upPort, (c) => { c.listeners[0]!.filterChains[0]!.http!.requestHeadersTimeoutMs = -1; }))).rejects.toThrow(/requestHeadersTimeoutMs/);
  });
});


describe('response writes', () => {
  let server: ReturnType<typeof createNetServer>;
  let port = 0;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    server = createNetServer((s) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => { for (const s of accepted) s.destroy(); server.close(() => r()); }));

  /** A Downstream on a real accepted socket; `writes` counts the socket writes it makes, `received` what the client got. */
  async function pair(): Promise<{ d: Downstream; writes: () => number; received: (n: number) => Promise<string>; client: Socket }> {
    const client = connect(port, '127.0.0.1');
    let got = '';
    client.on('data', (b) => { got += b.toString('latin1'); });
    while (accepted.length === 0) await new Promise((r) => setImmediate(r));
    const sock = accepted.shift()!;
    const lst = { name: 'l', direction: 'outbound', idleTimeoutMs: 0, maxRequestHeadersBytes: 65536, requestHeadersTimeoutMs: 0 } as unknown as HttpListenerRuntime;
    const ctx = { stats: new ProxyStats(), hooks: {}, kept: new KeptRequest(), log: () => {}, draining: false } as unknown as ProxyContext;
    const d = new Downstream(sock, { current: lst }, ctx, () => {});
    // Writes counted where they reach the socket's handle (one write system call each), whether through node's Writable or straight.
    let n = 0;
    const handle = (sock as unknown as { _handle: Record<string, (...a: unknown[]) => number> })._handle;
    for (const m of ['writeBuffer', 'writev', 'writeLatin1String', 'writeUtf8String', 'writeAsciiString', 'writeUcs2String']) {
      const f = handle[m]!.bind(handle);
      handle[m] = (...a) => { n++; return f(...a); };
    }
    return { d, client, writes: () => n, received: async (len) => { await waitFor(() => got.length >= len); return got; } };
  }

  it('sends a head and its body written in one turn as one write at the end of the turn, bytes in order', async () => {
    const { d, writes, received, client } = await pair();
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n';
    expect(d.write(head)).toBe(true);
    expect(d.write(Buffer.from('hel'))).toBe(true);
    expect(d.write(Buffer.from('lo'))).toBe(true);
    expect(writes()).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(writes()).toBe(1);
    expect(await received(head.length + 5)).toBe(head + 'hello');
    client.destroy();
  });

  it('writes through once the batch of a turn would pass 16 KiB, after what was held, so backpressure is never hidden', async () => {
    const { d, writes, received, client } = await pair();
    const big = Buffer.alloc(20_000, 0x61);
    d.write('HTTP/1.1 200 OK\r\ncontent-length: 20002\r\n\r\n');
    expect(writes()).toBe(0);
    d.write(big);
    expect(writes()).toBe(2);
    d.write('bb');
    await new Promise((r) => setImmediate(r));
    expect(writes()).toBe(3);
    const all = await received(20_002 + 41);
    expect(all.endsWith('a'.repeat(100) + 'bb')).toBe(true);
    client.destroy();
  });
});

describe('reading below node streams', () => {
  it('serves the bytes protocol detection read and gave back, then the next request read through the shared buffer', async () => {
    const server = createNetServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    let got = '';
    client.on('data', (b) => { got += b.toString('latin1'); });
    const sock = await accepted;
    // What detect/dispatch.ts does: read the first bytes as 'data', pause, give them back.
    client.write('GET /first HTTP/1.1\r\nhost: a\r\n\r\n');
    const first = await new Promise<Buffer>((r) => sock.once('data', r));
    sock.pause();
    sock.unshift(first);
    const lst = { name: 'l', direction: 'outbound', logicalPort: 80, routes: undefined, idleTimeoutMs: 0, maxRequestHeadersBytes: 65536, requestHeadersTimeoutMs: 0, pathNormalization: 'BASE', scheme: 'http' } as unknown as HttpListenerRuntime;
    const stats = new ProxyStats();
    const ctx = { stats, hooks: {}, kept: new KeptRequest(), log: () => {}, draining: false } as unknown as ProxyContext;
    new Downstream(sock, { current: lst }, ctx, () => {});
    sock.resume();
    await waitFor(() => stats.requestsTotal === 1 && /\r\n\r\n/.test(got));
    expect(got).toMatch(/^HTTP\/1\.1 404 /);
    client.write('GET /second HTTP/1.1\r\nhost: a\r\n\r\n');
    await waitFor(() => stats.requestsTotal === 2 && got.split('HTTP/1.1 404').length === 3);
    client.destroy();
    server.close();
  });
});

describe('idle keep-alive connections', () => {
  it('are closed by the idle sweep once idle for idleTimeoutMs after their last request, never earlier', async () => {
    const server = createNetServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    let got = '';
    client.on('data', (b) => { got += b.toString('latin1'); });
    const closed = new Promise<void>((r) => client.on('close', () => r()));
    const sock = await accepted;
    // The sweep's clock moves by hand: `tick` is its interval, `now` its time.
    let now = 1000;
    let tick: (() => void) | undefined;
    let period = 0;
    const sweep = new IdleSweep({ now: () => now, every: (fn, ms) => { tick = fn; period = ms; return 1; }, cancel: () => { tick = undefined; } });
    const lst = { name: 'l', direction: 'outbound', logicalPort: 80, routes: undefined, idleTimeoutMs: 60, maxRequestHeadersBytes: 65536, requestHeadersTimeoutMs: 0, pathNormalization: 'BASE', scheme: 'http' } as unknown as HttpListenerRuntime;
    const stats = new ProxyStats();
    const ctx = { stats, hooks: {}, kept: new KeptRequest(), log: () => {}, draining: false, idleSweep: sweep } as unknown as ProxyContext;
    new Downstream(sock, { current: lst }, ctx, () => {});
    expect(period).toBe(15); // idleTimeoutMs / 4
    client.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    await waitFor(() => /^HTTP\/1\.1 404 [\s\S]*\r\n\r\n/.test(got));
    // The first sweep after the request starts the idle period; 59 ms of it later the connection is still open.
    now += 15; tick!();
    for (const step of [15, 15, 15, 14]) { now += step; tick!(); expect(sock.destroyed).toBe(false); }
    // A new request restarts the idle period.
    client.write('GET /again HTTP/1.1\r\nhost: a\r\n\r\n');
    await waitFor(() => stats.requestsTotal === 2 && got.split('HTTP/1.1 404').length === 3);
    now += 15; tick!();
    now += 59; tick!();
    expect(sock.destroyed).toBe(false);
    now += 1; tick!();
    expect(sock.destroyed).toBe(true);
    await closed;
    expect(stats.requestsTotal).toBe(2);
    // Nothing left to watch: the next sweep stops its timer.
    await waitFor(() => sweep.size === 0);
    tick!();
    expect(tick).toBeUndefined();
    server.close();
  });
});

describe('a filter chain change while a request is in flight', () => {
  it('lets the request finish, then closes the connection (connection: close) instead of keeping it under the old chain', async () => {
    let held: ServerResponse | undefined;
    const up = createServer((req: IncomingMessage, res: ServerResponse) => { req.resume(); held = res; });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const upPort = (up.address() as { port: number }).port;
    const p = await startProxy({ config: oneRouteConfig(upPort), adminPort: 0, log: () => {} });
    try {
      const s = connect(p.ports.listeners.outbound!, '127.0.0.1');
      let out = '';
      s.on('data', (d) => { out += d.toString('latin1'); });
      const closed = new Promise<void>((r) => s.on('close', () => r()));
      s.write('GET /a HTTP/1.1\r\nhost: a\r\n\r\n');
      await waitFor(() => held !== undefined);
      // As PERMISSIVE -> STRICT would: the listener's filter chains change under the open connection.
      await p.applyConfig(oneRouteConfig(upPort, (c) => { c.version = 'v2'; c.listeners[0]!.filterChains[0]!.name = 'http-v2'; }));
      held!.end('done');
      await closed;
      expect(out).toMatch(/^HTTP\/1\.1 200 [\s\S]*connection: close\r\n[\s\S]*done$/);
    } finally {
      await p.close();
      up.closeAllConnections();
      await new Promise<void>((r) => up.close(() => r()));
    }
  });
});
