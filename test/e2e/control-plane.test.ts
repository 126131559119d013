// The control plane end to end, with real processes on loopback: `bowline up`, a productpage and
// two reviews versions each with a sidecar (`bowline proxy --server`), an ingress gateway. Applying
// Bookinfo-style YAML changes routing within 1 s; killing the control plane leaves traffic flowing;
// restarting it resyncs every proxy.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBowline, type Child } from '../support/process.js';
import { httpGet } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { REVIEWS_SUBSETS, reviewsRoutes } from '../support/subsets-yaml.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('bowline-e2e-cp-');
const children: Child[] = [];
const servers: http.Server[] = [];
let apiPort = 0;
let pushPort = 0;
let gatewayPort = 0;
let cp: Child | undefined;

const get = httpGet;

/** An app listening on an ephemeral port. */
async function app(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/**
 * Starts `bowline up`. The first start binds kernel-chosen ports (read from its ports file); a restart
 * binds the same ones again (the proxies know the push address). Between the two the ports are free,
 * so another process on the machine may hold one for a moment: a restart refused with EADDRINUSE is
 * tried again (bounded), any other failure is not.
 */
async function startCp(): Promise<Child> {
  const portsFile = join(home, 'cp.ports.json');
  for (let attempt = 1; ; attempt++) {
    rmSync(portsFile, { force: true });
    const c = startBowline(['up', '--push-plaintext', '--home', home, '--listen-api', `127.0.0.1:${apiPort}`, '--listen-push', `127.0.0.1:${pushPort}`, '--ports-file', portsFile], { env: { BOWLINE_REGISTRATION_TTL_MS: '60000' } });
    children.push(c);
    const state = await waitFor(() => (c.proc.exitCode !== null ? 'exited' : c.output().includes('control plane ready') && 'ready'), { timeoutMs: 20_000, what: () => `bowline up ready:\n${c.output()}` });
    if (state === 'ready') {
      ({ api: apiPort, push: pushPort } = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; push: number });
      return c;
    }
    await c.exited();
    if (!(apiPort && attempt < 20 && /EADDRINUSE|address already in use/.test(c.output()))) throw new Error(`bowline up exited ${c.proc.exitCode}:\n${c.output()}`);
    await new Promise((r) => setTimeout(r, 250)); // the port's other holder is usually a connection that ends soon
  }
}

function proxy(args: string[]): Child {
  const c = startBowline(['proxy', '--server', `127.0.0.1:${pushPort}`, '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', ...args]);
  children.push(c);
  return c;
}

/** The port of listener `name` in a proxy's `--ports-file` (written once the control plane's config is applied). */
async function listenerPort(file: string, name: string): Promise<number> {
  let port = 0;
  await waitFor(() => {
    try {
      port = (JSON.parse(readFileSync(file, 'utf8')) as { listeners?: Record<string, number> }).listeners?.[name] ?? 0;
    } catch {
      port = 0;
    }
    return port > 0;
  }, { timeoutMs: 15_000, what: `listener ${name} in ${file}` });
  return port;
}

async function apply(name: string, yaml: string): Promise<void> {
  const file = join(home, `${name}.yaml`);
  writeFileSync(file, yaml);
  const c = startBowline(['apply', '-f', file, '--server', `http://127.0.0.1:${apiPort}`]);
  expect(await c.exited(), c.output()).toBe(0);
}

async function syncz(): Promise<Array<{ id: string; types: Record<string, { state: string }> }>> {
  const r = await get(apiPort, '/debug/syncz');
  return (JSON.parse(r.body) as { proxies: Array<{ id: string; types: Record<string, { state: string }> }> }).proxies;
}

const allSynced = async (n: number) => {
  const p = await syncz();
  return p.length === n && p.every((x) => Object.values(x.types).every((t) => t.state === 'SYNCED'));
};

const page = (user?: string) => get(gatewayPort, '/productpage', user ? { 'end-user': user, host: 'bookinfo.example.com' } : { host: 'bookinfo.example.com' });

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match: [{uri: {exact: /productpage}}]
    route: [{destination: {host: productpage, port: {number: 9080}}}]
---
${REVIEWS_SUBSETS}`;
const ALL_V1 = reviewsRoutes(`  - route: [{destination: {host: reviews, subset: v1}}]
`);
const JASON_V2 = reviewsRoutes(`  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`);

describe('control plane end to end', () => {
  beforeAll(async () => {
    // The control plane binds kernel-chosen ports (and is restarted on the same ones below); every
    // proxy port is bound by the proxy itself at start (`=0`, `auto`) and read from its ports file.
    let ppOut = 0;
    const reviews = (v: string) => app((req, res) => res.end(`reviews-${v}`));
    const [r1App, r2App] = await Promise.all([reviews('v1'), reviews('v2')]);
    // productpage calls reviews through its sidecar, as an HTTP_PROXY client, forwarding end-user.
    const ppApp = await app((req, res) => {
      const headers: Record<string, string> = { host: 'reviews:9080' };
      if (req.headers['end-user']) headers['end-user'] = String(req.headers['end-user']);
      const up = http.request({ host: '127.0.0.1', port: ppOut, path: 'http://reviews:9080/reviews/0', headers, agent: false }, (r) => {
        let b = '';
        r.on('data', (d) => (b += d));
        r.on('end', () => res.writeHead(r.statusCode ?? 502).end(`productpage -> ${b}`));
      });
      up.on('error', (e) => res.writeHead(502).end(`productpage -> error ${e.message}`));
      up.end();
    });
    cp = await startCp();
    proxy(['--name', 'productpage-v1', '--labels', 'app=productpage,version=v1', '--service', 'productpage:9080', '--app-port', String(ppApp), '--bind-port', '9080=0', '--outbound-port', 'auto', '--ports-file', join(home, 'productpage.ports.json')]);
    proxy(['--name', 'reviews-v1', '--labels', 'app=reviews,version=v1', '--service', 'reviews:9080', '--app-port', String(r1App), '--bind-port', '9080=0', '--outbound-port', '0']);
    proxy(['--name', 'reviews-v2', '--labels', 'app=reviews,version=v2', '--service', 'reviews:9080', '--app-port', String(r2App), '--bind-port', '9080=0', '--outbound-port', '0']);
    proxy(['--gateway', '--name', 'ingressgateway', '--namespace', 'istio-system', '--labels', 'istio=ingressgateway', '--bind-port', '80=0', '--ports-file', join(home, 'gateway.ports.json')]);
    await waitFor(() => allSynced(4), { timeoutMs: 30_000, what: 'four proxies SYNCED' });
    ppOut = await listenerPort(join(home, 'productpage.ports.json'), 'outbound');
  }, 90_000);

  afterAll(async () => {
    for (const c of children.reverse()) await c.stop();
    for (const s of servers) s.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('routes through the gateway; all-v1 then jason -> v2 takes effect within 1 s', async () => {
    await apply('gateway', GATEWAY);
    // The gateway's port 80 listener exists once a Gateway selects it; it serves the port the proxy bound at start.
    gatewayPort = await listenerPort(join(home, 'gateway.ports.json'), 'gateway|80');
    await apply('all-v1', ALL_V1);
    await waitFor(async () => (await page('jason')).body === 'productpage -> reviews-v1', { timeoutMs: 10_000, what: 'all-v1 in force' });
    for (let i = 0; i < 10; i++) expect((await page(i % 2 ? 'jason' : undefined)).body).toBe('productpage -> reviews-v1');

    await apply('jason-v2', JASON_V2);
    const applied = Date.now(); // the write is acknowledged by the API when apply exits
    await waitFor(async () => (await page('jason')).body === 'productpage -> reviews-v2', { timeoutMs: 5000, intervalMs: 10, what: 'jason on v2' });
    expect(Date.now() - applied).toBeLessThan(1000);
    expect((await page('amy')).body).toBe('productpage -> reviews-v1');
    expect((await page()).body).toBe('productpage -> reviews-v1');
    const st = await syncz();
    expect(st.map((p) => p.id).sort()).toEqual(['ingressgateway.istio-system', 'productpage-v1.default', 'reviews-v1.default', 'reviews-v2.default']);
  });

  it('traffic keeps flowing with the control plane down, and every proxy resyncs when it returns', async () => {
    await cp!.stop();
    for (let i = 0; i < 20; i++) {
      expect((await page('jason')).body).toBe('productpage -> reviews-v2');
      expect((await page()).body).toBe('productpage -> reviews-v1');
    }
    cp = await startCp();
    await waitFor(() => allSynced(4), { timeoutMs: 20_000, what: 'every proxy resynced after restart' });
    // The restarted control plane serves changes again.
    await apply('all-v1-again', ALL_V1);
    await waitFor(async () => (await page('jason')).body === 'productpage -> reviews-v1', { timeoutMs: 5000, what: 'change after restart' });
    const pc = startBowline(['proxy-status', '--server', `http://127.0.0.1:${apiPort}`]);
    await pc.exited();
    expect(pc.output()).toMatch(/reviews-v2\.default\s+sidecar\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/);
  });
});
