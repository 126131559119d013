// AuthorizationPolicy end to end, from Istio YAML through the control plane's translation to the
// proxies' decisions, with real sidecars and real peer certificates. The first case is issue 11's
// fail-open: an ALLOW rule naming only `serviceAccounts` allowed every caller.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, settle, TestMesh, type Sidecar } from './mesh-harness.js';

const mesh = new TestMesh();
let httpbin: Sidecar;
let sleep: Sidecar;
let other: Sidecar;
const URL_ = 'http://httpbin.foo:8000/get';

beforeAll(async () => {
  await mesh.up();
  [httpbin, sleep, other] = await Promise.all([
    mesh.sidecar('httpbin', 'foo', 'httpbin', 8000),
    mesh.sidecar('sleep', 'foo', 'sleep', 80),
    mesh.sidecar('other', 'bar', 'other', 80),
  ]);
  await settle(sleep.outbound, URL_, 200);
  await settle(other.outbound, URL_, 200);
}, 90_000);
afterAll(() => mesh.down());

const policy = (name: string, spec: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
${spec}`;

describe('AuthorizationPolicy from YAML, enforced by real proxies', () => {
  it('ALLOW with only serviceAccounts admits that service account and denies every other caller', async () => {
    const r = await mesh.apply('allow-sa', policy('allow-sleep', `  action: ALLOW
  rules:
  - from:
    - source:
        serviceAccounts: ["foo/sleep"]
`));
    expect(r.code, r.out).toBe(0);
    await settle(other.outbound, URL_, 403);
    expect(await call(other.outbound, URL_)).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect(await call(sleep.outbound, URL_)).toEqual({ status: 200, body: 'httpbin GET /get' });
    // A plaintext caller straight to httpbin's inbound port has no certificate: denied too.
    expect((await call(httpbin.inbound, '/get')).status).toBe(403);
  });

  it('notServiceAccounts, principals, namespaces, methods, paths and when keys', async () => {
    const r = await mesh.apply('allow-sa', policy('allow-sleep', `  action: ALLOW
  rules:
  - from:
    - source:
        notServiceAccounts: ["foo/sleep"]
    to:
    - operation: {methods: ["GET"], paths: ["/get", "/anything/*"]}
    when:
    - key: source.principal
      values: ["cluster.local/*"]
  - from:
    - source: {namespaces: ["foo"]}
    when:
    - key: request.headers[x-ok]
      values: ["yes"]
  - from:
    - source: {principals: ["cluster.local/ns/bar/sa/other"]}
    to:
    - operation: {paths: ["/status/*"]}
`));
    expect(r.code, r.out).toBe(0);
    await settle(sleep.outbound, URL_, 403);
    expect((await call(other.outbound, URL_)).status).toBe(200);
    expect((await call(other.outbound, 'http://httpbin.foo:8000/anything/x')).status).toBe(200);
    expect((await call(other.outbound, 'http://httpbin.foo:8000/post')).status).toBe(403);
    expect((await call(other.outbound, URL_, { method: 'DELETE' })).status).toBe(403);
    expect((await call(sleep.outbound, URL_, { headers: { 'x-ok': 'yes' } })).status).toBe(200);
    expect((await call(other.outbound, 'http://httpbin.foo:8000/post', { headers: { 'x-ok': 'yes' } })).status).toBe(403);
    // principals (in a source of its own: Istio refuses serviceAccounts beside principals in one source)
    expect((await call(other.outbound, 'http://httpbin.foo:8000/status/200')).status).toBe(200);
    expect((await call(sleep.outbound, 'http://httpbin.foo:8000/status/200')).status).toBe(403);
  });

  it('every other Source and Operation field, with a DENY beside the ALLOW', async () => {
    const r = await mesh.apply('allow-sa', policy('allow-sleep', `  action: ALLOW
  rules:
  - from:
    - source:
        ipBlocks: ["127.0.0.0/8"]
        notIpBlocks: ["10.0.0.0/8"]
        remoteIpBlocks: ["127.0.0.1/32"]
        notRemoteIpBlocks: ["192.0.2.0/24"]
        notNamespaces: ["bar"]
        notPrincipals: ["cluster.local/ns/foo/sa/nobody"]
    to:
    - operation:
        hosts: ["httpbin.foo*"]
        notHosts: ["evil.*"]
        ports: ["8000"]
        notPorts: ["9999"]
        notMethods: ["DELETE"]
        notPaths: ["/private"]
    when:
    - key: source.ip
      values: ["127.0.0.1"]
    - key: destination.port
      notValues: ["15000"]
    - key: source.namespace
      values: ["foo"]
    - key: source.principal
      notValues: ["*/sa/nobody"]
---
${policy('deny-some', `  action: DENY
  rules:
  - to:
    - operation: {paths: ["/denied"]}
`)}`));
    expect(r.code, r.out).toBe(0);
    await settle(other.outbound, URL_, 403);
    expect(await call(sleep.outbound, URL_)).toEqual({ status: 200, body: 'httpbin GET /get' });
    expect((await call(sleep.outbound, URL_, { method: 'DELETE' })).status).toBe(403);
    expect((await call(sleep.outbound, 'http://httpbin.foo:8000/private')).status).toBe(403);
    expect((await call(sleep.outbound, 'http://httpbin.foo:8000/denied')).status).toBe(403);
    expect((await call(sleep.outbound, 'http://httpbin.foo:8000/anything')).status).toBe(200);
    expect((await call(httpbin.inbound, '/get')).status).toBe(403);
    await mesh.cli(['delete', 'authorizationpolicy', 'deny-some', '-n', 'foo']);
  });

  it('an ALLOW whose only rule cannot be evaluated allows nothing; a DENY that cannot be evaluated denies all', async () => {
    await mesh.cli(['delete', 'authorizationpolicy', 'allow-sleep', '-n', 'foo']);
    await settle(sleep.outbound, URL_, 200, { 'x-ok': 'no' });
    const allow = await mesh.apply('odd-allow', policy('odd', `  action: ALLOW
  rules:
  - when:
    - key: experimental.envoy.filters.network.mysql_proxy[db.table]
      values: ["x"]
`));
    expect(allow.code, allow.out).toBe(0);
    await settle(sleep.outbound, URL_, 403);
    expect((await call(other.outbound, URL_)).status).toBe(403);
    const deny = await mesh.apply('odd-deny', policy('odd', `  action: DENY
  rules:
  - from:
    - source: {namespaces: ["bar"]}
  - when:
    - key: experimental.envoy.filters.network.mysql_proxy[db.table]
      values: ["x"]
`));
    expect(deny.code, deny.out).toBe(0);
    await settle(sleep.outbound, URL_, 403);
    expect((await call(other.outbound, URL_)).status).toBe(403);
    await mesh.cli(['delete', 'authorizationpolicy', 'odd', '-n', 'foo']);
    await settle(sleep.outbound, URL_, 200);
  });
});
