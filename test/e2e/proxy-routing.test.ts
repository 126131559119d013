// Istio's routing and DestinationRule semantics through the real proxy, on real sockets:
// the Bookinfo walkthroughs written as proxy config (all to v1; jason to v2, others to v3;
// a delay for jason; 50/50 then 100 % shifts; aborts 500 and 555; retries hiding a failing
// endpoint; ejection of an endpoint that answers 503), plus consistent hashing by cookie,
// redirect, rewrite, direct response, mirror, CORS, header operations and timeouts.
// Upstreams are small node:http servers on port 0 that answer with their own name.
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, ProxyConfig, Route } from '../../src/proxy-config/types.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { flagsText, type RequestRecord } from '../../src/proxy/record.js';
import { waitFor } from '../support/wait.js';
import { refusedPort } from '../support/ports.js';

/** A fake workload: answers JSON with its name, or a forced status; remembers what it saw. */
interface Upstream {
  name: string;
  port: number;
  server: Server;
  status: number;
  delayMs: number;
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
}

const upstreams = new Map<string, Upstream>();

async function upstream(name: string): Promise<Upstream> {
  const u: Upstream = { name, port: 0, server: undefined as unknown as Server, status: 200, delayMs: 0, seen: [] };
  u.server = createServer((req, res) => {
    u.seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    req.resume();
    req.on('end', () => {
      const reply = (): void => {
        res.statusCode = u.status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name, url: req.url, host: req.headers.host }));
      };
      if (u.delayMs > 0) setTimeout(reply, u.delayMs); else reply();
    });
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
  u.port = (u.server.address() as { port: number }).port;
  upstreams.set(name, u);
  return u;
}

const NAMES = ['reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-a', 'ratings-b', 'ratings-c', 'mirror', 'auth'];

function cluster(name: string, extra: Partial<Cluster> = {}): Cluster {
  return { name, discovery: 'eds', protocol: 'http1', ...extra };
}

/** The productpage sidecar: one outbound listener; `routes` for host `reviews`, `ratingsRoutes` for `ratings`. */
function config(routes: Route[], opts: { ratingsRoutes?: Route[]; clusters?: Partial<Record<string, Partial<Cluster>>>; version?: string } = {}): ProxyConfig {
  const ep = (n: string) => ({ address: '127.0.0.1', port: upstreams.get(n)!.port, labels: { app: n.split('-')[0]!, version: n.split('-')[1] ?? 'v1' } });
  const clusters = ['reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings', 'mirror', 'auth'].map((n) => cluster(n, opts.clusters?.[n] ?? {}));
  return {
    version: opts.version ?? 'test',
    node: { id: 'productpage-v1.default', role: 'sidecar', workload: 'productpage-v1', namespace: 'default', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage', version: 'v1' } },
    mesh: { tracingSampling: 0, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'REGISTRY_ONLY' },
    listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', logicalPort: 9080, filterChains: [{ name: 'http', http: { routeConfig: 'outbound|9080' } }] }],
    routes: [{
      name: 'outbound|9080',
      virtualHosts: [
        { name: 'reviews', domains: ['reviews', 'reviews:9080'], routes },
        { name: 'ratings', domains: ['ratings', 'ratings:9080'], routes: opts.ratingsRoutes ?? [{ route: { destinations: [{ cluster: 'ratings', weight: 100 }] } }] },
      ],
    }],
    clusters,
    endpoints: [
      ...['reviews-v1', 'reviews-v2', 'reviews-v3', 'mirror', 'auth'].map((n) => ({ cluster: n, endpoints: [ep(n)] })),
      { cluster: 'ratings', endpoints: ['ratings-a', 'ratings-b', 'ratings-c'].map(ep) },
    ],
    secrets: [],
  };
}

const to = (c: string): Route['route'] => ({ destinations: [{ cluster: c, weight: 100 }] });
const jason = { headers: { 'end-user': { exact: 'jason' } } };

let proxy: RunningProxy;
let port = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const records: RequestRecord[] = [];

interface Reply { status: number; headers: IncomingHttpHeaders; body: string; json: any; ms: number }

function send(host: string, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent, headers: { host, ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        let json: any;
        try { json = JSON.parse(body); } catch {}
        resolve({ status: res.statusCode!, headers: res.headers, body, json, ms: performance.now() - t0 });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function apply(routes: Route[], opts: Parameters<typeof config>[1] = {}): Promise<void> {
  await proxy.applyConfig(config(routes, opts));
}

async function names(n: number, host = 'reviews', headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await send(host, '/reviews/0', { headers });
    const k = r.status === 200 ? r.json.name : String(r.status);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

beforeAll(async () => {
  for (const n of NAMES) await upstream(n);
  proxy = await startProxy({ config: config([{ route: to('reviews-v1') }]), admin: false, log: () => {}, hooks: { onRequestComplete: (r) => { records.push(r); } } });
  port = proxy.ports.listeners.outbound!;
});

afterAll(async () => {
  agent.destroy();
  await proxy?.close();
  for (const u of upstreams.values()) { u.server.closeAllConnections(); await new Promise((r) => u.server.close(r)); }
});

function lastRecord(): RequestRecord {
  return records[records.length - 1]!;
}

describe('Bookinfo request routing', () => {
  it('all traffic to v1', async () => {
    await apply([{ route: to('reviews-v1') }]);
    expect(await names(20)).toEqual({ 'reviews-v1': 20 });
    expect(await names(5, 'reviews', { 'end-user': 'jason' })).toEqual({ 'reviews-v1': 5 });
  });

  it('end-user jason to v2, everyone else to v3', async () => {
    await apply([{ name: 'jason', match: [jason], route: to('reviews-v2') }, { route: to('reviews-v3') }]);
    expect(await names(10, 'reviews', { 'end-user': 'jason' })).toEqual({ 'reviews-v2': 10 });
    expect(await names(10, 'reviews', { 'end-user': 'mary' })).toEqual({ 'reviews-v3': 10 });
    expect(await names(10)).toEqual({ 'reviews-v3': 10 });
    expect(lastRecord().routeName).toBe('reviews/1');
  });

  it('sourceLabels: rules for other workloads do not apply to this proxy', async () => {
    await apply([
      { match: [{ sourceLabels: { app: 'reviews' } }], route: to('reviews-v2') },
      { match: [{ sourceLabels: { app: 'productpage', version: 'v1' } }], route: to('reviews-v3') },
      { route: to('reviews-v1') },
    ]);
    expect(await names(5)).toEqual({ 'reviews-v3': 5 });
  });

  it('unknown host: 404 with flag NR', async () => {
    const r = await send('details:9080', '/details/0');
    expect(r.status).toBe(404);
    expect(flagsText(lastRecord().flags)).toBe('NR');
  });
});

describe('Bookinfo traffic shifting', () => {
  it('50/50 gives exactly half each over 100 requests, then 100 % to v3', async () => {
    await apply([{ route: { destinations: [{ cluster: 'reviews-v1', weight: 50 }, { cluster: 'reviews-v3', weight: 50 }] } }]);
    expect(await names(100)).toEqual({ 'reviews-v1': 50, 'reviews-v3': 50 });
    await apply([{ route: { destinations: [{ cluster: 'reviews-v3', weight: 100 }] } }]);
    expect(await names(20)).toEqual({ 'reviews-v3': 20 });
  });

  it('80/20 is exact too', async () => {
    await apply([{ route: { destinations: [{ cluster: 'reviews-v1', weight: 80 }, { cluster: 'reviews-v2', weight: 20 }] } }]);
    expect(await names(50)).toEqual({ 'reviews-v1': 40, 'reviews-v2': 10 });
  });
});

describe('Bookinfo fault injection', () => {
  it('delays jason (700 ms) and nobody else', async () => {
    await apply([{ route: to('reviews-v2') }], { ratingsRoutes: [{ match: [jason], fault: { delay: { fixedDelayMs: 700, percentage: 100 } }, route: to('ratings') }, { route: to('ratings') }] });
    const slow = await send('ratings', '/ratings/0', { headers: { 'end-user': 'jason' } });
    expect(slow.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(695);
    expect(slow.ms).toBeLessThan(1500);
    expect(flagsText(lastRecord().flags)).toBe('DI');
    const fast = await send('ratings', '/ratings/0', { headers: { 'end-user': 'mary' } });
    expect(fast.ms).toBeLessThan(500);
  });

  it('the walkthrough 7 s delay for jason', async () => {
    await apply([{ route: to('reviews-v2') }], { ratingsRoutes: [{ match: [jason], fault: { delay: { fixedDelayMs: 7000, percentage: 100 } }, route: to('ratings') }, { route: to('ratings') }] });
    const slow = await send('ratings', '/ratings/0', { headers: { 'end-user': 'jason' } });
    expect(slow.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(6990);
    expect(slow.ms).toBeLessThan(8500);
  }, 20_000);

  it('aborts with 500 for everyone and 555 for jason', async () => {
    await apply([{ route: to('reviews-v2') }], {
      ratingsRoutes: [
        { match: [jason], fault: { abort: { httpStatus: 555, percentage: 100 } }, route: to('ratings') },
        { fault: { abort: { httpStatus: 500, percentage: 100 } }, route: to('ratings') },
      ],
    });
    const before = ['ratings-a', 'ratings-b', 'ratings-c'].reduce((a, n) => a + upstreams.get(n)!.seen.length, 0);
    const j = await send('ratings', '/ratings/0', { headers: { 'end-user': 'jason' } });
    expect(j.status).toBe(555);
    expect(flagsText(lastRecord().flags)).toBe('FI');
    expect((await send('ratings', '/ratings/0')).status).toBe(500);
    const after = ['ratings-a', 'ratings-b', 'ratings-c'].reduce((a, n) => a + upstreams.get(n)!.seen.length, 0);
    expect(after).toBe(before); // aborted requests never reach the upstream
  });
});

describe('DestinationRule behaviour', () => {
  it('retries hide one failing endpoint', async () => {
    upstreams.get('ratings-b')!.status = 503;
    try {
      await apply([{ route: to('reviews-v1') }], { ratingsRoutes: [{ route: { ...to('ratings')!, retries: { attempts: 2, retryOn: ['5xx'] } } }] });
      const out: Record<number, number> = {};
      for (let i = 0; i < 30; i++) { const r = await send('ratings', '/ratings/0'); out[r.status] = (out[r.status] ?? 0) + 1; }
      expect(out).toEqual({ 200: 30 });
      expect(upstreams.get('ratings-b')!.seen.length).toBeGreaterThan(0); // it was tried, and hidden
      // without retries the failure shows
      await apply([{ route: to('reviews-v1') }]);
      const plain: Record<number, number> = {};
      for (let i = 0; i < 30; i++) { const r = await send('ratings', '/ratings/0'); plain[r.status] = (plain[r.status] ?? 0) + 1; }
      expect(plain[503]).toBe(10);
    } finally {
      upstreams.get('ratings-b')!.status = 200;
    }
  });

  it('connect failures are retried on another endpoint (UF hidden); all unhealthy is 503 UH', async () => {
    // Refused for as long as the test holds it (a closed server's port could be taken by another process meanwhile).
    const dead = await refusedPort();
    const deadPort = dead.port;
    const cfg = config([{ route: { ...to('reviews-v1')!, retries: { attempts: 2, retryOn: ['connect-failure'] } } }]);
    cfg.endpoints.find((e) => e.cluster === 'reviews-v1')!.endpoints.unshift({ address: '127.0.0.1', port: deadPort });
    await proxy.applyConfig(cfg);
    for (let i = 0; i < 6; i++) {
      const r = await send('reviews', '/reviews/0', { method: 'POST' });
      expect([r.status, r.json?.name]).toEqual([200, 'reviews-v1']);
    }
    const unhealthy = config([{ route: to('reviews-v1') }]);
    unhealthy.endpoints.find((e) => e.cluster === 'reviews-v1')!.endpoints[0]!.health = 'unhealthy';
    await proxy.applyConfig(unhealthy);
    expect((await send('reviews', '/reviews/0')).status).toBe(503);
    expect(flagsText(lastRecord().flags)).toBe('UH');
    await dead.close();
  });

  it('outlier detection ejects an endpoint that answers 503s, and /clusters shows it', async () => {
    upstreams.get('ratings-c')!.status = 503;
    try {
      await apply([{ route: to('reviews-v1') }], { clusters: { ratings: { outlierDetection: { consecutive5xxErrors: 3, intervalMs: 1000, baseEjectionTimeMs: 60_000, maxEjectionPercent: 100 } } }, version: 'od' });
      let failures = 0;
      for (let i = 0; i < 15; i++) if ((await send('ratings', '/ratings/0')).status === 503) failures++;
      expect(failures).toBe(3);
      expect(await names(20, 'ratings')).toEqual({ 'ratings-a': 10, 'ratings-b': 10 });
      const snap = proxy.clusters.snapshot().find((c) => c.name === 'ratings')!;
      const c = snap.endpoints.find((e) => e.port === upstreams.get('ratings-c')!.port)!;
      expect(c).toMatchObject({ ejected: true, ejections: 1 });
    } finally {
      upstreams.get('ratings-c')!.status = 200;
      await apply([{ route: to('reviews-v1') }], { version: 'no-od' });
    }
  });

  it('consistent hash by cookie issues Set-Cookie, then sticks to one endpoint', async () => {
    await apply([{ route: to('reviews-v1') }], { clusters: { ratings: { loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { httpCookie: { name: 'user', path: '/', ttlMs: 3_600_000 } } } } } });
    for (let k = 0; k < 3; k++) {
      const first = await send('ratings', '/ratings/0');
      expect(first.status).toBe(200);
      const setCookie = first.headers['set-cookie']?.[0] ?? '';
      expect(setCookie).toMatch(/^user="[0-9a-f]+"; Max-Age=3600; Path=\/; HttpOnly$/);
      const cookie = setCookie.split(';')[0]!;
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const r = await send('ratings', '/ratings/0', { headers: { cookie: `theme=dark; ${cookie}` } });
        expect(r.headers['set-cookie']).toBeUndefined();
        seen.add(r.json.name);
      }
      expect([...seen]).toEqual([first.json.name]);
    }
  });
});

describe('route actions and policies', () => {
  it('redirect keeps the query; direct response answers locally', async () => {
    await apply([
      { match: [{ uri: { exact: '/v1/getProductRatings' } }], redirect: { uri: '/v1/bookRatings', authority: 'newratings.default.svc.cluster.local' } },
      { match: [{ uri: { prefix: '/maintenance' } }], directResponse: { status: 503, body: 'down for maintenance', contentType: 'text/plain' } },
      { route: to('reviews-v1') },
    ]);
    const r = await send('reviews', '/v1/getProductRatings?id=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('http://newratings.default.svc.cluster.local/v1/bookRatings?id=1');
    const d = await send('reviews', '/maintenance/now');
    expect([d.status, d.body, d.headers['content-type']]).toEqual([503, 'down for maintenance', 'text/plain']);
  });

  it('rewrite changes the path prefix and the authority the upstream sees', async () => {
    await apply([{ match: [{ uri: { prefix: '/api/reviews' } }], route: { ...to('reviews-v2')!, rewrite: { uri: '/reviews', authority: 'reviews-internal' } } }]);
    const r = await send('reviews', '/api/reviews/7?x=1');
    expect(r.json).toMatchObject({ name: 'reviews-v2', url: '/reviews/7?x=1', host: 'reviews-internal' });
  });

  it('regex match (RE2, full match) and query parameters route through the proxy', async () => {
    await apply([
      { match: [{ uri: { regex: '/reviews/[0-9]+' }, queryParams: { v: { exact: '3' } } }], route: to('reviews-v3') },
      { match: [{ uri: { regex: '/reviews/[0-9]+' } }], route: to('reviews-v2') },
      { route: to('reviews-v1') },
    ]);
    expect((await send('reviews', '/reviews/12?v=3')).json.name).toBe('reviews-v3');
    expect((await send('reviews', '/reviews/12')).json.name).toBe('reviews-v2');
    expect((await send('reviews', '/reviews/12/x')).json.name).toBe('reviews-v1');
  });

  it('mirror sends a copy, and a slow mirror never slows the main request', async () => {
    const m = upstreams.get('mirror')!;
    m.delayMs = 1500;
    try {
      await apply([{ route: { ...to('reviews-v1')!, mirrors: [{ cluster: 'mirror', percentage: 100 }] } }]);
      const before = m.seen.length;
      const r = await send('reviews', '/reviews/0');
      expect(r.json.name).toBe('reviews-v1');
      expect(r.ms).toBeLessThan(1000);
      await waitFor(() => m.seen.length > before, { what: 'the mirrored copy' });
      expect(m.seen[m.seen.length - 1]!.url).toBe('/reviews/0');
    } finally {
      m.delayMs = 0;
    }
  });

  it('CORS: preflight answered locally for allowed origins; others pass through without CORS headers', async () => {
    await apply([{ cors: { allowOrigins: [{ exact: 'https://bookinfo.example' }], allowMethods: ['GET', 'POST'], allowHeaders: ['x-token'], maxAgeMs: 60_000 }, route: to('reviews-v1') }]);
    const v1 = upstreams.get('reviews-v1')!;
    const before = v1.seen.length;
    const pre = await send('reviews', '/reviews/0', { method: 'OPTIONS', headers: { origin: 'https://bookinfo.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(200);
    expect(pre.headers).toMatchObject({ 'access-control-allow-origin': 'https://bookinfo.example', 'access-control-allow-methods': 'GET,POST', 'access-control-allow-headers': 'x-token', 'access-control-max-age': '60' });
    expect(v1.seen.length).toBe(before); // answered by the proxy
    const simple = await send('reviews', '/reviews/0', { headers: { origin: 'https://bookinfo.example' } });
    expect(simple.headers['access-control-allow-origin']).toBe('https://bookinfo.example');
    const evil = await send('reviews', '/reviews/0', { headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(200);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const evilPre = await send('reviews', '/reviews/0', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(evilPre.headers['access-control-allow-origin']).toBeUndefined();
    expect(v1.seen.length).toBe(before + 3); // the non-allowed preflight went upstream
  });

  it('header operations at route and destination level', async () => {
    await apply([{
      headers: { request: { set: { 'x-route': 'r' }, remove: ['x-secret'] }, response: { add: { 'x-served-by': 'bowline' }, remove: ['x-powered-by'] } },
      route: { destinations: [{ cluster: 'reviews-v2', weight: 100, headers: { request: { add: { 'x-dest': 'v2' } }, response: { set: { 'x-version': 'v2' } } } }] },
    }]);
    const v2 = upstreams.get('reviews-v2')!;
    const r = await send('reviews', '/reviews/0', { headers: { 'x-secret': 'hunter2', 'x-route': 'client' } });
    const seen = v2.seen[v2.seen.length - 1]!.headers;
    expect([seen['x-route'], seen['x-dest'], seen['x-secret']]).toEqual(['r', 'v2', undefined]);
    expect([r.headers['x-served-by'], r.headers['x-version']]).toEqual(['bowline', 'v2']);
  });

  it('route timeout answers 504 UT; none by default', async () => {
    const v3 = upstreams.get('reviews-v3')!;
    v3.delayMs = 600;
    try {
      await apply([{ match: [jason], route: { ...to('reviews-v3')!, timeoutMs: 200 } }, { route: to('reviews-v3') }]);
      const t = await send('reviews', '/reviews/0', { headers: { 'end-user': 'jason' } });
      expect(t.status).toBe(504);
      expect(t.ms).toBeLessThan(550);
      expect(flagsText(lastRecord().flags)).toContain('UT');
      expect((await send('reviews', '/reviews/0')).status).toBe(200);
    } finally {
      v3.delayMs = 0;
    }
  });

  it('an invalid config is refused with its reasons and the running one stays', async () => {
    await apply([{ route: to('reviews-v1') }]);
    const bad = config([{ match: [{ uri: { regex: '(unclosed' } }], route: to('reviews-v2') }]);
    await expect(proxy.applyConfig(bad)).rejects.toThrow(/BOWLINE_E_PROXY_CONFIG_INVALID[\s\S]*uri\.regex/);
    expect(await names(3)).toEqual({ 'reviews-v1': 3 });
  });
});
