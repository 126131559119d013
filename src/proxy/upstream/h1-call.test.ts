// The HTTP/1.1 upstream client on real sockets: framing both ways, keep-alive reuse, a stale
// keep-alive connection, a malformed response, the pool's overflow, and the raw pipe after a 101.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Headers } from '../http/head.js';
import { ProxyStats } from '../stats.js';
import type { CallSink, FailureKind, UpstreamRequest } from './call.js';
import { h1Dispatch } from './h1-call.js';
import { ClusterPool } from './pool.js';

/** An upstream that answers each request with a scripted reply (by path), on raw sockets. */
let server: Server;
let port = 0;
const seen: string[] = [];
const sockets = new Set<Socket>();

function reply(path: string, req: string): string | null {
  if (path === '/echo') {
    const body = req.slice(req.indexOf('\r\n\r\n') + 4);
    return `HTTP/1.1 201 Made\r\ncontent-length: ${body.length}\r\nconnection: x-hop\r\nx-hop: drop-me\r\n\r\n${body}`;
  }
  if (path === '/chunked') return 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
  if (path === '/bad') return 'HTTP/1.1 2x0 Nope\r\n\r\n';
  if (path === '/close') return null;
  if (path === '/upgrade') return 'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nfirst';
  return 'HTTP/1.1 204 No Content\r\n\r\n';
}

beforeAll(async () => {
  server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let buf = '';
    let upgraded = false;
    s.on('data', (d) => {
      if (upgraded) { s.write('echo:' + d.toString('latin1')); return; }
      buf += d.toString('latin1');
      // A request is complete at the end of its head and body (content-length or the last chunk).
      const he = buf.indexOf('\r\n\r\n');
      if (he < 0) return;
      const head = buf.slice(0, he);
      const cl = /content-length: (\d+)/i.exec(head);
      const need = cl ? he + 4 + Number(cl[1]) : /transfer-encoding: chunked/i.test(head) ? buf.indexOf('0\r\n\r\n', he) + 5 : he + 4;
      if ((cl || /chunked/.test(head)) && (need < he + 4 || buf.length < need)) return;
      const req = buf.slice(0, need);
      buf = buf.slice(need);
      seen.push(req);
      const path = req.split(' ')[1]!;
      const r = reply(path, req);
      if (r === null) { s.destroy(); return; }
      if (path === '/upgrade') upgraded = true;
      s.write(r);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));

const ep = () => ({ address: '127.0.0.1', port, key: `127.0.0.1:${port}` }) as never;

function request(path: string, bodyLength = 0, extra: Array<[string, string]> = []): UpstreamRequest {
  const h = new Headers();
  for (const [n, v] of extra) h.add(n, v);
  return { method: 'POST', path, authority: 'svc', headers: h, connectionTokens: null, bodyLength, upgrade: path === '/upgrade' ? 'websocket' : undefined };
}

interface Got { status: number; headers: Headers; reason: string | undefined; body: string; ended: boolean; failure?: [FailureKind, string] }

function collect(): { sink: CallSink; done: Promise<Got>; got: Got; onData?: (s: string) => void } {
  const got: Got = { status: 0, headers: new Headers(), reason: undefined, body: '', ended: false };
  let resolve!: (g: Got) => void;
  const done = new Promise<Got>((r) => { resolve = r; });
  const out: { sink: CallSink; done: Promise<Got>; got: Got; onData?: (s: string) => void } = {
    got, done,
    sink: {
      onResponse(status, headers, _end, reason) { got.status = status; got.headers = headers; got.reason = reason; },
      onData(c) { got.body += c.toString('latin1'); out.onData?.(got.body); return true; },
      onTrailers() {},
      onEnd() { got.ended = true; resolve(got); },
      onFailure(kind, message) { got.failure = [kind, message]; resolve(got); },
    },
  };
  return out;
}

describe('HTTP/1.1 upstream calls on the pooled client', () => {
  it('sends a known-length body, returns the response unframed without Connection-listed fields, and reuses the connection', async () => {
    const pool = new ClusterPool('c', undefined, new ProxyStats());
    const a = collect();
    const call = h1Dispatch(pool, ep(), request('/echo', 5), a.sink);
    expect(call).not.toBe('overflow');
    if (call === 'overflow') return;
    call.write(Buffer.from('hello'));
    call.end();
    const g = await a.done;
    expect(g.status).toBe(201);
    expect(g.reason).toBe('Made');
    expect(g.body).toBe('hello');
    expect(g.headers.get('x-hop')).toBeUndefined();
    expect(g.headers.get('content-length')).toBe('5');
    expect(seen.at(-1)).toMatch(/^POST \/echo HTTP\/1\.1\r\nhost: svc\r\ncontent-length: 5\r\n\r\nhello$/);
    const b = collect();
    const again = h1Dispatch(pool, ep(), request('/none'), b.sink);
    if (again !== 'overflow') again.end();
    expect((await b.done).status).toBe(204);
    expect(pool.open).toBe(1);
    pool.close();
  });

  it('frames an unknown-length body as chunked and decodes a chunked response', async () => {
    const pool = new ClusterPool('c', undefined, new ProxyStats());
    const a = collect();
    const call = h1Dispatch(pool, ep(), request('/chunked', -1), a.sink);
    if (call === 'overflow') throw new Error('overflow');
    call.write(Buffer.from('abc'));
    call.write(Buffer.from('defgh'));
    call.end();
    const g = await a.done;
    expect(g.body).toBe('hello world');
    expect(seen.at(-1)).toContain('transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n');
    pool.close();
  });

  it('reports a malformed response as a protocol failure, and a connection closed before the head as a reset', async () => {
    const pool = new ClusterPool('c', undefined, new ProxyStats());
    const a = collect();
    const c1 = h1Dispatch(pool, ep(), request('/bad'), a.sink);
    if (c1 !== 'overflow') c1.end();
    expect((await a.done).failure?.[0]).toBe('protocol');
    const b = collect();
    const c2 = h1Dispatch(pool, ep(), request('/close'), b.sink);
    if (c2 !== 'overflow') c2.end();
    expect((await b.done).failure?.[0]).toBe('reset');
    pool.close();
  });

  it('says `stale` when a reused keep-alive connection closed before any response byte', async () => {
    const pool = new ClusterPool('c', undefined, new ProxyStats());
    const a = collect();
    const c1 = h1Dispatch(pool, ep(), request('/none'), a.sink);
    if (c1 !== 'overflow') c1.end();
    await a.done;
    const b = collect();
    const c2 = h1Dispatch(pool, ep(), request('/close'), b.sink);
    if (c2 !== 'overflow') c2.end();
    expect((await b.done).failure?.[0]).toBe('stale');
    pool.close();
  });

  it('refuses with overflow when maxConnections is used and nothing may wait; a connect failure is `connect`', async () => {
    const pool = new ClusterPool('c', { maxConnections: 1, http1MaxPendingRequests: 0 }, new ProxyStats());
    const a = collect();
    const c1 = h1Dispatch(pool, ep(), request('/none'), a.sink);
    expect(c1).not.toBe('overflow');
    expect(h1Dispatch(pool, ep(), request('/none'), collect().sink)).toBe('overflow');
    if (c1 !== 'overflow') c1.end();
    await a.done;
    pool.close();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const p2 = new ClusterPool('d', undefined, new ProxyStats());
    const b = collect();
    h1Dispatch(p2, { address: '127.0.0.1', port: dead, key: `127.0.0.1:${dead}` } as never, request('/none'), b.sink);
    expect((await b.done).failure?.[0]).toBe('connect');
  });

  it('after a 101 carries raw bytes both ways, and ends when the upstream closes', async () => {
    const pool = new ClusterPool('c', undefined, new ProxyStats());
    const a = collect();
    const call = h1Dispatch(pool, ep(), { ...request('/upgrade'), method: 'GET' }, a.sink);
    if (call === 'overflow') throw new Error('overflow');
    call.end();
    await new Promise<void>((r) => { a.onData = (s) => { if (s === 'first') r(); }; });
    expect(a.got.status).toBe(101);
    call.write(Buffer.from('ping'));
    await new Promise<void>((r) => { a.onData = (s) => { if (s.endsWith('echo:ping')) r(); }; });
    for (const s of sockets) s.end();
    expect((await a.done).ended).toBe(true);
    pool.close();
  });
});
