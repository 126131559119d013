// Istio telemetry fields end to end, with real processes on loopback: `bowline up`, the `istio`
// ConfigMap (MeshConfig accessLogFormat / accessLogEncoding), Telemetry resources, and two sidecars
// (productpage -> reviews). Asserts what an operator sees: access-log lines in the format they
// wrote, Istio's canonical-service labels on the proxies' /stats/prometheus, and Telemetry's
// access-log, metrics and tracing overrides taking effect per workload and namespace.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../src/telemetry/index.js';
import { repoRoot, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { httpGet } from '../support/http.js';
import { tempDir } from '../support/temp.js';

const get = (port: number, path: string, headers: Record<string, string> = {}) => httpGet(port, path, headers);

const meshConfig = (body: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
${body.split('\n').map((l) => `    ${l}`).join('\n')}
`;

describe.skipIf(!existsSync(join(repoRoot, 'dist/cli/main.js')))('Istio telemetry fields applied by real proxies', () => {
  const home = tempDir('bowline-e2e-tel-fields-');
  const children: Child[] = [];
  const servers: http.Server[] = [];
  let collector: Collector;
  let api = 0;
  let push = 0;
  let pp: Child;
  let reviews: Child;
  const ports: Record<string, { inbound: number; outbound: number; metrics: number }> = {};

  async function app(handler: http.RequestListener): Promise<number> {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }

  async function apply(name: string, yaml: string): Promise<string> {
    const file = join(home, `${name}.yaml`);
    writeFileSync(file, yaml);
    const c = startBowline(['apply', '-f', file, '--server', `http://127.0.0.1:${api}`]);
    expect(await c.exited(), c.output()).toBe(0);
    return c.output(); // read to the end: callers assert on warnings in it
  }

  async function proxyPorts(name: string): Promise<{ inbound: number; outbound: number; metrics: number }> {
    return (await waitFor(() => {
      const f = join(home, `${name}.ports.json`);
      if (!existsSync(f)) return undefined;
      try {
        const p = JSON.parse(readFileSync(f, 'utf8')) as { metrics?: number; listeners?: Record<string, number> };
        const inbound = p.listeners?.['inbound|9080'] ?? 0;
        const outbound = p.listeners?.outbound ?? 0;
        return inbound && outbound && p.metrics ? { inbound, outbound, metrics: p.metrics } : undefined;
      } catch { return undefined; }
    }, { timeoutMs: 20_000, what: `${name} ports` }))!;
  }

  /** Lines of a proxy's output after `mark` characters. */
  const linesAfter = (c: Child, mark: number) => c.output().slice(mark).split('\n');
  /** One request productpage -> reviews, with a header for the log. */
  const request = (tenant: string) => get(ports.productpage!.inbound, '/productpage', { 'x-tenant': tenant });
  const metricsOf = async (name: string) => (await get(ports[name]!.metrics, '/stats/prometheus')).body;

  beforeAll(async () => {
    collector = await startCollector();
    const portsFile = join(home, 'ports.json');
    const cp = startBowline(['up', '--push-plaintext', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--ports-file', portsFile]);
    children.push(cp);
    await waitFor(() => existsSync(portsFile) && readFileSync(portsFile, 'utf8').endsWith('\n'), { timeoutMs: 20_000, what: () => `bowline up ports (${cp.output()})` });
    ({ api, push } = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; push: number });
    await apply('mesh', meshConfig(`accessLogFile: /dev/stdout\ndefaultConfig:\n  tracing:\n    sampling: 100\n    zipkin: {address: "127.0.0.1:${new URL(collector.url).port}"}`));
    let ppOut = 0;
    const reviewsApp = await app((_q, res) => res.end('reviews'));
    const ppApp = await app((req, res) => {
      const headers: Record<string, string> = { host: 'reviews:9080' };
      for (const h of ['x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'traceparent', 'x-tenant']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      const up = http.request({ host: '127.0.0.1', port: ppOut, path: '/reviews/0', headers, agent: false }, (r) => {
        let b = '';
        r.on('data', (d) => (b += d));
        r.on('end', () => res.writeHead(r.statusCode ?? 502).end(`productpage -> ${b}`));
      });
      up.on('error', (e) => res.writeHead(502).end(`productpage -> error ${e.message}`));
      up.end();
    });
    const proxy = (name: string, labels: string, appPort: number) => {
      const c = startBowline(['proxy', '--server', `127.0.0.1:${push}`, '--admin-port', '0', '--metrics-port', '0', '--name', name, '--labels', labels, '--service', `${labels.match(/app=(\w+)/)![1]}:9080`, '--app-port', String(appPort), '--bind-port', '9080=0', '--outbound-port', 'auto', '--ports-file', join(home, `${name}.ports.json`)]);
      children.push(c);
      return c;
    };
    pp = proxy('productpage', 'app=productpage,version=v1', ppApp);
    reviews = proxy('reviews', 'app=reviews,version=v2,service.istio.io/canonical-name=reviews-canon,service.istio.io/canonical-revision=r2', reviewsApp);
    ports.productpage = await proxyPorts('productpage');
    ports.reviews = await proxyPorts('reviews');
    ppOut = ports.productpage.outbound;
    await waitFor(async () => (await request('warm')).body === 'productpage -> reviews', { timeoutMs: 30_000, what: () => `productpage -> reviews (${pp.output().slice(-2000)})` });
  }, 90_000);

  afterAll(async () => {
    for (const c of children.reverse()) await c.stop();
    for (const s of servers) s.close();
    await collector?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('istio_requests_total carries source/destination canonical service and revision from the workload labels', async () => {
    await request('a');
    const page = await waitFor(async () => { const p = await metricsOf('reviews'); return p.includes('reporter="destination"') && p.includes('source_workload="productpage"') ? p : undefined; }, { timeoutMs: 10_000, what: 'reviews metrics' }) as string;
    const line = page.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('source_workload="productpage"') && l.includes('response_code="200"'))!;
    // Istio's label order: the canonical labels follow source_workload and destination_service.
    expect(line).toContain('source_workload="productpage",source_canonical_service="productpage",source_canonical_revision="v1",source_workload_namespace="default"');
    expect(line).toContain('destination_service="reviews.default.svc.cluster.local",destination_canonical_service="reviews-canon",destination_canonical_revision="r2",destination_service_name="reviews"');
    // (Requests of the warm-up that failed before reviews was known have series of their own.)
    // productpage's proxy counts its outbound request when the response ends there, which may be after productpage answered us.
    const srcLine = async () => (await metricsOf('productpage')).split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="source"') && l.includes('destination_workload="reviews"') && l.includes('response_code="200"'));
    const src = (await waitFor(srcLine, { timeoutMs: 10_000, what: 'productpage metrics (reporter source)' }))!;
    expect(src).toContain('destination_canonical_service="reviews-canon",destination_canonical_revision="r2"');
    expect(src).toContain('source_canonical_service="productpage",source_canonical_revision="v1"');
  });

  it('MeshConfig accessLogFormat (TEXT, then JSON) is what the proxies write; an unknown operator is refused by name', async () => {
    const out = await apply('mesh-text', meshConfig('accessLogFile: /dev/stdout\naccessLogFormat: "TEXTLOG %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% tenant=%REQ(X-TENANT)% up=%UPSTREAM_HOST% peer=%DOWNSTREAM_PEER_URI_SAN%\\n"'));
    expect(out).not.toContain('BOWLINE_W_API_ACCESS_LOG_FORMAT');
    let mark = reviews.output().length;
    const text = await waitFor(async () => { await request('acme'); return linesAfter(reviews, mark).find((l) => l.startsWith('TEXTLOG ') && l.includes('tenant=acme')); }, { timeoutMs: 20_000, what: 'TEXT format in effect' }) as string;
    expect(text).toMatch(/^TEXTLOG GET \/reviews\/0 200 tenant=acme up=127\.0\.0\.1:\d+ peer=-$/);

    await apply('mesh-json', meshConfig(`accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogFormat: '{"m": "%REQ(:METHOD)%", "code": "%RESPONSE_CODE%", "tenant": "%REQ(x-tenant)%", "none": "%REQ(x-none)%"}'`));
    mark = reviews.output().length;
    const json = await waitFor(async () => { await request('json'); return linesAfter(reviews, mark).find((l) => l.startsWith('{') && l.includes('"tenant":"json"')); }, { timeoutMs: 20_000, what: 'JSON format in effect' }) as string;
    expect(JSON.parse(json)).toEqual({ m: 'GET', code: 200, tenant: 'json', none: null });

    const warned = await apply('mesh-bad', meshConfig('accessLogFile: /dev/stdout\naccessLogFormat: "%REQ(:PATH)% %NO_SUCH_OPERATOR%"'));
    expect(warned).toContain('BOWLINE_W_API_ACCESS_LOG_FORMAT');
    expect(warned).toContain('%NO_SUCH_OPERATOR%');
    mark = reviews.output().length;
    // The default text format again: `[START] "GET /reviews/0 HTTP/1.1" 200 ...`.
    await waitFor(async () => { await request('d'); return linesAfter(reviews, mark).some((l) => l.startsWith('[') && l.includes('"GET /reviews/0 HTTP/1.1" 200')); }, { timeoutMs: 20_000, what: 'default format back' });
  });

  it('Telemetry: a workload selector overrides the mesh-wide accessLogging, and randomSamplingPercentage sets sampling', async () => {
    await apply('mesh-tracing', meshConfig(`accessLogFile: /dev/stdout\ndefaultConfig:\n  tracing:\n    sampling: 0\n    zipkin: {address: "127.0.0.1:${new URL(collector.url).port}"}`));
    await apply('telemetry', `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - disabled: true
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  accessLogging:
  - disabled: false
  tracing:
  - randomSamplingPercentage: 100
`);
    // reviews (selected) logs and samples every request; productpage (mesh-wide: disabled, sampling 0) does neither.
    const spansBefore = collector.spans.length;
    await waitFor(async () => { const m = reviews.output().length; await request('t'); return linesAfter(reviews, m).some((l) => l.includes('"GET /reviews/0 HTTP/1.1" 200')); }, { timeoutMs: 20_000, what: 'reviews logs by its Telemetry' });
    // A request that reaches reviews without a trace decision (productpage's sampling 0 would propagate "not sampled").
    await waitFor(async () => { await get(ports.reviews!.inbound, '/reviews/1'); return collector.spans.slice(spansBefore).some((sp) => sp.service.startsWith('reviews')); }, { timeoutMs: 20_000, what: `reviews samples at 100 % (${collector.spans.length} spans)` });
    const mark = pp.output().length;
    for (let i = 0; i < 3; i++) expect((await request('t')).status).toBe(200);
    expect(linesAfter(pp, mark).filter((l) => l.includes('/productpage'))).toEqual([]);
    expect(collector.spans.slice(spansBefore).map((sp) => sp.service).filter((n) => n.startsWith('productpage'))).toEqual([]);
  });

  it('Telemetry metrics: a disabled metric is absent, a removed tag is absent, an upserted tag carries its value, per reporter side and provider', async () => {
    const out = await apply('telemetry-metrics', `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews-metrics, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_COUNT, mode: SERVER}
      tagOverrides:
        request_protocol: {operation: REMOVE}
        tenant: {value: "'x-tenant' in request.headers ? request.headers['x-tenant'] : 'none'"}
        destination_service_name: {value: "'renamed-' + request.method"}
        answer: {value: "string(response.code) + (response.code >= 400 ? '-bad' : '-ok')"}
    - match: {metric: REQUEST_DURATION}
      disabled: true
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: productpage-metrics, namespace: default}
spec:
  selector: {matchLabels: {app: productpage}}
  metrics:
  - providers: [{name: elsewhere}]
    overrides:
    - match: {metric: RESPONSE_SIZE}
      disabled: true
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_SIZE, mode: CLIENT}
      disabled: true
`);
    expect(out).not.toContain('BOWLINE_W_API_NOT_ENFORCED');
    // reviews (the callee): requests_total as the overrides shape it, no duration at all.
    let last = '';
    const page = await waitFor(async () => {
      await request('acme');
      last = await metricsOf('reviews');
      return last.includes('tenant="acme"') ? last : undefined;
    }, { timeoutMs: 20_000, what: 'reviews metrics overridden' }).catch((e: Error) => { throw new Error(`${e.message}: ${last.split('\n').filter((l) => l.startsWith('istio_requests_total')).join('\n')}\n${reviews.output().split('\n').filter((l) => !l.startsWith('[')).join('\n').slice(-3000)}`); }) as string;
    const lines = page.split('\n');
    const count = lines.find((l) => l.startsWith('istio_requests_total{') && l.includes('tenant="acme"'))!;
    expect(count).toContain('reporter="destination"');
    expect(count).toContain('destination_service_name="renamed-GET"');
    expect(count).toMatch(/,tenant="acme",answer="200-ok"\} \d+$/);
    expect(count).not.toContain('request_protocol=');
    expect(lines.filter((l) => l.startsWith('# TYPE istio_requests_total'))).toHaveLength(1);
    expect(page).not.toContain('istio_request_duration_milliseconds');
    // Metrics the overrides do not name keep Istio's labels.
    expect(lines.some((l) => l.startsWith('istio_request_bytes_count{') && l.includes('request_protocol="http"') && !l.includes('tenant='))).toBe(true);
    // A request without the header takes the expression's other branch.
    await get(ports.reviews!.inbound, '/reviews/2');
    // Counted when the response ends in the proxy, which may be after we read it: wait for the series.
    await waitFor(async () => (await metricsOf('reviews')).split('\n').some((l) => l.startsWith('istio_requests_total{') && l.includes('tenant="none"')), { timeoutMs: 10_000, what: 'the tenant="none" series' });

    // productpage: CLIENT-side request size off (its SERVER side stays); the override under a non-Prometheus provider does nothing.
    const sizesOf = (page: string) => page.split('\n').filter((l) => l.startsWith('istio_request_bytes_count{'));
    const pp = await waitFor(async () => {
      await request('pp');
      const p = await metricsOf('productpage');
      return sizesOf(p).length > 0 && sizesOf(p).every((l) => l.includes('reporter="destination"')) ? p : undefined;
    }, { timeoutMs: 20_000, what: 'productpage request size on the SERVER side only' }) as string;
    expect(pp.split('\n').some((l) => l.startsWith('istio_response_bytes_count{') && l.includes('reporter="source"'))).toBe(true);
    expect(pp).toContain('istio_request_duration_milliseconds_bucket{reporter="source"');

    // Metrics providers naming no Prometheus provider: productpage's istio_* are gone; removing the Telemetry brings them back.
    await apply('telemetry-metrics-off', `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: productpage-metrics, namespace: default}
spec:
  selector: {matchLabels: {app: productpage}}
  metrics:
  - providers: [{name: elsewhere}]
`);
    await waitFor(async () => { await request('off'); return !(await metricsOf('productpage')).includes('istio_requests_total'); }, { timeoutMs: 20_000, what: 'productpage istio_* off' });
    expect(await metricsOf('reviews')).toContain('istio_requests_total{');
    const del = startBowline(['delete', 'telemetry', 'productpage-metrics', '-n', 'default', '--server', `http://127.0.0.1:${api}`]);
    expect(await del.exited(), del.output()).toBe(0);
    await waitFor(async () => { await request('on'); return (await metricsOf('productpage')).includes('istio_requests_total{reporter="source"'); }, { timeoutMs: 20_000, what: 'productpage istio_* back' });
  });
});
