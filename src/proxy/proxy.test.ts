// The data path on real sockets: forwarding, keep-alive reuse, streaming bodies both ways,
// hop-by-hop headers, x-forwarded-*, request ids, absolute-form, malformed input, pipelining,
// HEAD/204/304, 100-continue, upstream failures with their flags, pool overflow.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../proxy-config/types.js';
import { oneRouteConfig } from './sample-config.js';
import { startProxy, type RunningProxy } from './proxy.js';
import { flagsText, type RequestRecord } from './record.js';
import { waitFor } from '../../test/support/wait.js';

let upstream: Server;
let upPort = 0;
let upConnections = 0;
const upSockets = new Set<Socket>();

function handler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/status') { res.statusCode = Number(u.searchParams.get('s')); res.end(); return; }
    if (u.pathname === '/big') { // streamed, chunked, 1 MiB
      let n = 0;
      const push = (): void => {
        while (n < 64) { n++; if (!res.write(Buffer.alloc(16384, 97 + (n % 26)))) return void res.once('drain', push); }
        res.end();
      };
      return push();
    }
    if (u.pathname === '/reset') { res.writeHead(200, { 'content-length': '100' }); res.write('partial'); setImmediate(() => req.socket.destroy()); return; }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString(), len: body.length }));
  });
}

beforeAll(async () => {
  upstream = createServer({ keepAliveTimeout: 60_000 }, handler);
  upstream.on('connection', (s: Socket) => { upConnections++; upSockets.add(s); s.on('close', () => upSockets.delete(s)); });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));

const proxies: RunningProxy[] = [];
afterEach(async () => { for (const p of proxies.splice(0)) await p.close(); });

async function proxy(patch?: (c: ProxyConfig) => void, records?: RequestRecord[]): Promise<{ p: RunningProxy; port: number }> {
  const p = await startProxy({ config: oneRouteConfig(upPort, patch), adminPort: 0, hooks: records ? { onRequestComplete: (r) => records.push({ ...r, flags: r.flags }) } : {}, log: () => {} });
  proxies.push(p);
  return { p, port: p.ports.listeners.outbound! };
}

/** Sends raw bytes and collects everything until the server closes (or `untilCount` responses arrived). */
function raw(port: number, bytes: string | Buffer, untilCount = 0): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    const done = (): void => { s.destroy(); resolve(out); };
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (untilCount > 0 && (out.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= untilCount && /\r\n\r\n[\s\S]*$/.test(out) && completeResponses(out) >= untilCount) done();
    });
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.write(bytes);
  });
}

/** Counts complete Content-Length responses in `out`. */
function completeResponses(out: string): number {
  let n = 0;
  let pos = 0;
  for (;;) {
    const he = out.indexOf('\r\n\r\n', pos);
    if (he < 0) return n;
    const head = out.slice(pos, he);
    const m = /content-length: (\d+)/i.exec(head);
    const end = he + 4 + (m ? Number(m[1]) : 0);
    if (end > out.length) return n;
    n++;
    pos = end;
  }
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string | Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('forwarding', () => {
  it('forwards a GET and reuses one upstream connection for sequential requests', async () => {
    const { port } = await proxy();
    upstream.closeAllConnections();
    const before = upConnections;
    for (let i = 0; i < 5; i++) {
      const r = await get(port, `/hello?i=${i}`, { host: 'svc.local' });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).url).toBe(`/hello?i=${i}`);
      expect(JSON.parse(r.body).headers.host).toBe('svc.local');
    }
    expect(upConnections - before).toBe(1);
  });

  it('streams a Content-Length and a chunked request body, and a 1 MiB chunked response', async () => {
    const { port } = await proxy();
    const a = JSON.parse((await get(port, '/echo', { 'content-type': 'text/plain' }, 'POST', 'hello world')).body);
    expect(a).toMatchObject({ body: 'hello world', len: 11 });
    expect(a.headers['content-length']).toBe('11');
    const resp = await raw(port, 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    expect(resp).toMatch(/^HTTP\/1\.1 200/);
    expect(resp).toContain('"body":"hello world"');
    expect(resp).toContain('"transfer-encoding":"chunked"');
    const big = await get(port, '/big');
    expect(big.body.length).toBe(64 * 16384);
    const large = Buffer.alloc(300_000, 120);
    const echoed = JSON.parse((await get(port, '/echo', {}, 'POST', large)).body);
    expect(echoed.len).toBe(300_000);
  });

  it('drops hop-by-hop headers, sets x-forwarded-for/-proto, generates or keeps x-request-id', async () => {
    const { port } = await proxy();
    const r = await raw(port, 'GET /h HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x-secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Forwarded-For: 10.0.0.1\r\nX-Keep: yes\r\n\r\n', 1);
    const h = JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)).headers;
    expect(h['x-secret']).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h['proxy-connection']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h['x-keep']).toBe('yes');
    expect(h['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const kept = JSON.parse((await get(port, '/h', { 'x-request-id': 'abc-123' })).body).headers;
    expect(kept['x-request-id']).toBe('abc-123');
  });

  it('accepts absolute-form targets on an outbound listener (HTTP_PROXY) and refuses them elsewhere', async () => {
    const { port } = await proxy();
    const r = await raw(port, 'GET http://reviews:9080/reviews/0?x=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n');
    const body = JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4));
    expect(body.url).toBe('/reviews/0?x=1');
    expect(body.headers.host).toBe('reviews:9080');
    const { port: p2 } = await proxy((c) => { c.listeners[0]!.filterChains[0]!.http!.acceptAbsoluteForm = false; });
    expect(await raw(p2, 'GET http://reviews/ HTTP/1.1\r\nHost: a\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
  });

  it('answers HEAD, 204 and 304 without a body and keeps the connection usable', async () => {
    const { port } = await proxy();
    const out = await raw(port, 'HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\nGET /status?s=204 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?s=304 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?s=200 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    expect(statuses).toEqual(['200', '204', '304', '200']);
    expect(out).not.toContain('{"method"');
  });

  it('answers pipelined requests in order', async () => {
    const { port } = await proxy();
    let bytes = '';
    for (let i = 0; i < 5; i++) bytes += `GET /p${i} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const out = await raw(port, bytes + 'GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const urls = [...out.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    expect(urls).toEqual(['/p0', '/p1', '/p2', '/p3', '/p4', '/last']);
  });

  it('answers Expect: 100-continue before the body is sent', async () => {
    const { port } = await proxy();
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => { out += d; });
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    await waitFor(() => out.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), { what: '100 Continue' });
    s.write('hi');
    await new Promise((r) => s.on('close', r));
    expect(out).toContain('"body":"hi"');
    expect(out).not.toContain('"expect"');
  });
});

describe('bad input and failures', () => {
  it('answers malformed requests with 400 and closes; keeps serving others', async () => {
    const records: RequestRecord[] = [];
    const { p, port } = await proxy(undefined, records);
    for (const bad of [
      'GET / HTTP/1.1\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-Big: ' + 'x'.repeat(61 * 1024) + '\r\n\r\n',
      'garbage\r\n\r\n',
    ]) {
      const r = await raw(port, bad);
      expect(r, bad.slice(0, 40)).toMatch(/^HTTP\/1\.1 400 /);
      expect(r).toContain('connection: close');
    }
    const r = await raw(port, 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 400 /);
    expect(p.stats.downstreamProtocolErrors).toBe(6);
    expect((await get(port, '/ok')).status).toBe(200);
  });

  it('flags no route (NR), connect failure (UF), reset mid-response (UC), and never crashes', async () => {
    const records: RequestRecord[] = [];
    const closed = createNetServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { port } = await proxy((c) => {
      c.routes[0]!.virtualHosts[0]!.domains = ['known'];
      c.routes[0]!.virtualHosts.push({ name: 'dead', domains: ['dead'], routes: [{ name: 'dead', route: { destinations: [{ cluster: 'dead', weight: 1 }] } }] });
      c.clusters.push({ name: 'dead', discovery: 'eds', protocol: 'http1' });
      c.endpoints.push({ cluster: 'dead', endpoints: [{ address: '127.0.0.1', port: deadPort }] });
    }, records);
    expect((await get(port, '/', { host: 'unknown' })).status).toBe(404);
    const uf = await get(port, '/', { host: 'dead' });
    expect(uf.status).toBe(503);
    await expect(get(port, '/reset', { host: 'known' })).rejects.toThrow();
    expect((await get(port, '/ok', { host: 'known' })).status).toBe(200);
    await waitFor(() => records.length >= 4);
    expect(records.map((r) => flagsText(r.flags))).toEqual(['NR', 'UF', 'UC', '-']);
    expect(records[1]).toMatchObject({ status: 503, cluster: 'dead', upstreamHost: `127.0.0.1:${deadPort}` });
  });

  it('answers 503 UO when the pool is full and nothing may wait', async () => {
    const records: RequestRecord[] = [];
    const hold = createServer(() => {}); // never answers
    let held = 0;
    hold.on('connection', () => { held++; });
    await new Promise<void>((r) => hold.listen(0, '127.0.0.1', r));
    const holdPort = (hold.address() as { port: number }).port;
    const { port } = await proxy((c) => {
      c.endpoints[0]!.endpoints[0]!.port = holdPort;
      c.clusters[0]!.connectionPool = { maxConnections: 1, http1MaxPendingRequests: 0 };
    }, records);
    const first = raw(port, 'GET /hang HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await waitFor(() => held === 1, { what: 'first request upstream' });
    const second = await get(port, '/x');
    expect(second.status).toBe(503);
    expect(flagsText(records[0]!.flags)).toBe('UO');
    hold.closeAllConnections();
    await first;
    await new Promise<void>((r) => hold.close(() => r()));
  });
});
