// Istio 1.0's mTLS walkthrough, end to end with real processes: `bowline up` (CA, TLS push
// stream), the httpbin and sleep sample apps with sidecars started from bootstrap tokens
// (`bowline proxy --token-file`), a second service (hello) as the bystander. Auto-mTLS off
// (--mesh-config): a mesh-wide MeshPolicy alone gives 503s and `authn check` names the
// conflict; a DestinationRule ISTIO_MUTUAL fixes it; then the same per service with a Policy.
// Auto-mTLS on (the istio ConfigMap): MeshPolicy alone works; a DestinationRule DISABLE toward
// the STRICT service is the conflict.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { repoRoot, start, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('bowline-e2e-mtls-');
const children: Child[] = [];
let api = '';
let sleepOutbound = 0;

/** Runs a one-shot CLI command; resolves with its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const c = startBowline(args, { env: { BOWLINE_HOME: home } });
  const code = (await c.exited()) ?? -1; // (its output read to the end, not only its exit seen)
  return { code, out: c.output() };
}

async function apply(name: string, yaml: string): Promise<void> {
  const file = join(home, `${name}.yaml`);
  writeFileSync(file, yaml);
  const r = await cli(['apply', '-f', file, '--server', api]);
  expect(r.code, r.out).toBe(0);
}
async function del(kind: string, name: string, ns?: string): Promise<void> {
  const r = await cli(['delete', kind, name, ...(ns ? ['-n', ns] : []), '--server', api]);
  expect(r.code, r.out).toBe(0);
}

/** What sleep's app sees when it calls through its sidecar (HTTP_PROXY, absolute-form). */
function viaSleep(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: sleepOutbound, path: url, headers: { host: new URL(url).host }, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}
/** `sleep fetch URL`: the sleep sample app's curl, through its sidecar (HTTP_PROXY); resolves with its output. */
async function sleepFetch(url: string): Promise<string> {
  const c = start(process.execPath, [`${repoRoot}dist/samples/sleep/sleep.js`, 'fetch', url], { env: { HTTP_PROXY: `http://127.0.0.1:${sleepOutbound}` } });
  await c.exited();
  return c.output();
}
const HTTPBIN = 'http://httpbin.foo:8000/headers';
const HELLO = 'http://hello.foo:5000/get';
const settle = (url: string, status: number) => waitFor(async () => (await viaSleep(url)) === status, { timeoutMs: 20_000, what: `${url} -> ${status}` });

const authn = (svc: string) => cli(['authn', 'check', svc, '--namespace', 'foo', '--server', api]);

async function sidecar(name: string, sa: string, args: string[], tlsPort: number): Promise<Child> {
  const t = await cli(['token', 'create', '--namespace', 'foo', '--service-account', sa, '--ttl', '10m', '--server', api]);
  expect(t.code, t.out).toBe(0);
  const tokenFile = join(home, `${name}.token`);
  writeFileSync(tokenFile, t.out.split('\n').find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l.trim()))!.trim() + '\n');
  const c = startBowline(['proxy', '--server', `127.0.0.1:${tlsPort}`, '--token-file', tokenFile, '--name', name, '--labels', `app=${name}`, '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', ...args]);
  children.push(c);
  await waitFor(() => c.output().includes('workload certificate for spiffe://cluster.local/ns/foo/sa/'), { timeoutMs: 15_000, what: () => `${name} certificate:\n${c.output()}` });
  return c;
}

/** Starts a sample app on a port from the kernel; resolves with the port it announced. */
async function sample(script: string): Promise<number> {
  const c = start(process.execPath, [`${repoRoot}dist/samples/${script}`, '--port', '0', '--host', '127.0.0.1']);
  children.push(c);
  const m = await waitFor(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(c.output()), { timeoutMs: 15_000, what: `${script} listening` });
  return Number(m![1]);
}

beforeAll(async () => {
  const meshFile = join(home, 'mesh.yaml');
  writeFileSync(meshFile, 'enableAutoMtls: false\n');
  const portsFile = join(home, 'ports.json');
  const cp = startBowline(['up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--mesh-config', meshFile, '--ports-file', portsFile], { env: { BOWLINE_HOME: home } });
  children.push(cp);
  await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 20_000, what: () => `bowline up:\n${cp.output()}` });
  const ports = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; pushTls: number };
  api = `http://127.0.0.1:${ports.api}`;
  const [httpbinApp, helloApp, sleepApp] = await Promise.all([sample('httpbin/httpbin.js'), sample('httpbin/httpbin.js'), sample('sleep/sleep.js')]);
  await Promise.all([
    sidecar('httpbin', 'httpbin', ['--service', `httpbin:8000@${httpbinApp}`, '--bind-port', '8000=0', '--outbound-port', '0', '--ports-file', join(home, 'httpbin.ports.json')], ports.pushTls),
    sidecar('hello', 'hello', ['--service', `hello:5000@${helloApp}`, '--bind-port', '5000=0', '--outbound-port', '0'], ports.pushTls),
    sidecar('sleep', 'sleep', ['--service', `sleep:80@${sleepApp}`, '--bind-port', '80=0', '--outbound-port', 'auto', '--ports-file', join(home, 'sleep.ports.json')], ports.pushTls),
  ]);
  // Proxy ports are bound by the proxies at start (`=0`, `auto`); sleep's outbound is read from its ports file.
  await waitFor(() => {
    const l = (readPortsFile(join(home, 'sleep.ports.json'), ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners;
    sleepOutbound = l?.outbound ?? 0;
    return sleepOutbound > 0;
  }, { timeoutMs: 15_000, what: 'sleep outbound listener in its ports file' });
  await settle(HTTPBIN, 200);
  await settle(HELLO, 200);
}, 90_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
});

const MESH_POLICY = `apiVersion: authentication.istio.io/v1alpha1
kind: MeshPolicy
metadata: {name: default}
spec:
  peers:
  - mtls: {}
`;
const DR_ALL = `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: default, namespace: istio-system}
spec:
  host: "*.local"
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
`;

describe('mTLS walkthrough with auto-mTLS off (Istio 1.0)', () => {
  it('a mesh-wide MeshPolicy alone: 503 for the client, authn check CONFLICT naming both sides', async () => {
    await apply('meshpolicy', MESH_POLICY);
    await settle(HTTPBIN, 503);
    await settle(HELLO, 503);
    const r = await authn('httpbin.foo');
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('CONFLICT httpbin.foo.svc.cluster.local:8000');
    expect(r.out).toContain('STRICT, set by MeshPolicy default');
    expect(r.out).toContain('send plaintext (no DestinationRule)');
  });

  it('adding a DestinationRule with ISTIO_MUTUAL for the hosts: OK and the calls succeed', async () => {
    await apply('dr-all', DR_ALL);
    await settle(HTTPBIN, 200);
    await settle(HELLO, 200);
    const r = await authn('httpbin.foo');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/httpbin\.foo\.svc\.cluster\.local:8000\s+foo\s+STRICT\s+MeshPolicy default\s+ISTIO_MUTUAL\s+DestinationRule istio-system\/default\s+OK/);
    // As in Istio's walkthrough: httpbin sees who called, from its sidecar's mTLS.
    expect(await sleepFetch(HTTPBIN)).toContain('"X-Forwarded-Client-Cert":"By=spiffe://cluster.local/ns/foo/sa/httpbin;URI=spiffe://cluster.local/ns/foo/sa/sleep"');
  });

  it('per service: a Policy for httpbin alone, then its DestinationRule; hello is unaffected', async () => {
    await del('destinationrule', 'default', 'istio-system');
    await del('meshpolicy', 'default');
    await settle(HTTPBIN, 200);
    await apply('policy', `apiVersion: authentication.istio.io/v1alpha1
kind: Policy
metadata: {name: httpbin-mtls, namespace: foo}
spec:
  targets:
  - name: httpbin
  peers:
  - mtls: {}
`);
    await settle(HTTPBIN, 503);
    expect(await viaSleep(HELLO)).toBe(200);
    const bad = await authn('httpbin.foo');
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('STRICT, set by Policy foo/httpbin-mtls-httpbin');
    expect((await authn('hello.foo')).code).toBe(0);
    await apply('dr-httpbin', `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
`);
    await settle(HTTPBIN, 200);
    expect(await viaSleep(HELLO)).toBe(200);
    const ok = await authn('httpbin.foo');
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('DestinationRule foo/httpbin');
    await del('destinationrule', 'httpbin', 'foo');
    await del('policy', 'httpbin-mtls', 'foo');
  });
});

describe('mTLS walkthrough with auto-mTLS on (the default)', () => {
  it('the MeshPolicy alone just works; a DestinationRule DISABLE toward the STRICT service is the conflict', async () => {
    await apply('mesh-cm', `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    enableAutoMtls: true
`);
    await apply('meshpolicy', MESH_POLICY);
    await waitFor(async () => (await authn('httpbin.foo')).out.includes('auto-mTLS'), { timeoutMs: 20_000, what: 'auto-mTLS in effect' });
    await settle(HTTPBIN, 200);
    expect(await viaSleep(HELLO)).toBe(200);
    expect((await authn('httpbin.foo')).code).toBe(0);
    await apply('dr-disable', `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin
  trafficPolicy:
    tls: {mode: DISABLE}
`);
    await settle(HTTPBIN, 503);
    expect(await viaSleep(HELLO)).toBe(200);
    const r = await authn('httpbin.foo');
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('send plaintext (DestinationRule foo/httpbin)');
    expect(r.out).toContain('STRICT, set by MeshPolicy default');
  });

  it('a client without a sidecar has no workload certificate: the STRICT server refuses it and authn check says CONFLICT, not OK', async () => {
    await del('destinationrule', 'httpbin', 'foo');
    await settle(HTTPBIN, 200);
    // A workload on a machine without a Bowline proxy, registered as istioctl register does.
    const reg = await cli(['register', 'legacy-client', '127.0.0.1', '80', '-n', 'legacy', '--labels', 'app=legacy-client', '--server', api]);
    expect(reg.code, reg.out).toBe(0);
    // Every client namespace (no --namespace): the sidecars of foo are OK, the legacy client is the conflict.
    const check = () => cli(['authn', 'check', 'httpbin.foo', '--server', api]);
    const r = await waitFor(async () => { const x = await check(); return x.out.includes('legacy') ? x : undefined; }, { timeoutMs: 20_000, what: 'a row for the clients in namespace legacy' });
    expect(r!.code, r!.out).toBe(1);
    expect(r!.out).toMatch(/CONFLICT httpbin\.foo\.svc\.cluster\.local:8000[^\n]*/);
    expect(r!.out).toContain('without a sidecar have no workload certificate');
    expect(r!.out).toMatch(/httpbin\.foo\.svc\.cluster\.local:8000\s+foo\s+STRICT[^\n]*OK/);
    expect((await cli(['authn', 'check', 'httpbin.foo', '--namespace', 'legacy', '--server', api])).code).toBe(1);
    // What that client meets: its plaintext request to httpbin's port is refused by the sidecar.
    const inbound = (readPortsFile(join(home, 'httpbin.ports.json'), ['admin']) as unknown as { listeners: Record<string, number> }).listeners;
    const port = Object.entries(inbound).find(([name]) => name.startsWith('inbound'))![1];
    const got = await new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/headers', headers: { host: 'httpbin.foo:8000' }, agent: false, timeout: 5000 }, (res) => { res.resume(); resolve(String(res.statusCode)); });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.end();
    });
    expect(got).toMatch(/^error /);
  });
});
