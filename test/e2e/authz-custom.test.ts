// AuthorizationPolicy action CUSTOM end to end: MeshConfig extensionProviders envoyExtAuthzHttp,
// a real external authorizer (an HTTP server started here, registered by a ServiceEntry), real
// sidecars. Checks Istio's order (CUSTOM, then DENY, then ALLOW), the headers each way, and that
// a provider that cannot be asked (unreachable, timing out, 5xx, unknown name, not an authorizer) fails closed.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customPolicy, httpbinAndSleep, sleepToHttpbin } from './ext-authz-harness.js';
import { settle, TestMesh, type Sidecar } from './mesh-harness.js';
import { waitFor, waitForOutput } from '../support/wait.js';

const mesh = new TestMesh();
let httpbin: Sidecar;
let sleep: Sidecar;
/** Check requests the authorizer received. */
const checks: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }> = [];
/** Headers the app behind httpbin's sidecar received, by path. */
const seen = new Map<string, http.IncomingHttpHeaders>();
const servers: http.Server[] = [];
const sockets = new Set<Socket>();
let authzPort = 0;
let resetPort = 0;

async function listen(s: http.Server): Promise<number> {
  servers.push(s);
  s.on('connection', (c) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/** The external authorizer: allows `x-ext-authz: allow`, answers 500 for /boom, never answers /hang, denies the rest. */
function authorizer(req: http.IncomingMessage, res: http.ServerResponse): void {
  checks.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
  if (req.url?.includes('/hang')) return;
  if (req.url?.includes('/boom')) { res.writeHead(500); res.end('authorizer broke'); return; }
  if (req.headers['x-ext-authz'] === 'allow') {
    res.writeHead(200, { 'x-ext-authz-check-result': 'allowed', 'x-not-forwarded': 'no' });
    res.end();
    return;
  }
  res.writeHead(403, { 'x-ext-authz-check-result': 'denied', 'x-secret': 'do-not-leak', 'content-type': 'text/plain' });
  res.end('denied by ext_authz for testing purpose');
}

/** One request through sleep's outbound listener, with response headers. */
const get = (path: string, headers: Record<string, string> = {}) => sleepToHttpbin(sleep, path, headers);

const meshConfig = (extra = '') => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: ext-authz-http
      envoyExtAuthzHttp:
        service: foo/ext-authz.foo.svc.cluster.local
        port: 8000
        pathPrefix: /check
        timeout: 0.5s
        includeRequestHeadersInCheck: [x-ext-authz, "x-pass-*"]
        includeAdditionalHeadersInCheck: {x-added-by-proxy: "yes"}
        headersToUpstreamOnAllow: [x-ext-authz-check-result]
        headersToDownstreamOnDeny: [x-ext-authz-check-result, content-type]
    - name: unreachable
      envoyExtAuthzHttp:
        service: ext-reset.foo.svc.cluster.local
        port: 8000
        statusOnError: "503"
    - name: unreachable-open
      envoyExtAuthzHttp:
        service: ext-reset.foo.svc.cluster.local
        port: 8000
        failOpen: true
    - name: zipkin-not-authz
      zipkin:
        service: zipkin.istio-system.svc.cluster.local
        port: 9411
${extra}`;


beforeAll(async () => {
  await mesh.up();
  authzPort = await listen(http.createServer(authorizer));
  const reset = http.createServer();
  reset.on('connection', (c) => c.destroy());
  resetPort = await listen(reset);
  ({ httpbin, sleep } = await httpbinAndSleep(mesh, seen));
  const r = await mesh.apply('providers', `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext-authz, namespace: foo}
spec:
  hosts: [ext-authz.foo.svc.cluster.local]
  ports: [{number: 8000, name: http, protocol: HTTP, targetPort: ${authzPort}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext-reset, namespace: foo}
spec:
  hosts: [ext-reset.foo.svc.cluster.local]
  ports: [{number: 8000, name: http, protocol: HTTP, targetPort: ${resetPort}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
${meshConfig()}`);
  expect(r.code, r.out).toBe(0);
  await settle(sleep.outbound, 'http://httpbin.foo:8000/get', 200);
}, 90_000);

afterAll(async () => {
  await mesh.down();
  for (const c of sockets) c.destroy();
  for (const s of servers) s.close();
});

describe('AuthorizationPolicy CUSTOM with an envoyExtAuthzHttp provider, enforced by real proxies', () => {
  it('asks the external authorizer per request: its 200 allows with headersToUpstreamOnAllow, its denial reaches the client', async () => {
    const r = await mesh.apply('custom', customPolicy('ext-authz-http'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('BOWLINE_W_API_NOT_ENFORCED');
    await waitFor(async () => (await get('/custom/a')).status === 403, { timeoutMs: 20_000, what: 'CUSTOM policy in effect' });

    const before = checks.length;
    const ok = await get('/custom/a?x=1', { 'x-ext-authz': 'allow', 'x-pass-me': 'p', 'x-other': 'o' });
    expect(ok.status, httpbin.child.output().slice(-3000)).toBe(200);
    expect(ok.body).toBe('httpbin GET /custom/a?x=1');
    // What the authorizer saw: method, pathPrefix + path, Host = the provider's service, only the headers it asked for.
    const c = checks[checks.length - 1]!;
    expect(checks.length).toBe(before + 1);
    expect(c.method).toBe('GET');
    expect(c.url).toBe('/check/custom/a?x=1');
    expect(c.headers.host).toBe('ext-authz.foo.svc.cluster.local:8000');
    expect(c.headers['x-ext-authz']).toBe('allow');
    expect(c.headers['x-pass-me']).toBe('p');
    expect(c.headers['x-added-by-proxy']).toBe('yes');
    expect(c.headers['x-other']).toBeUndefined();
    expect(c.headers['content-length']).toBe('0');
    // headersToUpstreamOnAllow: the app got the authorizer's header, not the others.
    expect(seen.get('/custom/a?x=1')?.['x-ext-authz-check-result']).toBe('allowed');
    expect(seen.get('/custom/a?x=1')?.['x-not-forwarded']).toBeUndefined();

    const denied = await get('/custom/b', { 'x-secret': 'mine' });
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('denied by ext_authz for testing purpose');
    expect(denied.headers['x-ext-authz-check-result']).toBe('denied');
    expect(denied.headers['x-secret']).toBeUndefined(); // not in headersToDownstreamOnDeny
    expect(denied.headers['content-type']).toBe('text/plain');
    expect(seen.has('/custom/b')).toBe(false);

    // A request the policy's rules do not select is not checked at all.
    const n = checks.length;
    expect((await get('/get')).status).toBe(200);
    expect(checks.length).toBe(n);
  });

  it('runs CUSTOM before DENY and ALLOW, as Istio orders them', async () => {
    const r = await mesh.apply('custom-deny', `${customPolicy('ext-authz-http')}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-some, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/custom/denied"]}
`);
    expect(r.code, r.out).toBe(0);
    await waitFor(async () => (await get('/custom/denied', { 'x-ext-authz': 'allow' })).status === 403, { timeoutMs: 20_000, what: 'DENY policy in effect' });
    // Allowed by the authorizer, then refused by DENY: the authorizer was asked first.
    const n = checks.length;
    const d = await get('/custom/denied', { 'x-ext-authz': 'allow' });
    expect(d).toMatchObject({ status: 403, body: 'RBAC: access denied' });
    expect(checks.length).toBe(n + 1);
    // Refused by the authorizer: its answer, not RBAC's.
    expect((await get('/custom/denied')).body).toBe('denied by ext_authz for testing purpose');
    expect((await get('/custom/fine', { 'x-ext-authz': 'allow' })).status).toBe(200);
    await mesh.cli(['delete', 'authorizationpolicy', 'deny-some', '-n', 'foo']);
  });

  it('fails closed when the authorizer cannot be reached, times out or answers 5xx, unless failOpen', async () => {
    // 5xx from the authorizer is an error, not an answer: refused with the default 403 and no body of its.
    const boom = await get('/custom/boom', { 'x-ext-authz': 'allow' });
    expect(boom.status).toBe(403);
    expect(boom.body).not.toContain('authorizer broke');
    // timeout 0.5s: a check that never answers refuses the request.
    expect((await get('/custom/hang', { 'x-ext-authz': 'allow' })).status).toBe(403);

    expect((await mesh.apply('custom', customPolicy('unreachable'))).code).toBe(0);
    await waitFor(async () => (await get('/custom/a', { 'x-ext-authz': 'allow' })).status === 503, { timeoutMs: 20_000, what: 'statusOnError 503 when the provider resets' });
    await waitForOutput(httpbin.child, 'BOWLINE_E_EXT_AUTHZ_UNAVAILABLE', { what: 'the sidecar logs the unreachable provider' });

    expect((await mesh.apply('custom', customPolicy('unreachable-open'))).code).toBe(0);
    await waitFor(async () => (await get('/custom/a')).status === 200, { timeoutMs: 20_000, what: 'failOpen lets requests through' });
  });

  it('an unknown provider or one that is no authorizer: the policy reports why and what it selects is denied', async () => {
    for (const name of ['no-such-provider', 'zipkin-not-authz']) {
      expect((await mesh.apply('custom', customPolicy(name))).code).toBe(0);
      await waitFor(async () => (await get('/custom/a', { 'x-ext-authz': 'allow' })).status === 403, { timeoutMs: 20_000, what: `${name}: fail closed` });
      expect(await get('/custom/a', { 'x-ext-authz': 'allow' })).toMatchObject({ status: 403, body: 'RBAC: access denied' });
      expect((await get('/get')).status).toBe(200); // what the policy does not select still flows
      const st = await waitFor(async () => { const o = (await mesh.cli(['get', 'authorizationpolicy', 'ext-authz', '-n', 'foo', '-o', 'yaml'])).out; return o.includes('BOWLINE_E_CONFIG_AUTHZ_PROVIDER') ? o : undefined; }, { timeoutMs: 10_000, what: 'status names the provider problem' });
      expect(st).toContain(name);
      expect(st).toMatch(/type: Reconciled\n\s+status: "?False"?/);
    }
  });
});
