import { describe, expect, it } from 'vitest';
import type { HttpMatch, NodeInfo, Route, RouteConfig } from '../../proxy-config/types.js';
import { compileRouteConfig } from './compile.js';
import type { ForwardDecision, RouteDecision, RouteInput } from './types.js';

const node: NodeInfo = { id: 'productpage-v1', role: 'sidecar', workload: 'productpage-v1', namespace: 'default', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage', version: 'v1' } };

function req(over: Partial<Omit<RouteInput, 'header'>> & { headers?: Record<string, string> } = {}): RouteInput {
  const headers = over.headers ?? {};
  return { method: over.method ?? 'GET', path: over.path ?? '/', authority: over.authority ?? 'svc', scheme: over.scheme ?? 'http', port: over.port ?? 9080, header: (n) => headers[n] };
}

function table(routes: Route[], domains = ['svc', 'svc:9080']): RouteConfig {
  return { name: 'rt', virtualHosts: [{ name: 'svc', domains, routes }] };
}

const to = (cluster: string): Route['route'] => ({ destinations: [{ cluster, weight: 100 }] });

/** A table with one matching route to `hit` and a fallback to `miss`, to test one HttpMatch. */
function matches(m: HttpMatch, r: RouteInput): boolean {
  const rt = compileRouteConfig(table([{ match: [m], route: to('hit') }, { route: to('miss') }]), node);
  return (rt.select(r) as ForwardDecision).cluster === 'hit';
}

function cluster(d: RouteDecision): string | undefined {
  return d.kind === 'forward' ? d.cluster : undefined;
}

describe('route matching (Istio HTTPMatchRequest)', () => {
  it('uri exact, prefix and regex (full match, query ignored)', () => {
    expect(matches({ uri: { exact: '/reviews/0' } }, req({ path: '/reviews/0?x=1' }))).toBe(true);
    expect(matches({ uri: { exact: '/reviews/0' } }, req({ path: '/reviews/01' }))).toBe(false);
    expect(matches({ uri: { prefix: '/reviews' } }, req({ path: '/reviews/7' }))).toBe(true);
    expect(matches({ uri: { prefix: '/reviews' } }, req({ path: '/ratings' }))).toBe(false);
    expect(matches({ uri: { regex: '/reviews/[0-9]+' } }, req({ path: '/reviews/42?a=b' }))).toBe(true);
    expect(matches({ uri: { regex: '/reviews/[0-9]+' } }, req({ path: '/x/reviews/42' }))).toBe(false); // full match, not search
  });

  it('ignoreUriCase applies to exact, prefix and regex', () => {
    expect(matches({ uri: { exact: '/Login' }, ignoreUriCase: true }, req({ path: '/LOGIN' }))).toBe(true);
    expect(matches({ uri: { prefix: '/API' }, ignoreUriCase: true }, req({ path: '/api/v1' }))).toBe(true);
    expect(matches({ uri: { regex: '/a[b]+' }, ignoreUriCase: true }, req({ path: '/ABB' }))).toBe(true);
    expect(matches({ uri: { exact: '/Login' } }, req({ path: '/LOGIN' }))).toBe(false);
  });

  it('method, scheme, authority and port', () => {
    expect(matches({ method: { exact: 'POST' } }, req({ method: 'POST' }))).toBe(true);
    expect(matches({ method: { exact: 'POST' } }, req({ method: 'GET' }))).toBe(false);
    expect(matches({ method: { regex: 'GET|HEAD' } }, req({ method: 'HEAD' }))).toBe(true);
    expect(matches({ scheme: { exact: 'https' } }, req({ scheme: 'https' }))).toBe(true);
    expect(matches({ scheme: { exact: 'https' } }, req({ scheme: 'http' }))).toBe(false);
    expect(matches({ authority: { prefix: 'svc' } }, req({ authority: 'svc:9080' }))).toBe(true);
    expect(matches({ authority: { exact: 'other' } }, req({ authority: 'svc' }))).toBe(false);
    expect(matches({ port: 9080 }, req({ port: 9080 }))).toBe(true);
    expect(matches({ port: 9081 }, req({ port: 9080 }))).toBe(false);
  });

  it('headers exact, prefix, regex and present', () => {
    expect(matches({ headers: { 'end-user': { exact: 'jason' } } }, req({ headers: { 'end-user': 'jason' } }))).toBe(true);
    expect(matches({ headers: { 'end-user': { exact: 'jason' } } }, req({ headers: { 'end-user': 'Jason' } }))).toBe(false);
    expect(matches({ headers: { 'end-user': { exact: 'jason' } } }, req())).toBe(false);
    expect(matches({ headers: { 'user-agent': { prefix: 'curl/' } } }, req({ headers: { 'user-agent': 'curl/8.0' } }))).toBe(true);
    expect(matches({ headers: { cookie: { regex: '.*session=[a-z]+.*' } } }, req({ headers: { cookie: 'a=1; session=abc' } }))).toBe(true);
    expect(matches({ headers: { 'x-canary': { present: true } } }, req({ headers: { 'x-canary': '' } }))).toBe(true);
    expect(matches({ headers: { 'x-canary': { present: true } } }, req())).toBe(false);
    expect(matches({ headers: { 'X-Canary': { exact: '1' } } }, req({ headers: { 'x-canary': '1' } }))).toBe(true); // names are case-insensitive
  });

  it('withoutHeaders inverts each condition', () => {
    expect(matches({ withoutHeaders: { 'end-user': { exact: 'jason' } } }, req({ headers: { 'end-user': 'jason' } }))).toBe(false);
    expect(matches({ withoutHeaders: { 'end-user': { exact: 'jason' } } }, req({ headers: { 'end-user': 'mary' } }))).toBe(true);
    expect(matches({ withoutHeaders: { 'end-user': { exact: 'jason' } } }, req())).toBe(true);
    expect(matches({ withoutHeaders: { 'x-debug': { present: true } } }, req({ headers: { 'x-debug': '1' } }))).toBe(false);
  });

  it('queryParams exact, regex, prefix and present', () => {
    expect(matches({ queryParams: { v: { exact: '2' } } }, req({ path: '/p?a=1&v=2' }))).toBe(true);
    expect(matches({ queryParams: { v: { exact: '2' } } }, req({ path: '/p?v=3' }))).toBe(false);
    expect(matches({ queryParams: { v: { exact: '2' } } }, req({ path: '/p' }))).toBe(false);
    expect(matches({ queryParams: { id: { regex: '\\d+' } } }, req({ path: '/p?id=123' }))).toBe(true);
    expect(matches({ queryParams: { id: { prefix: 'ab' } } }, req({ path: '/p?id=abc' }))).toBe(true);
    expect(matches({ queryParams: { debug: { present: true } } }, req({ path: '/p?debug' }))).toBe(true);
  });

  it('sourceLabels and sourceNamespace are decided at compile time against the proxy itself', () => {
    expect(matches({ sourceLabels: { app: 'productpage' } }, req())).toBe(true);
    expect(matches({ sourceLabels: { app: 'productpage', version: 'v2' } }, req())).toBe(false);
    expect(matches({ sourceNamespace: 'default' }, req())).toBe(true);
    expect(matches({ sourceNamespace: 'prod' }, req())).toBe(false);
    // A route whose only match is for other workloads is dropped; one of several match items still applies.
    const rt = compileRouteConfig(table([
      { match: [{ sourceLabels: { app: 'reviews' } }], route: to('dropped') },
      { match: [{ sourceLabels: { app: 'reviews' } }, { uri: { prefix: '/x' } }], route: to('second') },
      { route: to('fallback') },
    ]), node);
    expect(cluster(rt.select(req({ path: '/x' })))).toBe('second');
    expect(cluster(rt.select(req({ path: '/y' })))).toBe('fallback');
  });

  it('all conditions of one match must hold (AND); any match item selects the route (OR)', () => {
    const m: HttpMatch = { uri: { prefix: '/api' }, method: { exact: 'GET' }, headers: { 'end-user': { exact: 'jason' } } };
    expect(matches(m, req({ path: '/api/x', headers: { 'end-user': 'jason' } }))).toBe(true);
    expect(matches(m, req({ path: '/api/x', method: 'PUT', headers: { 'end-user': 'jason' } }))).toBe(false);
    const rt = compileRouteConfig(table([{ match: [{ uri: { exact: '/a' } }, { uri: { exact: '/b' } }], route: to('ab') }, { route: to('other') }]), node);
    expect(cluster(rt.select(req({ path: '/b' })))).toBe('ab');
    expect(cluster(rt.select(req({ path: '/c' })))).toBe('other');
  });

  it('rules are tried in order and the first match wins; no match means kind none', () => {
    const rt = compileRouteConfig(table([
      { match: [{ uri: { prefix: '/reviews' } }], route: to('first') },
      { match: [{ uri: { exact: '/reviews/0' } }], route: to('never') },
    ]), node);
    expect(cluster(rt.select(req({ path: '/reviews/0' })))).toBe('first');
    expect(rt.select(req({ path: '/other' })).kind).toBe('none');
  });
});

describe('virtual host selection', () => {
  const rt = compileRouteConfig({
    name: 'rt',
    virtualHosts: [
      { name: 'exact', domains: ['reviews.default.svc.cluster.local', 'reviews', 'reviews:9080'], routes: [{ route: to('exact') }] },
      { name: 'suffix-long', domains: ['*.api.example.com'], routes: [{ route: to('suffix-long') }] },
      { name: 'suffix', domains: ['*.example.com'], routes: [{ route: to('suffix') }] },
      { name: 'prefix', domains: ['internal.*'], routes: [{ route: to('prefix') }] },
      { name: 'any', domains: ['*'], routes: [{ route: to('any') }] },
    ],
  }, node);
  it('exact with and without port, case-insensitively', () => {
    expect(cluster(rt.select(req({ authority: 'reviews:9080' })))).toBe('exact');
    expect(cluster(rt.select(req({ authority: 'reviews:1234' })))).toBe('exact');
    expect(cluster(rt.select(req({ authority: 'REVIEWS' })))).toBe('exact');
  });
  it('longest suffix wildcard, then prefix wildcard, then *', () => {
    expect(cluster(rt.select(req({ authority: 'a.api.example.com' })))).toBe('suffix-long');
    expect(cluster(rt.select(req({ authority: 'www.example.com:8443' })))).toBe('suffix');
    expect(cluster(rt.select(req({ authority: 'internal.corp' })))).toBe('prefix');
    expect(cluster(rt.select(req({ authority: 'ratings' })))).toBe('any');
  });
  it('no matching host means no route', () => {
    const only = compileRouteConfig(table([{ route: to('x') }], ['svc']), node);
    expect(only.select(req({ authority: 'nope' })).kind).toBe('none');
  });
});

describe('weighted destinations', () => {
  it('50/50 over 1000 requests is exactly 500/500, and weights are relative', () => {
    const rt = compileRouteConfig(table([{ route: { destinations: [{ cluster: 'v1', weight: 50 }, { cluster: 'v3', weight: 50 }] } }]), node);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) { const c = cluster(rt.select(req()))!; counts[c] = (counts[c] ?? 0) + 1; }
    expect(counts).toEqual({ v1: 500, v3: 500 });
    const rel = compileRouteConfig(table([{ route: { destinations: [{ cluster: 'a', weight: 1 }, { cluster: 'b', weight: 3 }] } }]), node);
    const c2: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) { const c = cluster(rel.select(req()))!; c2[c] = (c2[c] ?? 0) + 1; }
    expect(c2).toEqual({ a: 250, b: 750 });
  });
  it('a split is smooth: 90/10 never sends two of the 10 % in a row', () => {
    const rt = compileRouteConfig(table([{ route: { destinations: [{ cluster: 'v1', weight: 90 }, { cluster: 'v2', weight: 10 }] } }]), node);
    const seq = Array.from({ length: 100 }, () => cluster(rt.select(req())));
    expect(seq.filter((c) => c === 'v2')).toHaveLength(10);
    for (let i = 1; i < seq.length; i++) expect(seq[i] === 'v2' && seq[i - 1] === 'v2').toBe(false);
  });
  it('a zero weight gets nothing; a single destination ignores its weight', () => {
    const rt = compileRouteConfig(table([{ route: { destinations: [{ cluster: 'v1', weight: 100 }, { cluster: 'v2', weight: 0 }] } }]), node);
    for (let i = 0; i < 20; i++) expect(cluster(rt.select(req()))).toBe('v1');
    const single = compileRouteConfig(table([{ route: { destinations: [{ cluster: 'v1', weight: 0 }] } }]), node);
    expect(cluster(single.select(req()))).toBe('v1');
  });
  it('destination-level headers come with the picked destination', () => {
    const rt = compileRouteConfig(table([{ route: { destinations: [{ cluster: 'v1', weight: 1, headers: { request: { set: { 'x-dest': 'v1' } } } }] } }]), node);
    const d = rt.select(req()) as ForwardDecision;
    expect(d.destinationHeaders?.request?.set).toEqual([['x-dest', 'v1']]);
  });
});

describe('rewrite, redirect, direct response', () => {
  it('uri rewrite replaces the matched prefix, or the whole path of an exact match, and keeps the query', () => {
    const rt = compileRouteConfig(table([
      { match: [{ uri: { prefix: '/old' } }], route: { destinations: [{ cluster: 'c', weight: 1 }], rewrite: { uri: '/new' } } },
      { match: [{ uri: { exact: '/login' } }], route: { destinations: [{ cluster: 'c', weight: 1 }], rewrite: { uri: '/auth/login', authority: 'auth.internal' } } },
      { match: [{ uri: { prefix: '/v1/' } }], route: { destinations: [{ cluster: 'c', weight: 1 }], rewrite: { uriRegex: { match: '^/v1/([^/]+)/(.*)$', rewrite: '/\\2/\\1' } } } },
    ]), node);
    const a = rt.select(req({ path: '/old/page?q=1' })) as ForwardDecision;
    expect([a.path, a.pathRewritten, a.authority]).toEqual(['/new/page?q=1', true, 'svc']);
    const b = rt.select(req({ path: '/login?next=/' })) as ForwardDecision;
    expect([b.path, b.authority]).toEqual(['/auth/login?next=/', 'auth.internal']);
    const c = rt.select(req({ path: '/v1/users/42?x=$1' })) as ForwardDecision;
    expect(c.path).toBe('/42/users?x=$1');
    const none = compileRouteConfig(table([{ route: to('c') }]), node).select(req({ path: '/p' })) as ForwardDecision;
    expect([none.path, none.pathRewritten]).toEqual(['/p', false]);
  });
  it('redirect keeps the query, applies uri / authority / port / scheme and defaults to 301', () => {
    const rt = compileRouteConfig(table([
      { match: [{ uri: { exact: '/v1/getProductRatings' } }], redirect: { uri: '/v1/bookRatings', authority: 'newratings.default.svc.cluster.local' } },
      { match: [{ uri: { prefix: '/secure' } }], redirect: { scheme: 'https', redirectCode: 308 } },
      { match: [{ uri: { prefix: '/port' } }], redirect: { port: 8080 } },
    ]), node);
    expect(rt.select(req({ path: '/v1/getProductRatings?id=0' }))).toMatchObject({ kind: 'redirect', status: 301, location: 'http://newratings.default.svc.cluster.local/v1/bookRatings?id=0' });
    expect(rt.select(req({ path: '/secure/a', authority: 'svc:80' }))).toMatchObject({ kind: 'redirect', status: 308, location: 'https://svc/secure/a' });
    expect(rt.select(req({ path: '/port?x', authority: 'svc:9080' }))).toMatchObject({ location: 'http://svc:8080/port?x' });
  });
  it('directResponse answers with status, body and content type', () => {
    const rt = compileRouteConfig(table([{ directResponse: { status: 503, body: 'maintenance' } }]), node);
    expect(rt.select(req())).toMatchObject({ kind: 'direct', status: 503, body: 'maintenance', contentType: 'text/plain' });
  });
});

describe('route policies', () => {
  it('timeout (none by default), retries from the route or the virtual host, cors from the virtual host', () => {
    const rt = compileRouteConfig({
      name: 'rt',
      virtualHosts: [{
        name: 'svc', domains: ['svc'], retries: { attempts: 2, retryOn: ['5xx'] }, cors: { allowOrigins: [{ exact: 'https://a' }] },
        routes: [
          { match: [{ uri: { prefix: '/t' } }], route: { destinations: [{ cluster: 'c', weight: 1 }], timeoutMs: 3000, retries: { attempts: 0, retryOn: [] } } },
          { route: to('c') },
        ],
      }],
    }, node);
    const t = rt.select(req({ path: '/t' })) as ForwardDecision;
    expect(t.route.timeoutMs).toBe(3000);
    expect(t.route.retries).toBeUndefined();
    const d = rt.select(req({ path: '/' })) as ForwardDecision;
    expect(d.route.timeoutMs).toBe(0);
    expect(d.route.retries?.attempts).toBe(2);
    expect(d.route.cors?.allows('https://a')).toBe(true);
    expect(d.route.name).toBe('svc/1');
  });
  it('mirrors take exactly their percentage of requests', () => {
    const rt = compileRouteConfig(table([{ route: { destinations: [{ cluster: 'v1', weight: 1 }], mirrors: [{ cluster: 'v2', percentage: 25 }] } }]), node);
    const d = rt.select(req()) as ForwardDecision;
    let n = 0;
    for (let i = 0; i < 1000; i++) if (d.route.mirrors[0]!.take()) n++;
    expect(n).toBe(250);
  });
  it('fault policy is compiled with the injected random', () => {
    const rt = compileRouteConfig(table([{ route: to('c'), fault: { abort: { httpStatus: 555, percentage: 50 } } }]), node, { random: () => 0.4 });
    const d = rt.select(req()) as ForwardDecision;
    expect(d.route.fault?.decide()).toEqual({ delayMs: 0, abortStatus: 555 });
  });
  it('select never throws, even when a header accessor does', () => {
    const rt = compileRouteConfig(table([{ match: [{ headers: { a: { exact: '1' } } }], route: to('c') }]), node);
    expect(rt.select({ ...req(), header: () => { throw new Error('boom'); } })).toEqual({ kind: 'none' });
  });
});
