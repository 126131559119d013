// A request through gateway -> service A -> service B, each hop a real Bowline proxy, yields
// one trace: four spans (gateway CLIENT, A SERVER, A CLIENT, B SERVER) with one trace id and
// parent/child links, received by a collector that checks the Zipkin v2 / OTLP JSON schema.
// The apps forward trace headers the way Bookinfo's do.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../src/proxy-config/index.js';
import { startCollector, type CollectedSpan, type Collector } from '../../src/telemetry/index.js';
import { waitFor } from '../support/wait.js';
import { get, inboundConfig, mesh, node, outboundCluster, startApp, startMeshProxy, type MeshProxy } from './telemetry-mesh.js';

const FORWARDED = ['x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3', 'traceparent', 'tracestate'];

describe('tracing across gateway -> A -> B', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function meshWith(tracing: NonNullable<ProxyConfig['mesh']['tracing']>): Promise<{ gateway: MeshProxy; seenByB: http.IncomingHttpHeaders[] }> {
    const m = mesh(100, tracing);
    const seenByB: http.IncomingHttpHeaders[] = [];
    const appB = await startApp((req, res) => {
      seenByB.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('B');
    });
    closers.push(appB.close);
    const proxyB = await startMeshProxy(inboundConfig(node('b', 'v1'), m, appB.port));
    closers.push(() => proxyB.close());

    // A's sidecar: inbound to app A, outbound to B's sidecar.
    const toB = outboundCluster('b', '', [{ port: proxyB.port('inbound'), version: 'v1' }]);
    let outboundPort = 0;
    const agent = new http.Agent({ keepAlive: true });
    const appA = await startApp((req, res) => {
      const fwd: Record<string, string> = { host: 'b:9080' };
      for (const h of FORWARDED) if (typeof req.headers[h] === 'string') fwd[h] = req.headers[h] as string;
      get(outboundPort, '/b', fwd, agent).then(
        (r) => res.writeHead(200).end(`A+${r.body}`),
        () => res.writeHead(502).end(),
      );
    });
    closers.push(async () => { agent.destroy(); await appA.close(); });
    const cfgA = inboundConfig(node('a', 'v1'), m, appA.port);
    cfgA.listeners.push({ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'outbound' } }] });
    cfgA.routes.push({ name: 'outbound', virtualHosts: [{ name: 'b', domains: ['b', 'b:9080'], routes: [{ name: 'b', route: { destinations: [{ cluster: toB.cluster.name, weight: 1 }] } }] }] });
    cfgA.clusters.push(toB.cluster);
    cfgA.endpoints.push(toB.cla);
    const proxyA = await startMeshProxy(cfgA);
    closers.push(() => proxyA.close());
    outboundPort = proxyA.port('outbound');

    // The ingress gateway routes to A's sidecar.
    const toA = outboundCluster('a', '', [{ port: proxyA.port('inbound'), version: 'v1' }]);
    const gateway = await startMeshProxy({
      node: node('istio-ingressgateway', 'v1', 'gateway'),
      mesh: m,
      listeners: [{ name: 'http-80', address: '127.0.0.1', port: 0, direction: 'gateway', filterChains: [{ name: 'http', http: { routeConfig: 'gw' } }] }],
      routes: [{ name: 'gw', virtualHosts: [{ name: 'a', domains: ['*'], routes: [{ name: 'a', route: { destinations: [{ cluster: toA.cluster.name, weight: 1 }] } }] }] }],
      clusters: [toA.cluster],
      endpoints: [toA.cla],
      secrets: [],
    });
    closers.push(() => gateway.close());
    return { gateway, seenByB };
  }

  function checkTrace(spans: CollectedSpan[]): void {
    expect(spans).toHaveLength(4);
    const traceIds = new Set(spans.map((s) => s.traceId.padStart(32, '0')));
    expect(traceIds.size).toBe(1);
    const byService = (svc: string, kind: string): CollectedSpan => {
      const s = spans.find((x) => x.service === svc && x.kind === kind);
      expect(s, `${kind} span of ${svc}`).toBeDefined();
      return s!;
    };
    const gw = byService('istio-ingressgateway.default', 'CLIENT');
    const aIn = byService('a.default', 'SERVER');
    const aOut = byService('a.default', 'CLIENT');
    const bIn = byService('b.default', 'SERVER');
    expect(gw.parentId).toBeUndefined();
    expect(aIn.parentId).toBe(gw.id);
    expect(aOut.parentId).toBe(aIn.id);
    expect(bIn.parentId).toBe(aOut.id);
    expect(new Set(spans.map((s) => s.id)).size).toBe(4);
    // Istio's tag names on every span; one x-request-id across the hops.
    for (const s of spans) {
      expect(s.tags).toMatchObject({ component: 'proxy', 'http.method': 'GET', 'http.status_code': '200', 'istio.namespace': 'default', 'istio.mesh_id': 'cluster.local' });
      for (const k of ['http.url', 'http.protocol', 'upstream_cluster', 'upstream_cluster.name', 'node_id', 'response_flags', 'guid:x-request-id', 'user_agent', 'downstream_cluster', 'peer.address', 'istio.canonical_service']) expect(s.tags, k).toHaveProperty([k]);
    }
    expect(new Set(spans.map((s) => s.tags['guid:x-request-id'])).size).toBe(1);
    expect(aOut.name).toBe('b.default.svc.cluster.local:9080/*');
    expect(aOut.tags['upstream_cluster']).toBe('outbound|9080||b.default.svc.cluster.local');
  }

  async function runThrough(col: Collector, tracing: NonNullable<ProxyConfig['mesh']['tracing']>, format: 'zipkin' | 'otlp'): Promise<void> {
    const { gateway, seenByB } = await meshWith(tracing);
    const agent = new http.Agent({ keepAlive: false });
    const r = await get(gateway.port('http-80'), '/a', { host: 'a.example.com', 'user-agent': 'e2e' }, agent);
    expect(r.status).toBe(200);
    expect(r.body).toBe('A+B');
    // The app behind B got propagated context but never the peer metadata header.
    expect(seenByB[0]!['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seenByB[0]!['x-b3-sampled']).toBe('1');
    expect(seenByB[0]!['x-bowline-peer-metadata']).toBeUndefined();
    // Spans are batched: flush by closing exporters is not needed, the interval sends them.
    await waitFor(() => col.spans.length >= 4, { timeoutMs: 10_000, what: '4 spans at the collector' });
    expect(col.errors).toEqual([]);
    expect(col.spans.every((s) => s.format === format)).toBe(true);
    checkTrace(col.spans);
  }

  it('exports one linked trace to a Zipkin v2 receiver', async () => {
    const col = await startCollector();
    closers.unshift(() => col.close());
    await runThrough(col, { zipkin: { url: `${col.url}/api/v2/spans` } }, 'zipkin');
  });

  it('keeps serving at full speed when the collectors hang or answer garbage, and counts the lost spans', async () => {
    const held: net.Socket[] = [];
    const hang = net.createServer((c) => void held.push(c)); // accepts, never answers
    const garbage = net.createServer((c) => {
      held.push(c);
      c.on('error', () => {});
      c.end('\x00\x01 not http at all\r\n\r\n');
    });
    for (const srv of [hang, garbage]) await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    closers.unshift(async () => {
      const closed = Promise.all([hang, garbage].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      for (const c of held) c.destroy();
      await closed;
    });
    const hp = (hang.address() as net.AddressInfo).port;
    const gp = (garbage.address() as net.AddressInfo).port;
    const { gateway } = await meshWith({ zipkin: { url: `http://127.0.0.1:${hp}/api/v2/spans` }, otlp: { url: `http://127.0.0.1:${gp}/v1/traces` } });
    const agent = new http.Agent({ keepAlive: true });
    closers.unshift(async () => agent.destroy());
    // The hung collector never answers, so an export to it settles only when its POST times out
    // (2 s). A request whose answer waited for the export of its own span would find that span
    // settled (counted as failed) by the time it is answered: count the requests that did. No
    // wall-clock bound, so a slow machine does not matter; an exporter on the request path does.
    const hung = gateway.telemetry.exporters.find((e) => e.options.format === 'zipkin')!;
    const settled = () => hung.stats.exported + hung.stats.failed + hung.stats.dropped;
    const waitedForExport: number[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await get(gateway.port('http-80'), '/a', { host: 'a.example.com' }, agent);
      expect(r.status).toBe(200);
      if (settled() > i) waitedForExport.push(i); // request i's span (the i+1-th) already exported or failed
    }
    expect(waitedForExport, `requests answered only after their span's export to the hung collector had ended (settled spans ${settled()})`).toEqual([]);
    await Promise.all(gateway.telemetry.exporters.map((e) => e.flush()));
    const page = await (await fetch(`http://127.0.0.1:${gateway.metrics.port}/stats/prometheus`)).text();
    const lost = (format: string): number => Number(new RegExp(`bowline_tracing_spans_dropped_total\\{format="${format}",reason="export_failed"\\} (\\d+)`).exec(page)?.[1] ?? -1);
    expect(lost('zipkin')).toBe(60);
    expect(lost('otlp')).toBe(60);
    expect(page).toMatch(/bowline_tracing_spans_exported_total\{format="zipkin"\} 0/);
  });

  it('exports the same trace over OTLP/HTTP JSON', async () => {
    const col = await startCollector();
    closers.unshift(() => col.close());
    await runThrough(col, { otlp: { url: `${col.url}/v1/traces` } }, 'otlp');
  });

  it('a request the proxy answers itself (404 NR, fault abort, direct response, redirect) still leaves a span', async () => {
    const col = await startCollector();
    closers.unshift(() => col.close());
    const toA = outboundCluster('a', '', [{ port: 1, version: 'v1' }]);
    const gw = await startMeshProxy({
      node: node('istio-ingressgateway', 'v1', 'gateway'),
      mesh: mesh(0, { zipkin: { url: `${col.url}/api/v2/spans` } }), // only the caller's decision samples
      listeners: [{ name: 'http-80', address: '127.0.0.1', port: 0, direction: 'gateway', filterChains: [{ name: 'http', http: { routeConfig: 'gw' } }] }],
      routes: [{ name: 'gw', virtualHosts: [{ name: 'a', domains: ['a.example.com'], routes: [
        { name: 'abort', match: [{ uri: { prefix: '/abort' } }], route: { destinations: [{ cluster: toA.cluster.name, weight: 1 }] }, fault: { abort: { httpStatus: 503, percentage: 100 } } },
        { name: 'direct', match: [{ uri: { prefix: '/direct' } }], directResponse: { status: 200, body: 'here' } },
        { name: 'moved', match: [{ uri: { prefix: '/moved' } }], redirect: { uri: '/new' } },
      ] }] }],
      clusters: [toA.cluster],
      endpoints: [toA.cla],
      secrets: [],
    });
    closers.push(() => gw.close());
    const agent = new http.Agent({ keepAlive: true });
    closers.unshift(async () => agent.destroy());
    const cases = [
      { host: 'nowhere.example.com', path: '/x', status: 404, flags: 'NR' },
      { host: 'a.example.com', path: '/abort', status: 503, flags: 'FI' },
      { host: 'a.example.com', path: '/direct', status: 200, flags: '-' },
      { host: 'a.example.com', path: '/moved', status: 301, flags: '-' },
    ];
    const parents: string[] = [];
    for (const [i, c] of cases.entries()) {
      const parent = `00f067aa0ba902b${i}`;
      parents.push(parent);
      const r = await get(gw.port('http-80'), c.path, { host: c.host, traceparent: `00-4bf92f3577b34da6a3ce929d0e0e473${i}-${parent}-01` }, agent);
      expect(r.status).toBe(c.status);
    }
    // An unsampled local reply leaves no span.
    expect((await get(gw.port('http-80'), '/x', { host: 'nowhere.example.com' }, agent)).status).toBe(404);
    await waitFor(() => col.spans.length >= 4, { timeoutMs: 10_000, what: '4 local-reply spans' });
    expect(col.errors).toEqual([]);
    for (const [i, c] of cases.entries()) {
      const span = col.spans.find((s) => s.parentId === parents[i]);
      expect(span, c.path).toBeDefined();
      expect(span!.traceId).toBe(`4bf92f3577b34da6a3ce929d0e0e473${i}`);
      expect(span!.tags).toMatchObject({ 'http.status_code': String(c.status), response_flags: c.flags, 'http.url': `http://${c.host}${c.path}` });
    }
    await Promise.all(gw.telemetry.exporters.map((e) => e.flush()));
    expect(col.spans).toHaveLength(4);
  });
});

