// Telemetry driven by the control plane, with real processes on loopback: `bowline up --mesh-id`, the
// `istio` ConfigMap (Istio's MeshConfig) setting 100 % sampling, a zipkin address pointing at
// the test's collector and access logs on stdout; two sidecars (`bowline proxy --server`).
// A request through both yields linked spans tagged with the mesh id, which the proxies' config dump
// shows too; switching accessLogEncoding to JSON changes the
// proxies' access log lines without a restart; the control plane's /metrics counts pushes,
// convergence, proxies, NACKs (a gateway that cannot bind its port), config writes and store calls.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../src/telemetry/index.js';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { repoRoot, startBowline, type Child } from '../support/process.js';
import { httpGet } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const FORWARDED = ['x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3', 'traceparent', 'tracestate'];

const get = httpGet;

const istioConfigMap = (collectorPort: number, encoding: 'TEXT' | 'JSON') => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: /dev/stdout
    accessLogEncoding: ${encoding}
    defaultConfig:
      tracing:
        sampling: 100
        zipkin:
          address: 127.0.0.1:${collectorPort}
`;

/** Access-log lines a proxy wrote to stdout for `path` (TEXT or JSON). */
function accessLines(c: Child, path: string): Array<{ json: boolean; line: string }> {
  return c.output().split('\n').flatMap((line): Array<{ json: boolean; line: string }> => {
    if (line.startsWith('{') && line.includes(`"path":"${path}"`)) return [{ json: true, line }];
    if (line.startsWith('[') && line.includes(`"GET ${path} HTTP/1.1"`)) return [{ json: false, line }];
    return [];
  });
}

/** Value of one sample line `name{labels} value` (labels given as a substring). */
function sample(page: string, name: string, labels = ''): number | undefined {
  for (const l of page.split('\n')) {
    if (!l.startsWith(name)) continue;
    const rest = l.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    return Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe.skipIf(!existsSync(join(repoRoot, 'dist/cli/main.js')))('telemetry from the control plane', () => {
  const home = tempDir('bowline-e2e-tel-cp-');
  const children: Child[] = [];
  const servers: http.Server[] = [];
  let collector: Collector;
  let api = 0;
  let push = 0;
  let ppIn = 0;
  let ppAdmin = 0;
  let pp: Child;
  let reviews: Child;

  async function app(handler: http.RequestListener): Promise<number> {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }

  function proxy(args: string[]): Child {
    const c = startBowline(['proxy', '--server', `127.0.0.1:${push}`, '--admin-port', '0', '--metrics-port', '0', ...args]);
    children.push(c);
    return c;
  }

  async function apply(name: string, yaml: string): Promise<void> {
    const file = join(home, `${name}.yaml`);
    writeFileSync(file, yaml);
    const c = startBowline(['apply', '-f', file, '--server', `http://127.0.0.1:${api}`]);
    expect(await c.exited(), c.output()).toBe(0);
  }

  const syncz = async () => (JSON.parse((await get(api, '/debug/syncz')).body) as { proxies: Array<{ id: string; types: Record<string, { state: string }> }> }).proxies;

  beforeAll(async () => {
    collector = await startCollector();
    const portsFile = join(home, 'ports.json');
    const cp = startBowline(['up', '--push-plaintext', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--ports-file', portsFile, '--mesh-id', 'e2e-mesh']);
    children.push(cp);
    await waitFor(() => existsSync(portsFile) && readFileSync(portsFile, 'utf8').endsWith('\n'), { timeoutMs: 20_000, what: () => `bowline up ports (${cp.output()})` });
    ({ api, push } = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; push: number });
    await apply('mesh-text', istioConfigMap(Number(new URL(collector.url).port), 'TEXT'));

    // Proxy ports are bound by the proxies at start (`=0`, `auto`) and read from productpage's ports file.
    let ppOut = 0;
    const reviewsApp = await app((_q, res) => res.end('reviews-v1'));
    // productpage calls reviews through its sidecar and forwards the trace headers, as Bookinfo does.
    const ppApp = await app((req, res) => {
      const headers: Record<string, string> = { host: 'reviews:9080' };
      for (const h of FORWARDED) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      const up = http.request({ host: '127.0.0.1', port: ppOut, path: '/reviews/0', headers, agent: false }, (r) => {
        let b = '';
        r.on('data', (d) => (b += d));
        r.on('end', () => res.writeHead(r.statusCode ?? 502).end(`productpage -> ${b}`));
      });
      up.on('error', (e) => res.writeHead(502).end(`productpage -> error ${e.message}`));
      up.end();
    });
    pp = proxy(['--name', 'productpage-v1', '--labels', 'app=productpage,version=v1', '--service', 'productpage:9080', '--app-port', String(ppApp), '--bind-port', '9080=0', '--outbound-port', 'auto', '--ports-file', join(home, 'productpage.ports.json')]);
    reviews = proxy(['--name', 'reviews-v1', '--labels', 'app=reviews,version=v1', '--service', 'reviews:9080', '--app-port', String(reviewsApp), '--bind-port', '9080=0', '--outbound-port', '0']);
    await waitFor(async () => {
      const p = await syncz();
      return p.length === 2 && p.every((x) => Object.values(x.types).every((t) => t.state === 'SYNCED'));
    }, { timeoutMs: 30_000, what: 'two proxies SYNCED' });
    await waitFor(() => {
      const ports = readPortsFile(join(home, 'productpage.ports.json'), ['admin']) as unknown as { admin?: number; listeners?: Record<string, number> } | undefined;
      const l = ports?.listeners;
      ppOut = l?.outbound ?? 0;
      ppIn = l?.['inbound|9080'] ?? 0;
      ppAdmin = ports?.admin ?? 0;
      return ppOut > 0 && ppIn > 0 && ppAdmin > 0;
    }, { timeoutMs: 15_000, what: 'productpage listeners in its ports file' });
  }, 90_000);

  afterAll(async () => {
    for (const c of children.reverse()) await c.stop();
    for (const s of servers) s.close();
    await collector?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('a request through two sidecars yields linked spans at the zipkin address of the mesh config', async () => {
    const r = await waitFor(async () => {
      const res = await get(ppIn, '/productpage');
      return res.body === 'productpage -> reviews-v1' ? res : undefined;
    }, { timeoutMs: 10_000, what: 'productpage -> reviews' }) as { status: number };
    expect(r.status).toBe(200);
    const spans = await waitFor(() => {
      const byTrace = new Map<string, typeof collector.spans>();
      for (const s of collector.spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
      return [...byTrace.values()].find((t) => t.length === 3);
    }, { timeoutMs: 10_000, what: `3 spans of one trace (have ${collector.spans.length})` }) as typeof collector.spans;
    expect(collector.errors).toEqual([]);
    const find = (service: string, kind: string) => spans.find((s) => s.service === service && s.kind === kind)!;
    const ppServer = find('productpage.default', 'SERVER');
    const ppClient = find('productpage.default', 'CLIENT');
    const reviewsServer = find('reviews.default', 'SERVER');
    expect([ppServer, ppClient, reviewsServer].every(Boolean)).toBe(true);
    expect(ppClient.parentId).toBe(ppServer.id);
    expect(reviewsServer.parentId).toBe(ppClient.id);
    expect(ppClient.tags['upstream_cluster']).toContain('reviews');
    expect(reviewsServer.tags['http.status_code']).toBe('200');
    // `bowline up --mesh-id e2e-mesh` reaches every proxy: Istio's istio.mesh_id span tag (the default would be cluster.local).
    expect(spans.map((s) => s.tags['istio.mesh_id'])).toEqual(['e2e-mesh', 'e2e-mesh', 'e2e-mesh']);
  });

  it("the proxy's config dump shows the mesh id it runs with", async () => {
    const dump = JSON.parse((await get(ppAdmin, '/config_dump')).body) as { config: { mesh: { meshId?: string } } };
    expect(dump.config.mesh.meshId).toBe('e2e-mesh');
  });

  it('accessLogEncoding JSON in the ConfigMap switches both proxies from TEXT to JSON lines without a restart', async () => {
    await waitFor(async () => {
      await get(ppIn, '/productpage');
      return accessLines(pp, '/productpage').length > 0 && accessLines(reviews, '/reviews/0').length > 0;
    }, { timeoutMs: 10_000, what: 'TEXT access log lines on both proxies stdout' });
    expect(accessLines(pp, '/productpage')[0]!.json).toBe(false);
    expect(accessLines(reviews, '/reviews/0')[0]!.line).toMatch(/^\[\S+\] "GET \/reviews\/0 HTTP\/1\.1" 200 - /);
    const pids = [pp.proc.pid, reviews.proc.pid];

    await apply('mesh-json', istioConfigMap(Number(new URL(collector.url).port), 'JSON'));
    await waitFor(async () => {
      await get(ppIn, '/productpage');
      return accessLines(pp, '/productpage').some((l) => l.json) && accessLines(reviews, '/reviews/0').some((l) => l.json);
    }, { timeoutMs: 10_000, what: 'JSON access log lines' });
    const line = JSON.parse(accessLines(reviews, '/reviews/0').filter((l) => l.json).at(-1)!.line);
    expect(line).toMatchObject({ method: 'GET', path: '/reviews/0', response_code: 200, destination_workload: 'reviews-v1', source_workload: 'productpage-v1' });
    expect([pp.proc.pid, reviews.proc.pid]).toEqual(pids);
    expect(pp.proc.exitCode).toBeNull();
    expect(reviews.proc.exitCode).toBeNull();
  });

  it("the control plane's /metrics has pushes, push duration, convergence, proxies, NACKs, config writes and store latency", async () => {
    // A gateway whose Gateway port is mapped onto a port the test holds: it cannot bind it and NACKs.
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as AddressInfo).port;
    try {
      const gw = proxy(['--gateway', '--name', 'ingressgateway', '--namespace', 'istio-system', '--labels', 'istio=ingressgateway', '--bind-port', `80=${busyPort}`, '--telemetry', 'off']);
      await waitFor(async () => (await syncz()).length === 3, { timeoutMs: 20_000, what: () => `gateway connected (${gw.output()})` });
      await apply('gateway', `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`);
      const page = await waitFor(async () => {
        const text = (await get(api, '/metrics')).body;
        return (sample(text, 'bowline_push_nacks_total') ?? 0) >= 1 ? text : undefined;
      }, { timeoutMs: 15_000, what: () => `a NACK counted (${gw.output().slice(-2000)})` }) as string;

      expect(sample(page, 'bowline_push_proxies')).toBe(3);
      expect(sample(page, 'bowline_push_nacks_total')).toBeGreaterThanOrEqual(1);
      expect(sample(page, 'bowline_push_acks_total')).toBeGreaterThanOrEqual(3);
      for (const t of ['listeners', 'routes', 'clusters', 'endpoints', 'mesh']) {
        expect(sample(page, 'bowline_push_pushes_total', `type="${t}"`), t).toBeGreaterThanOrEqual(1);
        const n = sample(page, 'bowline_push_duration_seconds_count', `type="${t}"`)!;
        expect(n, t).toBeGreaterThanOrEqual(1);
        const mean = sample(page, 'bowline_push_duration_seconds_sum', `type="${t}"`)! / n;
        expect(mean, t).toBeGreaterThan(0);
        expect(mean, t).toBeLessThan(1);
      }
      // The mesh-config change and the Gateway reached the connected proxies: convergence observed.
      const conv = sample(page, 'bowline_push_convergence_milliseconds_count')!;
      expect(conv).toBeGreaterThanOrEqual(2);
      expect(sample(page, 'bowline_push_convergence_milliseconds_sum')! / conv).toBeLessThan(5000);
      expect(sample(page, 'bowline_push_convergence_milliseconds_bucket', 'le="+Inf"')).toBe(conv);
      expect(sample(page, 'bowline_config_writes_total', 'kind="ConfigMap",verb="post",result="ok"')).toBe(1);
      expect((sample(page, 'bowline_config_writes_total', 'kind="ConfigMap",verb="put",result="ok"') ?? 0) + (sample(page, 'bowline_config_writes_total', 'kind="ConfigMap",verb="patch",result="ok"') ?? 0)).toBe(1);
      expect(sample(page, 'bowline_config_writes_total', 'kind="Gateway"')).toBe(1);
      const storeCalls = sample(page, 'bowline_store_request_duration_seconds_count', 'backend=')!;
      expect(storeCalls).toBeGreaterThanOrEqual(3);
      expect(sample(page, 'bowline_store_request_duration_seconds_sum', 'backend=')! / storeCalls).toBeLessThan(1);
      expect(page).toMatch(/# TYPE bowline_push_duration_seconds histogram/);
    } finally {
      busy.close();
    }
  });
});
