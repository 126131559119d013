// Path tricks and upgrade smuggling against real processes (issue 12 items 1 and 2): `bowline up`,
// httpbin and productpage sample apps with sidecars started from bootstrap tokens, a sleep
// sidecar as the client, an ingress gateway with Bookinfo's Gateway and VirtualService, and an
// app that accepts `Upgrade: h2c`. Paths are normalised once (mesh pathNormalization, BASE by
// default) before authorization and routing, on HTTP/1.1 and HTTP/2, inbound, outbound and at
// the gateway; only WebSocket upgrades are forwarded.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { repoRoot, start, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('bowline-e2e-paths-');
const children: Child[] = [];
let api = '';
let pushTls = 0;
/** Listener ports by proxy name, from their ports files. */
const ports: Record<string, Record<string, number>> = {};
let upgApp: http.Server;
const upgSeen: string[] = [];

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

/** Starts a sample app on an ephemeral port; resolves with the port it announced. */
async function sample(script: string, args: string[] = []): Promise<{ child: Child; port: number }> {
  const child = start(process.execPath, [`${repoRoot}dist/samples/${script}`, '--port', '0', '--host', '127.0.0.1', ...args]);
  children.push(child);
  const m = await waitFor(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(child.output()), { timeoutMs: 10_000, what: `${script} listening` });
  return { child, port: Number(m![1]) };
}

/** A sidecar (or gateway) from a bootstrap token; resolves once its ports file names its listeners. */
async function proxy(name: string, ns: string, sa: string, args: string[], waitListeners = true): Promise<Child> {
  const t = await cli(['token', 'create', '--namespace', ns, '--service-account', sa, '--ttl', '10m', '--server', api]);
  expect(t.code, t.out).toBe(0);
  const tokenFile = join(home, `${name}.token`);
  writeFileSync(tokenFile, t.out.split('\n').find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l.trim()))!.trim() + '\n');
  const portsFile = join(home, `${name}.ports.json`);
  const c = startBowline(['proxy', '--server', `127.0.0.1:${pushTls}`, '--token-file', tokenFile, '--name', name, '--namespace', ns, '--service-account', sa,
    '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', portsFile, ...args]);
  children.push(c);
  await waitFor(() => c.output().includes('workload certificate for spiffe://'), { timeoutMs: 20_000, what: () => `${name} certificate:\n${c.output()}` });
  if (waitListeners) await waitFor(() => {
    const l = (readPortsFile(portsFile, ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners;
    if (l !== undefined && Object.keys(l).length > 0) ports[name] = l;
    return ports[name] !== undefined;
  }, { timeoutMs: 15_000, what: `${name} listeners in its ports file` });
  return c;
}

/** The port of `name`'s listener whose name matches `re` (ports files are re-read: listeners come with config). */
function portOf(name: string, re: RegExp): number {
  const l = (readPortsFile(join(home, `${name}.ports.json`), ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners ?? {};
  const hit = Object.entries(l).find(([n]) => re.test(n));
  if (hit === undefined) throw new Error(`${name} has no listener matching ${re}: ${JSON.stringify(l)}`);
  return hit[1];
}

/**
 * One raw HTTP/1.1 request exactly as written (no client library touches the target). Resolves
 * once the response is complete: its Content-Length body read, a 101 head seen, or the socket closed.
 */
function raw(port: number, text: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = (): boolean => {
      const i = got.indexOf('\r\n\r\n');
      if (i < 0) return false;
      const head = got.slice(0, i);
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
      const len = /\r\ncontent-length: *(\d+)/i.exec(head);
      const body = got.slice(i + 4);
      if (status !== 101 && (len === null || body.length < Number(len[1]))) return false;
      resolve({ status, head, body });
      s.destroy();
      return true;
    };
    s.setTimeout(10_000, () => s.destroy(new Error(`no complete answer within 10 s: ${JSON.stringify(got.slice(0, 300))}`)));
    s.on('data', (d) => { got += d.toString('latin1'); done(); });
    s.on('error', reject);
    s.on('close', () => {
      if (done()) return;
      const i = got.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0), head: got.slice(0, i), body: i < 0 ? '' : got.slice(i + 4) });
    });
    s.write(text);
  });
}

/** GET `target` with `host`, connection close. */
const get = (port: number, target: string, host: string, extra = '') => raw(port, `GET ${target} HTTP/1.1\r\nhost: ${host}\r\n${extra}connection: close\r\n\r\n`);
/** Through sleep's sidecar (outbound, absolute-form as an HTTP_PROXY client sends). */
const viaSleep = (path: string) => get(portOf('sleep', /outbound/), `http://httpbin.foo:8000${path}`, 'httpbin.foo:8000');
/** Straight to httpbin's sidecar inbound port (plaintext is accepted: PERMISSIVE). */
const inbound = (path: string) => get(portOf('httpbin', /inbound/), path, 'httpbin.foo:8000');

/** One HTTP/2 (h2c, prior knowledge) request to httpbin's inbound port. */
function inboundH2(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${portOf('httpbin', /inbound/)}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'GET', ':path': path, ':authority': 'httpbin.foo:8000' });
    req.on('response', (h) => { req.resume(); req.on('end', () => { session.close(); resolve(Number(h[':status'])); }); });
    req.on('error', reject);
    req.end();
  });
}

const TRICKS = ['/x/../headers', '/./headers', '/%2e%2e/headers', '/x/%2E%2E/headers', '/a/b/../../headers', '/x\\..\\headers'];

beforeAll(async () => {
  const portsFile = join(home, 'ports.json');
  const cp = startBowline(['up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--ports-file', portsFile], { env: { BOWLINE_HOME: home } });
  children.push(cp);
  await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 20_000, what: () => `bowline up:\n${cp.output()}` });
  const p = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; pushTls: number };
  api = `http://127.0.0.1:${p.api}`;
  pushTls = p.pushTls;
  // The h2c-willing app: answers `Upgrade: h2c` with 101 (as an h2c server does), anything else with 200 "plain".
  upgApp = http.createServer((req, res) => { upgSeen.push(`${req.method} ${req.url} upgrade=${req.headers.upgrade ?? ''}`); res.end('plain'); });
  upgApp.on('upgrade', (req, socket) => {
    upgSeen.push(`UPGRADE ${req.url} ${String(req.headers.upgrade)}`);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n');
    socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // an empty SETTINGS frame: the app now speaks HTTP/2
  });
  await new Promise<void>((r) => upgApp.listen(0, '127.0.0.1', r));
  const [httpbin, sleep, productpage] = await Promise.all([sample('httpbin/httpbin.js'), sample('sleep/sleep.js'), sample('bookinfo/productpage.js')]);
  const upg = (upgApp.address() as { port: number }).port;
  await Promise.all([
    proxy('httpbin', 'foo', 'httpbin', ['--labels', 'app=httpbin', '--service', `httpbin:8000@${httpbin.port}`, '--bind-port', '8000=0', '--outbound-port', '0']),
    proxy('upg', 'foo', 'upg', ['--labels', 'app=upg', '--service', `upg:8080@${upg}`, '--bind-port', '8080=0', '--outbound-port', '0']),
    proxy('sleep', 'foo', 'sleep', ['--labels', 'app=sleep', '--service', `sleep:80@${sleep.port}`, '--bind-port', '80=0', '--outbound-port', 'auto']),
    proxy('productpage', 'default', 'bookinfo-productpage', ['--labels', 'app=productpage,version=v1', '--service', `productpage:9080@${productpage.port}`, '--bind-port', '9080=0', '--outbound-port', '0']),
    proxy('gateway', 'istio-system', 'istio-ingressgateway', ['--gateway', '--labels', 'istio=ingressgateway,app=istio-ingressgateway', '--bind-port', '80=0'], false),
  ]);
  const gw = readFileSync(`${repoRoot}samples/networking/bookinfo-gateway.yaml`, 'utf8');
  await apply('bookinfo-gateway', gw);
  await waitFor(async () => (await viaSleep('/get')).status === 200, { timeoutMs: 20_000, what: 'sleep -> httpbin /get 200' });
  await waitFor(() => { try { return portOf('gateway', /80/) > 0; } catch { return false; } }, { timeoutMs: 20_000, what: 'gateway listener' });
  await waitFor(async () => (await get(portOf('gateway', /80/), '/api/v1/products', 'bookinfo.test')).status === 200, { timeoutMs: 20_000, what: 'gateway -> productpage 200' });
}, 120_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  await new Promise<void>((r) => { upgApp?.close(() => r()); upgApp?.closeAllConnections(); });
});

describe('DENY /headers holds against path tricks', () => {
  beforeAll(async () => {
    await apply('deny-headers', `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-headers, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/headers"]}
`);
    await waitFor(async () => (await inbound('/headers')).status === 403, { timeoutMs: 20_000, what: 'DENY /headers in effect' });
  });

  it.each(TRICKS)('%s is refused on the inbound listener, through the client sidecar, and over HTTP/2', async (trick) => {
    const direct = await inbound(trick);
    expect(direct.status, direct.head).toBe(403);
    expect(direct.body).toBe('RBAC: access denied');
    expect((await viaSleep(trick)).status).toBe(403);
    expect(await inboundH2(trick)).toBe(403);
  });

  it('the upstream receives the normalised path (allowed requests still work)', async () => {
    const r = await inbound('/x/../anything/%61b/./c');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).url).toMatch(/\/anything\/ab\/c$/);
  });

  it('a path that cannot be normalised gets 400 with a code', async () => {
    for (const bad of ['/head%zzers', '/headers%00', '/a%2']) {
      const r = await inbound(bad);
      expect(r.status, bad).toBe(400);
      expect(r.body).toContain('BOWLINE_E_HTTP_PATH_ENCODING');
    }
  });
});

describe('ALLOW /anything/* does not let /anything/../headers through', () => {
  beforeAll(async () => {
    expect((await cli(['delete', 'AuthorizationPolicy', 'deny-headers', '-n', 'foo', '--server', api])).code).toBe(0);
    await apply('allow-anything', `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-anything, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - to:
    - operation: {paths: ["/anything/*"]}
`);
    await waitFor(async () => (await inbound('/get')).status === 403, { timeoutMs: 20_000, what: 'ALLOW /anything/* in effect' });
  });

  it('refuses the escape and still allows /anything/x', async () => {
    expect((await inbound('/anything/x')).status).toBe(200);
    for (const t of ['/anything/../headers', '/anything/%2e%2e/headers', '/anything/x/../../headers']) {
      expect((await inbound(t)).status, t).toBe(403);
      expect((await viaSleep(t)).status, t).toBe(403);
      expect(await inboundH2(t), t).toBe(403);
    }
  });

  it('MeshConfig pathNormalization is honoured: MERGE_SLASHES merges, NONE passes tricks through, BASE again', async () => {
    const mesh = (mode: string) => apply(`mesh-${mode}`, `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    pathNormalization: {normalization: ${mode}}
`);
    expect((await inbound('/anything//x')).status).toBe(200);
    await mesh('MERGE_SLASHES');
    // `//anything/x` is refused under BASE (not under /anything/), allowed once slashes merge.
    await waitFor(async () => (await inbound('//anything/x')).status === 200, { timeoutMs: 20_000, what: 'MERGE_SLASHES in effect' });
    await mesh('NONE');
    // The operator chose NONE: the proxy no longer normalises (Istio documents this as vulnerable).
    await waitFor(async () => (await inbound('/anything/../headers')).status === 200, { timeoutMs: 20_000, what: 'NONE in effect' });
    await mesh('BASE');
    await waitFor(async () => (await inbound('/anything/../headers')).status === 403, { timeoutMs: 20_000, what: 'BASE in effect' });
  });
});

describe('at the gateway', () => {
  it('/static/../health does not reach productpage when /health is 404', async () => {
    const gw = portOf('gateway', /80/);
    const before = (await get(gw, '/static/bookinfo.css', 'bookinfo.test')).status;
    expect(before).toBe(200);
    const health = await get(gw, '/health', 'bookinfo.test');
    expect(health.status).toBe(404);
    for (const t of ['/static/../health', '/static/%2e%2e/health', '/static\\..\\health']) {
      const r = await get(gw, t, 'bookinfo.test');
      expect(r.status, t).toBe(404);
      expect(r.body, t).toBe('');
    }
    const pp = children.find((c) => c.output().includes('productpage listening'))!;
    expect(pp.output()).not.toMatch(/\/health/);
  });
});

describe('upgrades by allowlist', () => {
  const upgrade = (token: string) => raw(portOf('sleep', /outbound/), `GET http://upg.foo:8080/ HTTP/1.1\r\nhost: upg.foo:8080\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: ${token}\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`);

  it('Upgrade: h2c on an allowed route gets a plain HTTP/1.1 answer, never 101', async () => {
    await waitFor(async () => (await viaSleepTo('upg.foo:8080', '/')).status === 200, { timeoutMs: 20_000, what: 'sleep -> upg 200' });
    upgSeen.length = 0;
    for (const token of ['h2c', 'foo/1', 'TLS/1.2']) {
      const r = await upgrade(token);
      expect(r.status, `${token}: ${r.head}`).toBe(200);
      expect(r.body).toContain('plain');
    }
    expect(upgSeen.every((l) => l.startsWith('GET / upgrade=')), upgSeen.join('\n')).toBe(true);
    expect(upgSeen.join('\n')).not.toContain('h2c');
  });
});

/** A GET through sleep's sidecar to another service. */
function viaSleepTo(hostPort: string, path: string) {
  return get(portOf('sleep', /outbound/), `http://${hostPort}${path}`, hostPort);
}
