// VirtualService HTTP fields proven end to end: Istio YAML -> the control plane's generators -> a
// real Bowline sidecar on real sockets -> what the client and the workloads see. Every match
// condition, redirect, direct response, rewrite, header operations, timeout, retries, mirrors and
// CORS. Each test names the fields it proves (src/api/enforcement.ts points here).
import { describe, expect, it } from 'vitest';
import { reviewsForFile, send, type Sidecar, type Workload } from './fields-harness.js';
import { REVIEWS_SUBSETS, reviewsRoutes } from '../support/subsets-yaml.js';
import { waitFor } from '../support/wait.js';

let v1: Workload;
let v2: Workload;
const { sidecar } = reviewsForFile((r) => ({ v1, v2 } = r));

/** A VirtualService for `reviews` with these HTTP rules (YAML list items, indented 2). */
const vs = (http: string) => `${REVIEWS_SUBSETS}---\n${reviewsRoutes(http)}`;

/** A rule answering locally with `body` for the given match list (flow YAML). */
const says = (body: string, match: string) => `  - match: ${match}\n    directResponse: {status: 200, body: {string: ${body}}}\n`;

async function which(s: Sidecar, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<string> {
  const r = await send(s.port, url, { headers, method });
  return r.status === 200 ? (r.json?.name ?? r.body) : String(r.status);
}

describe('VirtualService HTTP match conditions', () => {
  it('uri regex and ignoreUriCase, method, authority and scheme (exact, prefix, regex) pick the rule a request meets', async () => {
    const s = await sidecar(vs([
      says('regex', '[{name: by-regex, uri: {regex: "/r/[0-9]+"}}]'),
      says('nocase', '[{uri: {prefix: /CaSe}, ignoreUriCase: true}]'),
      says('method', '[{uri: {prefix: /m}, method: {exact: PUT}}, {uri: {prefix: /m}, method: {prefix: DEL}}, {uri: {prefix: /m}, method: {regex: "PA.CH"}}]'),
      says('authority', '[{uri: {prefix: /a1}, authority: {exact: "reviews:9080"}}, {uri: {prefix: /a2}, authority: {prefix: rev}}, {uri: {prefix: /a3}, authority: {regex: "r[a-z]+s(:[0-9]+)?"}}]'),
      says('scheme', '[{uri: {prefix: /s1}, scheme: {exact: http}}, {uri: {prefix: /s2}, scheme: {prefix: ht}}, {uri: {prefix: /s3}, scheme: {regex: "https?"}}]'),
      says('https-only', '[{uri: {prefix: /s4}, scheme: {exact: https}}]'),
      '  - route: [{destination: {host: reviews, subset: v1}}]\n',
    ].join('')));
    expect(await which(s, 'http://reviews:9080/r/42')).toBe('regex');
    expect(await which(s, 'http://reviews:9080/r/42x')).toBe('reviews-v1'); // RE2 full match
    expect(await which(s, 'http://reviews:9080/case/a')).toBe('nocase');
    expect(await which(s, 'http://reviews:9080/m', {}, 'PUT')).toBe('method');
    expect(await which(s, 'http://reviews:9080/m', {}, 'DELETE')).toBe('method');
    expect(await which(s, 'http://reviews:9080/m', {}, 'PATCH')).toBe('method');
    expect(await which(s, 'http://reviews:9080/m', {}, 'POST')).toBe('reviews-v1');
    for (const p of ['/a1', '/a2', '/a3']) expect(await which(s, `http://reviews:9080${p}`)).toBe('authority');
    expect(await which(s, 'http://reviews.default:9080/a1')).toBe('reviews-v1');
    for (const p of ['/s1', '/s2', '/s3']) expect(await which(s, `http://reviews:9080${p}`)).toBe('scheme');
    expect(await which(s, 'http://reviews:9080/s4')).toBe('reviews-v1');
  });

  it('headers prefix/regex, withoutHeaders and queryParams (exact, prefix, regex) pick the rule a request meets', async () => {
    const s = await sidecar(vs([
      says('team', '[{uri: {prefix: /h}, headers: {x-team: {prefix: pay}}}, {uri: {prefix: /h}, headers: {x-team: {regex: "o[a-z]+s"}}}]'),
      says('without', '[{uri: {prefix: /wa}, withoutHeaders: {x-a: {exact: "1"}}}, {uri: {prefix: /wp}, withoutHeaders: {x-b: {prefix: "no"}}}, {uri: {prefix: /wr}, withoutHeaders: {x-c: {regex: "z+"}}}]'),
      says('query', '[{uri: {prefix: /q}, queryParams: {a: {exact: "1"}}}, {uri: {prefix: /q}, queryParams: {b: {prefix: x}}}, {uri: {prefix: /q}, queryParams: {c: {regex: "[0-9]+"}}}]'),
      '  - route: [{destination: {host: reviews, subset: v1}}]\n',
    ].join('')));
    expect(await which(s, 'http://reviews:9080/h', { 'x-team': 'payments' })).toBe('team');
    expect(await which(s, 'http://reviews:9080/h', { 'x-team': 'orders' })).toBe('team');
    expect(await which(s, 'http://reviews:9080/h', { 'x-team': 'ordersx' })).toBe('reviews-v1');
    expect(await which(s, 'http://reviews:9080/h')).toBe('reviews-v1');
    expect(await which(s, 'http://reviews:9080/wa')).toBe('without');
    expect(await which(s, 'http://reviews:9080/wa', { 'x-a': '1' })).toBe('reviews-v1');
    expect(await which(s, 'http://reviews:9080/wa', { 'x-a': '2' })).toBe('without');
    expect(await which(s, 'http://reviews:9080/wp', { 'x-b': 'nope' })).toBe('reviews-v1');
    expect(await which(s, 'http://reviews:9080/wp', { 'x-b': 'yes' })).toBe('without');
    expect(await which(s, 'http://reviews:9080/wr', { 'x-c': 'zzz' })).toBe('reviews-v1');
    expect(await which(s, 'http://reviews:9080/q?a=1')).toBe('query');
    expect(await which(s, 'http://reviews:9080/q?a=2&b=xy')).toBe('query');
    expect(await which(s, 'http://reviews:9080/q?c=123')).toBe('query');
    expect(await which(s, 'http://reviews:9080/q?c=12a&b=y')).toBe('reviews-v1');
  });

  it('sourceLabels, sourceNamespace and match.gateways apply only to the proxies they name', async () => {
    const s = await sidecar(vs([
      says('other-labels', '[{uri: {prefix: /l}, sourceLabels: {app: productpage}}]'),
      says('my-labels', '[{uri: {prefix: /l}, sourceLabels: {app: sleep}}]'),
      says('other-ns', '[{uri: {prefix: /n}, sourceNamespace: shop}]'),
      says('my-ns', '[{uri: {prefix: /n}, sourceNamespace: default}]'),
      says('gateway-only', '[{uri: {prefix: /g}, gateways: [edge]}]'),
      says('mesh', '[{uri: {prefix: /g}, gateways: [mesh]}]'),
      '  - route: [{destination: {host: reviews, subset: v1}}]\n',
    ].join('')));
    expect(await which(s, 'http://reviews:9080/l')).toBe('my-labels');
    expect(await which(s, 'http://reviews:9080/n')).toBe('my-ns');
    expect(await which(s, 'http://reviews:9080/g')).toBe('mesh');
  });
});

describe('VirtualService HTTP route actions', () => {
  it('redirect (uri, authority, port, scheme, redirectCode) and directResponse (status, string and bytes bodies) answer locally', async () => {
    const s = await sidecar(vs(`  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: books.example, port: 8443, scheme: https, redirectCode: 308}
  - match: [{uri: {prefix: /moved}}]
    redirect: {uri: /here}
  - match: [{uri: {prefix: /teapot}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
  - match: [{uri: {prefix: /bytes}}]
    directResponse: {status: 503, body: {bytes: ${Buffer.from('from bytes').toString('base64')}}}
  - route: [{destination: {host: reviews, subset: v1}}]
`));
    const r = await send(s.port, 'http://reviews:9080/old?q=1');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('https://books.example:8443/new?q=1');
    const m = await send(s.port, 'http://reviews:9080/moved');
    expect([m.status, m.headers.location]).toEqual([301, 'http://reviews:9080/here']);
    const t = await send(s.port, 'http://reviews:9080/teapot');
    expect([t.status, t.body]).toEqual([418, 'short and stout']);
    const b = await send(s.port, 'http://reviews:9080/bytes');
    expect([b.status, b.body]).toEqual([503, 'from bytes']);
    expect(v1.seen).toHaveLength(0);
  });

  it('rewrite uri, authority and uriRegexRewrite change what the workload sees', async () => {
    const s = await sidecar(vs(`  - match: [{uri: {prefix: /api/v1/}}]
    rewrite: {uri: /v1/, authority: reviews.internal}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{uri: {prefix: /items}}]
    rewrite:
      uriRegexRewrite: {match: "^/items/([0-9]+)/detail$", rewrite: "/detail?id=\\\\1"}
    route: [{destination: {host: reviews, subset: v1}}]
`));
    expect((await send(s.port, 'http://reviews:9080/api/v1/books')).status).toBe(200);
    expect(v1.seen.at(-1)!.url).toBe('/v1/books');
    expect(v1.seen.at(-1)!.headers.host).toBe('reviews.internal');
    expect((await send(s.port, 'http://reviews:9080/items/7/detail')).status).toBe(200);
    expect(v1.seen.at(-1)!.url).toBe('/detail?id=7');
  });

  it('headers: request and response set, add and remove, on the rule and on a destination', async () => {
    const s = await sidecar(vs(`  - headers:
      request: {set: {x-rule: set}, add: {x-added: rule}, remove: [x-secret]}
      response: {set: {x-served-by: mesh}, add: {x-resp-added: rule}, remove: [content-type]}
    route:
    - destination: {host: reviews, subset: v1}
      headers:
        request: {set: {x-dest: v1}, add: {x-dest-added: yes}, remove: [x-drop]}
        response: {set: {x-dest-resp: v1}, add: {x-dest-resp-added: yes}, remove: [x-upstream]}
`));
    const r = await send(s.port, 'http://reviews:9080/h', { headers: { 'x-rule': 'client', 'x-secret': 's', 'x-drop': 'd' } });
    expect(r.status).toBe(200);
    const seen = v1.seen.at(-1)!.headers;
    expect(seen).toMatchObject({ 'x-rule': 'set', 'x-added': 'rule', 'x-dest': 'v1', 'x-dest-added': 'yes' });
    expect(seen['x-secret']).toBeUndefined();
    expect(seen['x-drop']).toBeUndefined();
    expect(r.headers).toMatchObject({ 'x-served-by': 'mesh', 'x-resp-added': 'rule', 'x-dest-resp': 'v1', 'x-dest-resp-added': 'yes' });
    expect(r.headers['content-type']).toBeUndefined();
  });

  it('timeout answers 504 when the workload is slower; retries (attempts, perTryTimeout, retryOn) hide a failing and a hanging endpoint', async () => {
    const t = await sidecar(vs('  - timeout: 0.3s\n    retries: {attempts: 0}\n    route: [{destination: {host: reviews, subset: v1}}]\n'));
    v1.hold = true;
    expect((await send(t.port, 'http://reviews:9080/slow')).status).toBe(504);
    v1.hold = false;
    v1.release();

    const s = await sidecar(vs('  - retries: {attempts: 4, perTryTimeout: 0.2s, retryOn: "5xx,reset"}\n    route: [{destination: {host: reviews}}]\n'));
    v1.status = 503;
    for (let i = 0; i < 6; i++) expect(await which(s, 'http://reviews:9080/r')).toBe('reviews-v2');
    v1.status = 200;
    v1.hold = true;
    for (let i = 0; i < 4; i++) expect(await which(s, 'http://reviews:9080/r')).toBe('reviews-v2');
    expect(s.records.some((r) => r.attempts > 1)).toBe(true);

    const none = await sidecar(vs('  - retries: {attempts: 2, retryOn: "gateway-error"}\n    route: [{destination: {host: reviews, subset: v2}}]\n'));
    v2.status = 500;
    expect((await send(none.port, 'http://reviews:9080/r')).status).toBe(500); // 500 is no gateway error: not retried
    expect(none.records.at(-1)!.attempts).toBe(1);
  });

  it('mirror, mirrors and mirrorPercentage send copies to the shadow (Host -shadow) and never the answer', async () => {
    const s = await sidecar(vs(`  - match: [{uri: {prefix: /one}}]
    route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2, port: {number: 9080}}
    mirrorPercentage: {value: 100}
  - match: [{uri: {prefix: /none}}]
    route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 0}
  - match: [{uri: {prefix: /many}}]
    route: [{destination: {host: reviews, subset: v1}}]
    mirrors:
    - destination: {host: reviews, subset: v2, port: {number: 9080}}
      percentage: {value: 100}
`));
    v2.status = 500;
    expect(await which(s, 'http://reviews:9080/one')).toBe('reviews-v1');
    await waitFor(() => v2.seen.some((x) => x.url === '/one'), { what: 'the mirrored copy of /one' });
    expect(v2.seen.find((x) => x.url === '/one')!.headers.host).toBe('reviews-shadow:9080');
    expect(await which(s, 'http://reviews:9080/many')).toBe('reviews-v1');
    await waitFor(() => v2.seen.some((x) => x.url === '/many'), { what: 'the mirrored copy of /many' });
    expect(await which(s, 'http://reviews:9080/none')).toBe('reviews-v1');
    expect(await which(s, 'http://reviews:9080/one')).toBe('reviews-v1');
    await waitFor(() => v2.seen.filter((x) => x.url === '/one').length === 2, { what: 'the second copy of /one' });
    expect(v2.seen.some((x) => x.url === '/none')).toBe(false);
  });

  it('corsPolicy: a preflight from an allowed origin (exact, prefix, regex) is answered with the policy; others get no CORS headers', async () => {
    const s = await sidecar(vs(`  - corsPolicy:
      allowOrigins: [{exact: "https://shop.example"}, {prefix: "https://admin."}, {regex: "https://[a-z]+\\\\.partner\\\\.example"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-token]
      exposeHeaders: [x-trace]
      maxAge: 24h
      allowCredentials: true
    route: [{destination: {host: reviews, subset: v1}}]
`));
    const pre = (origin: string) => send(s.port, 'http://reviews:9080/c', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    for (const origin of ['https://shop.example', 'https://admin.shop.example', 'https://acme.partner.example']) {
      const r = await pre(origin);
      expect(r.headers['access-control-allow-origin']).toBe(origin);
      expect(r.headers['access-control-allow-methods']).toBe('GET,POST');
      expect(r.headers['access-control-allow-headers']).toBe('x-token');
      expect(r.headers['access-control-max-age']).toBe('86400');
      expect(r.headers['access-control-allow-credentials']).toBe('true');
    }
    expect(v1.seen).toHaveLength(0);
    const bad = await pre('https://evil.example');
    expect(bad.headers['access-control-allow-origin']).toBeUndefined();
    const actual = await send(s.port, 'http://reviews:9080/c', { headers: { origin: 'https://shop.example' } });
    expect(actual.headers['access-control-expose-headers']).toBe('x-trace');
    expect(actual.headers['access-control-allow-origin']).toBe('https://shop.example');
  });
});
