// Outbound traffic to the rest of the world, with real processes: `bowline up` and a sidecar
// whose app calls through HTTP_PROXY (curl -x). ALLOW_ANY (the default) forwards requests to
// hosts the mesh does not know (loopback included in explicit mode; never the proxy's own
// admin or metrics port), counted as PassthroughCluster; `CONNECT host:port` (curl's https://
// through a proxy) becomes a TCP tunnel routed by the TLS rules (SNI of a TLS ServiceEntry) or
// passed through; REGISTRY_ONLY answers 502 (BlackHoleCluster) and closes unknown tunnels, while
// a ServiceEntry with `resolution: NONE` still forwards to the address the client asked for.
import { execFileSync, execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, startBowline, runBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('bowline-e2e-passthrough-');
const children: Child[] = [];
let api = '';
let outbound = 0;
let adminPort = 0;
let metricsPort = 0;
let backendPort = 0;
let tlsPort = 0;
const servers: Array<http.Server | https.Server> = [];

/** curl through the sidecar (-x: absolute-form for http://, CONNECT for https://); never throws. */
function curl(url: string, extra: string[] = []): Promise<{ code: number; status: number; body: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '-k', '--max-time', '5', '--noproxy', '', '-x', `http://127.0.0.1:${outbound}`, '-w', '\n%{http_code}', ...extra, url], { timeout: 10_000 }, (err, stdout) => {
      const out = String(stdout);
      const at = out.lastIndexOf('\n');
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, status: Number(out.slice(at + 1)) || 0, body: out.slice(0, Math.max(at, 0)) });
    });
  });
}

async function apply(name: string, yaml: string): Promise<void> {
  const file = join(home, `${name}.yaml`);
  writeFileSync(file, yaml);
  const r = await runBowline(['apply', '-f', file, '--server', api], { env: { BOWLINE_HOME: home } });
  expect(r.code, r.out + r.err).toBe(0);
}

async function metrics(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/stats/prometheus`);
  return res.text();
}

function listen<T extends http.Server | https.Server>(srv: T): Promise<number> {
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port)));
}

beforeAll(async () => {
  const key = join(home, 'tls.key');
  const cert = join(home, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=secure.example.test', '-addext', 'subjectAltName=DNS:secure.example.test,DNS:localhost'], { stdio: 'ignore' });
  backendPort = await listen(http.createServer((req, res) => res.end(`backend saw ${req.headers.host} ${req.url}`)));
  tlsPort = await listen(https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => res.end(`tls backend saw ${req.headers.host}`)));
  const portsFile = join(home, 'ports.json');
  const cp = startBowline(['up', '--push-plaintext', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--ports-file', portsFile], { env: { BOWLINE_HOME: home } });
  children.push(cp);
  await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 20_000, what: () => `bowline up:\n${cp.output()}` });
  const ports = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; push: number };
  api = `http://127.0.0.1:${ports.api}`;
  const proxyPorts = join(home, 'sleep.ports.json');
  const app = start(process.execPath, ['-e', 'setInterval(() => {}, 1e6)']);
  children.push(app);
  const p = startBowline(['proxy', '--server', `127.0.0.1:${ports.push}`, '--name', 'sleep', '--labels', 'app=sleep', '--service', 'sleep:80@1',
    '--bind-port', '80=0', '--outbound-port', 'auto', '--admin-port', '0', '--metrics-port', '0', '--ports-file', proxyPorts]);
  children.push(p);
  await waitFor(() => {
    try {
      const j = JSON.parse(readFileSync(proxyPorts, 'utf8')) as { admin: number; metrics?: number; listeners: Record<string, number> };
      outbound = j.listeners['outbound'] ?? 0;
      adminPort = j.admin;
      metricsPort = j.metrics ?? 0;
      return outbound > 0 && metricsPort > 0;
    } catch { return false; }
  }, { timeoutMs: 20_000, what: () => `sidecar ports:\n${p.output()}` });
}, 60_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  for (const s of servers) s.close();
});

describe('ALLOW_ANY (the default)', () => {
  it('forwards a request for a host the mesh does not know (loopback, explicit mode), counted as PassthroughCluster', async () => {
    const url = `http://127.0.0.1:${backendPort}/hello`;
    const r = await waitFor(async () => { const x = await curl(url); return x.status === 200 ? x : undefined; }, { timeoutMs: 15_000, what: `${url} through the sidecar` });
    expect(r!.body).toBe(`backend saw 127.0.0.1:${backendPort} /hello`);
    const byName = await curl(`http://localhost:${backendPort}/by-name`);
    expect(byName.status).toBe(200);
    expect(byName.body).toBe(`backend saw localhost:${backendPort} /by-name`);
    await waitFor(async () => /istio_requests_total\{[^}]*destination_service_name="PassthroughCluster"[^}]*response_code="200"/.test(await metrics()), { timeoutMs: 5000, what: 'PassthroughCluster in istio_requests_total' });
  });

  it("never reaches the proxy's own admin or metrics port", async () => {
    const admin = await curl(`http://127.0.0.1:${adminPort}/config_dump`);
    expect(admin.status).toBe(502);
    expect(admin.body).toContain("this proxy's own port");
    expect((await curl(`http://localhost:${metricsPort}/stats/prometheus`)).status).toBe(502);
    // A CONNECT tunnel to the admin port is closed, not spliced.
    const tunnel = await curl(`https://127.0.0.1:${adminPort}/`);
    expect(tunnel.code).not.toBe(0);
  });

  it('tunnels CONNECT (curl https:// through HTTP_PROXY) to the requested host:port', async () => {
    const r = await curl(`https://localhost:${tlsPort}/`);
    expect(r.code).toBe(0);
    expect(r.status).toBe(200);
    expect(r!.body).toBe(`tls backend saw localhost:${tlsPort}`);
  });

  it('routes a CONNECT tunnel by SNI to a TLS ServiceEntry (a name no resolver knows)', async () => {
    expect((await curl('https://secure.example.test/')).status).toBe(0); // not resolvable: passthrough fails
    await apply('se-tls', `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: secure, namespace: default}
spec:
  hosts: [secure.example.test]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tls: ${tlsPort}}}]
`);
    const r = await waitFor(async () => { const x = await curl('https://secure.example.test/'); return x.status === 200 ? x : undefined; }, { timeoutMs: 15_000, what: 'secure.example.test through its ServiceEntry' });
    expect(r!.body).toBe('tls backend saw secure.example.test');
  });
});

describe('REGISTRY_ONLY', () => {
  it('answers 502 (BlackHoleCluster) for unknown hosts and closes unknown tunnels; resolution NONE still forwards', async () => {
    await apply('registry-only', `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
`);
    const url = `http://127.0.0.1:${backendPort}/blocked`;
    await waitFor(async () => (await curl(url)).status === 502, { timeoutMs: 15_000, what: `${url} -> 502` });
    await waitFor(async () => /istio_requests_total\{[^}]*destination_service_name="BlackHoleCluster"[^}]*response_code="502"/.test(await metrics()), { timeoutMs: 5000, what: 'BlackHoleCluster in istio_requests_total' });
    const tunnel = await curl(`https://localhost:${tlsPort}/`);
    expect(tunnel.code).not.toBe(0);
    expect(tunnel.status).not.toBe(200);
    // A known TLS host still works.
    expect((await curl('https://secure.example.test/')).status).toBe(200);
    await apply('se-none', `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: legacy, namespace: default}
spec:
  hosts: [localhost]
  location: MESH_EXTERNAL
  ports: [{number: ${backendPort}, name: http, protocol: HTTP}]
  resolution: NONE
`);
    const r = await waitFor(async () => { const x = await curl(`http://localhost:${backendPort}/none`); return x.status === 200 ? x : undefined; }, { timeoutMs: 15_000, what: 'resolution NONE host forwarded' });
    expect(r!.body).toBe(`backend saw localhost:${backendPort} /none`);
    expect((await curl(url)).status).toBe(502);
  });
});
