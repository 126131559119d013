// The protocol-neutral exchange, driven from both downstream protocols (HTTP/1.1 and HTTP/2
// clients) toward both upstream protocols (an HTTP/1.1 and an h2c upstream), on real sockets:
// forwarding with bodies both ways, retries that replay the body and count attempts, per-try
// timeouts, an upstream reset before the head, no route. Each case runs in every combination and
// must look the same to the client and to telemetry's record (apart from `protocol`).
import { request as h1request, createServer as h1server, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as h2connect, constants, createServer as h2server, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../proxy-config/types.js';
import { startProxy, type RunningProxy } from '../proxy.js';
import { flagsText, type RequestRecord } from '../record.js';
import { oneRouteConfig } from '../sample-config.js';
import { waitFor } from '../../../test/support/wait.js';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** Every request an upstream saw: `h1|h2 authority path key`. */
const seenHosts: string[] = [];
/** Attempts seen per `x-key`, for the retry cases. */
const tries = new Map<string, number>();

function handler(req: Req, res: Res): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const key = String(req.headers['x-key'] ?? '');
    seenHosts.push(`${'stream' in req ? 'h2' : 'h1'} ${String(req.headers[':authority'] ?? req.headers.host)} ${req.url} ${key}`);
    const n = (tries.get(key) ?? 0) + 1;
    tries.set(key, n);
    const path = req.url ?? '/';
    if (path === '/flaky' && n === 1) { res.writeHead(503); res.end('busy'); return; }
    if (path === '/slow') return; // never answers
    if (path === '/reset') {
      if ('stream' in req) req.stream.close(constants.NGHTTP2_INTERNAL_ERROR); else req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      method: req.method, path, len: body.length, head: body.subarray(0, 16).toString(),
      attempt: req.headers['x-envoy-attempt-count'] ?? null, xff: req.headers['x-forwarded-for'] ?? null,
    }));
  });
}

let h1: Server;
let h2: Http2Server;
let h1Port = 0;
let h2Port = 0;
const proxies: RunningProxy[] = [];
type Seen = RequestRecord & { key: string | undefined; protocol: string | undefined };
const records: Seen[] = [];

beforeAll(async () => {
  h1 = h1server(handler);
  h2 = h2server(handler);
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  h1Port = (h1.address() as { port: number }).port;
  h2Port = (h2.address() as { port: number }).port;
});
afterAll(async () => {
  for (const p of proxies) await p.close();
  h1.closeAllConnections();
  await new Promise<void>((r) => h1.close(() => r()));
  await new Promise<void>((r) => h2.close(() => r()));
});

/** A proxy routing /flaky with retries, /slow with a per-try timeout, /none nowhere, the rest plainly, to `upstream`. */
async function proxyTo(upstream: 'http1' | 'http2'): Promise<number> {
  const patch = (c: ProxyConfig): void => {
    c.clusters = [{ name: 'up', discovery: 'eds', protocol: upstream }, { name: 'shadow', discovery: 'eds', protocol: 'http2' }];
    c.endpoints = [
      { cluster: 'up', endpoints: [{ address: '127.0.0.1', port: upstream === 'http1' ? h1Port : h2Port }] },
      { cluster: 'shadow', endpoints: [{ address: '127.0.0.1', port: h2Port }] },
    ];
    const dest = { destinations: [{ cluster: 'up', weight: 100 }] };
    c.routes[0]!.virtualHosts[0]!.routes = [
      { name: 'flaky', match: [{ uri: { exact: '/flaky' } }], route: { ...dest, retries: { attempts: 2, retryOn: ['5xx'], backoffBaseMs: 1 } } },
      { name: 'slow', match: [{ uri: { exact: '/slow' } }], route: { ...dest, retries: { attempts: 1, perTryTimeoutMs: 150, retryOn: ['5xx'], backoffBaseMs: 1 } } },
      { name: 'mirrored', match: [{ uri: { exact: '/mirrored' } }], route: { ...dest, mirrors: [{ cluster: 'shadow', percentage: 100 }] } },
      { name: 'none', match: [{ uri: { exact: '/none' } }], route: { destinations: [{ cluster: 'missing', weight: 100 }] } },
      { name: 'default', route: dest },
    ] as never;
  };
  const p = await startProxy({ config: oneRouteConfig(0, patch), adminPort: 0, admin: false, hooks: { onRequestComplete: (r) => records.push({ ...r, startTime: r.startTime, key: r.header('x-key'), protocol: (r as { protocol?: string }).protocol }) }, log: () => {} });
  proxies.push(p);
  return p.ports.listeners.outbound!;
}

interface Answer { status: number; body: string; error?: string }

function viaH1(port: number, path: string, key: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const req = h1request({ host: '127.0.0.1', port, path, method: body ? 'PUT' : 'GET', headers: { host: 'svc', 'x-key': key }, agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      res.on('error', (e) => resolve({ status: 0, body: b, error: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    req.end(body);
  });
}

function viaH2(port: number, path: string, key: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const s = h2connect(`http://127.0.0.1:${port}`);
    s.on('error', () => {});
    const st = s.request({ ':path': path, ':method': body ? 'PUT' : 'GET', ':authority': 'svc', 'x-key': key });
    let status = 0;
    let b = '';
    const done = (a: Answer): void => { s.close(); resolve(a); };
    st.on('response', (h) => { status = Number(h[':status']); });
    st.on('data', (d: Buffer) => { b += d; });
    st.on('end', () => done({ status, body: b }));
    st.on('error', (e: Error) => done({ status, body: b, error: e.message }));
    st.end(body);
  });
}

const recordOf = (key: string): Seen | undefined => records.find((r) => r.key === key);

const combos = [
  { client: 'HTTP/1.1', upstream: 'http1' }, { client: 'HTTP/1.1', upstream: 'http2' },
  { client: 'HTTP/2', upstream: 'http1' }, { client: 'HTTP/2', upstream: 'http2' },
] as const;

describe.each(combos)('the exchange, $client client to an $upstream upstream', ({ client, upstream }) => {
  let port = 0;
  const send = (path: string, key: string, body?: Buffer): Promise<Answer> => (client === 'HTTP/1.1' ? viaH1 : viaH2)(port, path, key, body);
  const key = (name: string): string => `${name}-${client}-${upstream}`;
  beforeAll(async () => { port = await proxyTo(upstream); });

  it('forwards a GET and a 200 KiB PUT body, and records the request with its protocol', async () => {
    const before = Date.now();
    const g = await send('/hello?x=1', key('get'));
    const after = Date.now();
    expect(g.status).toBe(200);
    expect(JSON.parse(g.body)).toMatchObject({ method: 'GET', path: '/hello?x=1', len: 0, xff: '127.0.0.1' });
    // The record's start is wall-clock time at the request's start (an accessor: the clock is read only when asked).
    const gr = recordOf(key('get'))!;
    expect(gr.startTime).toBeGreaterThanOrEqual(before - 1);
    expect(gr.startTime + gr.durationMs).toBeLessThanOrEqual(after + 1);
    const big = Buffer.alloc(200 * 1024, 'b');
    big.write('first', 0);
    const p = await send('/upload', key('post'), big);
    expect(p.status).toBe(200);
    expect(JSON.parse(p.body)).toMatchObject({ method: 'PUT', len: big.length, head: 'firstbbbbbbbbbbb' });
    const r = recordOf(key('post'))!;
    expect(r).toMatchObject({ status: 200, bytesIn: big.length, cluster: 'up', attempts: 1 });
    expect(r.protocol).toBe(client);
  });

  it('retries a 503 on the same body, telling the upstream the attempt count', async () => {
    const a = await send('/flaky', key('retry'), Buffer.from('replay me'));
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toMatchObject({ attempt: '2', len: 9, head: 'replay me' });
    expect(tries.get(key('retry'))).toBe(2);
    expect(recordOf(key('retry'))).toMatchObject({ status: 200, attempts: 2 });
  });

  it('answers 504 UT after the per-try timeouts ran out', async () => {
    const a = await send('/slow', key('slow'));
    expect(a.status).toBe(504);
    expect(a.body).toBe('upstream request timeout');
    const r = recordOf(key('slow'))!;
    expect(flagsText(r.flags)).toContain('UT');
  });

  it('answers 503 UC when the upstream resets before the response head', async () => {
    const a = await send('/reset', key('reset'));
    expect(a.status).toBe(503);
    expect(a.body).toMatch(/^upstream connect error or disconnect\/reset before headers/);
    expect(flagsText(recordOf(key('reset'))!.flags)).toBe('UC');
  });

  it('mirrors through the upstream clients: an HTTP/2 shadow cluster gets the copy with the -shadow authority', async () => {
    const a = await send('/mirrored', key('mirror'));
    expect(a.status).toBe(200);
    await waitFor(() => seenHosts.includes(`h2 svc-shadow /mirrored ${key('mirror')}`), { what: 'the mirrored copy' });
  });

  it('answers 503 NC for a route to a cluster that does not exist, and keeps serving', async () => {
    const a = await send('/none', key('nc'));
    expect(a.status).toBe(503);
    expect(flagsText(recordOf(key('nc'))!.flags)).toBe('NC');
    expect((await send('/after', key('after'))).status).toBe(200);
  });
});
