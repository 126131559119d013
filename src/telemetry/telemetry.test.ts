import { describe, expect, it } from 'vitest';
import type { NodeInfo, ProxyConfig } from '../proxy-config/index.js';
import { BufferedSink } from './accesslog/sink.js';
import { decodePeerMetadata, encodePeerMetadata, nodePeerMetadata, PEER_METADATA_HEADER } from './peer.js';
import type { RequestRecord } from './record.js';
import { TestHeaders } from './test-headers.js';
import { createProxyTelemetry } from './telemetry.js';
import type { SpanData } from './tracing/span.js';
import type { IdSource } from './tracing/ids.js';

const productpage = { id: 'productpage-v1-1.default', role: 'sidecar' as const, workload: 'productpage-v1', namespace: 'default', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage', version: 'v1' }, services: ['productpage.default.svc.cluster.local:9080'] };
const reviewsV2 = { id: 'reviews-v2-1.default', role: 'sidecar' as const, workload: 'reviews-v2', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' } };

function config(node: NodeInfo = productpage, accessLog: ProxyConfig['mesh']['accessLog'] = { enabled: false, encoding: 'TEXT' }): Pick<ProxyConfig, 'node' | 'mesh' | 'clusters' | 'endpoints'> {
  return {
    node,
    mesh: { tracingSampling: 100, accessLog, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY' },
    clusters: [
      { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', discovery: 'eds', protocol: 'http1', service: { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default', port: 9080 }, subset: 'v1', tls: { mode: 'ISTIO_MUTUAL' } },
      { name: 'inbound|9080||', discovery: 'eds', protocol: 'http1' },
    ],
    endpoints: [{ cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', endpoints: [{ address: '10.0.0.7', port: 9080, workload: 'reviews-v1', namespace: 'default', labels: { app: 'reviews', version: 'v1' }, identity: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews' }] }],
  };
}

class SeqIds implements IdSource {
  n = 0;
  spanId(): string {
    return (++this.n).toString(16).padStart(16, '0');
  }
  traceId(): string {
    return 'abcdef0123456789abcdef0123456789';
  }
  requestId(): string {
    return 'req-' + ++this.n;
  }
}

function rec(over: Partial<RequestRecord>): RequestRecord {
  return { direction: 'outbound', startTime: Date.UTC(2024, 0, 2, 3, 4, 5, 678), durationMs: 12.4, method: 'GET', authority: 'reviews:9080', path: '/reviews/0?x=1', protocol: 'HTTP/1.1', status: 200, responseFlags: '-', bytesReceived: 0, bytesSent: 295, ...over };
}

function sample(page: string, metric: string, labels: Record<string, string>): number | undefined {
  for (const line of page.split('\n')) {
    if (!line.startsWith(metric + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('ProxyTelemetry metrics', () => {
  it('labels outbound requests from config and the callee metadata (reporter=source), destination_principal from the verified upstream certificate', () => {
    const t = createProxyTelemetry({ config: config() });
    // The callee's header claims a principal of its own choosing: only the upstream connection's verified one labels.
    const callee = t.peerFromHeader(encodePeerMetadata({ ...nodePeerMetadata(reviewsV2), principal: 'spiffe://cluster.local/ns/default/sa/claimed' }));
    const verified = 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews';
    for (let i = 0; i < 3; i++) t.finishRequest(rec({ cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', peer: callee, upstreamHost: '10.0.0.8:9080', upstreamPrincipal: verified }));
    t.finishRequest(rec({ cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', upstreamHost: '10.0.0.7:9080', status: 503, responseFlags: 'UF' }));
    const page = t.registry.expose();
    expect(page).not.toContain('sa/claimed');
    // No upstream connection verified anyone (UF): unknown, not the endpoint config's identity.
    expect(sample(page, 'istio_requests_total', { destination_workload: 'reviews-v1', response_code: '503', destination_principal: 'unknown' })).toBe(1);
    expect(sample(page, 'istio_requests_total', { reporter: 'source', source_workload: 'productpage-v1', source_app: 'productpage', destination_workload: 'reviews-v2', destination_version: 'v2', destination_service: 'reviews.default.svc.cluster.local', destination_service_name: 'reviews', response_code: '200', response_flags: '-', source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', connection_security_policy: 'unknown', request_protocol: 'http' })).toBe(3);
    // no peer header: the endpoint's config metadata fills destination_*
    expect(sample(page, 'istio_requests_total', { destination_workload: 'reviews-v1', destination_version: 'v1', response_code: '503', response_flags: 'UF' })).toBe(1);
    expect(sample(page, 'istio_request_duration_milliseconds_bucket', { destination_workload: 'reviews-v2', le: '10' })).toBe(0);
    expect(sample(page, 'istio_request_duration_milliseconds_bucket', { destination_workload: 'reviews-v2', le: '25' })).toBe(3);
    expect(sample(page, 'istio_response_bytes_sum', { destination_workload: 'reviews-v2' })).toBe(885);
  });

  it('labels inbound requests from the caller metadata and the verified principal (reporter=destination)', () => {
    const t = createProxyTelemetry({ config: config(reviewsV2) });
    const caller = t.peerFromHeader(encodePeerMetadata(nodePeerMetadata(productpage)));
    t.finishRequest(rec({ direction: 'inbound', cluster: 'inbound|9080||', peer: caller, mtls: true, peerPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage' }));
    t.finishRequest(rec({ direction: 'inbound', cluster: 'inbound|9080||', status: 404 }));
    const page = t.registry.expose();
    expect(sample(page, 'istio_requests_total', { reporter: 'destination', source_workload: 'productpage-v1', source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', destination_workload: 'reviews-v2', destination_app: 'reviews', destination_version: 'v2', destination_service_name: 'reviews', destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', connection_security_policy: 'mutual_tls' })).toBe(1);
    expect(sample(page, 'istio_requests_total', { source_workload: 'unknown', source_principal: 'unknown', response_code: '404', connection_security_policy: 'none' })).toBe(1);
  });

  it('never turns paths, authorities or invented peer headers into unbounded label sets', () => {
    const t = createProxyTelemetry({ config: config(reviewsV2) });
    for (let i = 0; i < 3000; i++) {
      const fake = t.peerFromHeader(encodePeerMetadata({ ...nodePeerMetadata(productpage), workload: `w${i}` }));
      t.finishRequest(rec({ direction: 'inbound', path: `/p/${i}`, authority: `h${i}`, peer: fake }));
    }
    const page = t.registry.expose();
    expect(page).not.toContain('/p/1');
    const series = page.split('\n').filter((l) => l.startsWith('istio_requests_total{')).length;
    expect(series).toBeLessThanOrEqual(1025); // the peer cache bound (1024) plus "unknown"
    expect(t.peers.overflowed).toBeGreaterThan(0);
  });

  it('strips peer headers before the app sees them and adds its own toward peers', () => {
    const t = createProxyTelemetry({ config: config() });
    const h = new TestHeaders({ [PEER_METADATA_HEADER]: encodePeerMetadata(nodePeerMetadata(reviewsV2)), 'x-bowline-peer-metadata-id': 'x' });
    expect(t.takePeer(h)?.workload).toBe('reviews-v2');
    expect(h.map.size).toBe(0);
    t.addPeerHeaders(h);
    expect(JSON.parse(Buffer.from(h.get(PEER_METADATA_HEADER)!, 'base64').toString())).toMatchObject({ workload: 'productpage-v1', app: 'productpage' });
  });

  it('counts TCP connections and bytes', () => {
    const t = createProxyTelemetry({ config: config() });
    const r = { direction: 'outbound' as const, cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', sentBytes: 0, receivedBytes: 0 };
    t.tcpOpened(r);
    t.tcpBytes({ ...r, sentBytes: 100, receivedBytes: 7 });
    t.tcpClosed({ ...r, sentBytes: 1, receivedBytes: 0 });
    const page = t.registry.expose();
    expect(sample(page, 'istio_tcp_connections_opened_total', { request_protocol: 'tcp', destination_service_name: 'reviews' })).toBe(1);
    expect(sample(page, 'istio_tcp_connections_closed_total', {})).toBe(1);
    expect(sample(page, 'istio_tcp_sent_bytes_total', {})).toBe(101);
    expect(sample(page, 'istio_tcp_received_bytes_total', {})).toBe(7);
  });
});

describe('ProxyTelemetry tracing', () => {
  it('makes one child span per hop with Istio tag names and propagates both formats', () => {
    const spans: SpanData[] = [];
    const t = createProxyTelemetry({ config: config(), sinks: [{ add: (s) => spans.push(s) }], ids: new SeqIds() });
    const h = new TestHeaders({ 'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1', 'user-agent': 'curl' });
    const tr = t.startRequest(h, 'outbound')!;
    expect(h.get('x-request-id')).toBe('req-1');
    expect(h.get('x-b3-parentspanid')).toBe('a2fb4a1d1a96d312');
    expect(h.get('traceparent')).toBe(`00-463ac35c9f6413ad48485a3953bb6124-${tr.spanId}-01`);
    t.finishRequest(rec({ trace: tr, requestId: 'req-1', cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', upstreamHost: '10.0.0.7:9080', userAgent: 'curl', downstreamRemoteAddress: '127.0.0.1:5555' }));
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ traceId: '463ac35c9f6413ad48485a3953bb6124', id: tr.spanId, parentId: 'a2fb4a1d1a96d312', kind: 'CLIENT', name: 'reviews.default.svc.cluster.local:9080/*', localService: 'productpage.default', remoteAddress: '10.0.0.7:9080', durationUs: 12400 });
    expect(spans[0]!.tags).toMatchObject({ 'http.url': 'http://reviews:9080/reviews/0?x=1', 'http.method': 'GET', 'http.status_code': '200', 'http.protocol': 'HTTP/1.1', upstream_cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', 'upstream_cluster.name': 'outbound|9080|v1|reviews.default.svc.cluster.local', node_id: 'productpage-v1-1.default', response_flags: '-', 'guid:x-request-id': 'req-1', user_agent: 'curl', downstream_cluster: '-', 'peer.address': '127.0.0.1:5555', 'istio.canonical_service': 'productpage', 'istio.mesh_id': 'cluster.local', 'istio.namespace': 'default', component: 'proxy' });
  });

  it("tags spans and the peer metadata it sends with the pushed mesh.meshId, and follows a new one; without it, the trust domain", () => {
    const spans: SpanData[] = [];
    const cfg = config();
    const t = createProxyTelemetry({ config: { ...cfg, mesh: { ...cfg.mesh, meshId: 'mesh1' } }, sinks: [{ add: (s) => spans.push(s) }], ids: new SeqIds() });
    const hop = () => {
      const h = new TestHeaders({ 'x-b3-sampled': '1' });
      t.finishRequest(rec({ trace: t.startRequest(h, 'outbound')!, cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local' }));
      return spans.at(-1)!.tags['istio.mesh_id'];
    };
    const sent = () => decodePeerMetadata(t.peerHeaderValue)?.meshId;
    expect([hop(), sent()]).toEqual(['mesh1', 'mesh1']);
    t.reconfigure({ ...cfg, mesh: { ...cfg.mesh, meshId: 'mesh2' } });
    expect([hop(), sent()]).toEqual(['mesh2', 'mesh2']);
    t.reconfigure({ ...cfg, node: { ...cfg.node, trustDomain: 'corp.example' } });
    expect([hop(), sent()]).toEqual(['corp.example', 'corp.example']);
  });

  it('keeps an upstream "not sampled" decision and samples new traces by the configured percentage', () => {
    const spans: SpanData[] = [];
    let x = 0.5;
    const cfg = config();
    cfg.mesh.tracingSampling = 1;
    const t = createProxyTelemetry({ config: cfg, sinks: [{ add: (s) => spans.push(s) }], random: () => x });
    const notSampled = t.startRequest(new TestHeaders({ traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00` }), 'inbound')!;
    expect(notSampled.sampled).toBe(false);
    expect(t.startRequest(new TestHeaders(), 'inbound')!.sampled).toBe(false); // 0.5*100 >= 1
    x = 0.005;
    const fresh = t.startRequest(new TestHeaders(), 'inbound')!;
    expect(fresh.sampled).toBe(true);
    expect(fresh.parentId).toBeUndefined();
    t.finishRequest(rec({ direction: 'inbound', trace: notSampled }));
    t.finishRequest(rec({ direction: 'inbound', trace: fresh }));
    expect(spans.map((s) => s.kind)).toEqual(['SERVER']);
  });
});

describe('ProxyTelemetry with a dead collector', () => {
  it('counts failed exports in its own metrics and keeps recording', async () => {
    const cfg = config();
    cfg.mesh.tracing = { zipkin: { url: 'http://127.0.0.1:9/api/v2/spans' }, maxQueue: 10 };
    const t = createProxyTelemetry({ config: cfg });
    for (let i = 0; i < 25; i++) {
      const tr = t.startRequest(new TestHeaders(), 'outbound');
      t.finishRequest(rec({ trace: tr, cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local' }));
    }
    await t.exporters[0]!.flush();
    const page = t.registry.expose();
    expect(sample(page, 'bowline_tracing_spans_dropped_total', { format: 'zipkin', reason: 'queue_full' })).toBe(15);
    expect(sample(page, 'bowline_tracing_spans_dropped_total', { format: 'zipkin', reason: 'export_failed' })).toBe(10);
    expect(sample(page, 'istio_requests_total', { response_code: '200' })).toBe(25);
    await t.close();
  });
});

describe('access logs', () => {
  function logged(encoding: 'TEXT' | 'JSON'): { t: ReturnType<typeof createProxyTelemetry>; lines: string[] } {
    const lines: string[] = [];
    const sink = new BufferedSink(async () => ({ write: async (c) => void lines.push(...c.trimEnd().split('\n')) }));
    const t = createProxyTelemetry({ config: config(productpage, { enabled: true, encoding }), accessLogSink: sink, ids: new SeqIds() });
    return { t, lines };
  }

  it('writes Envoy default text format lines with identities and trace id', async () => {
    const { t, lines } = logged('TEXT');
    const tr = t.startRequest(new TestHeaders({ 'x-request-id': 'abc' }), 'outbound');
    t.finishRequest(rec({ trace: tr, requestId: 'abc', cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', upstreamHost: '10.0.0.7:9080', upstreamPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', userAgent: 'Mozilla "x"', mtls: true, route: 'reviews', downstreamRemoteAddress: '127.0.0.1:40000', downstreamLocalAddress: '127.0.0.1:15001', upstreamServiceTimeMs: 11 }));
    await t.close();
    expect(lines).toEqual([
      '[2024-01-02T03:04:05.678Z] "GET /reviews/0?x=1 HTTP/1.1" 200 - 0 295 12 11 "-" "Mozilla \\"x\\"" "abc" "reviews:9080" "10.0.0.7:9080" ' +
        'outbound|9080|v1|reviews.default.svc.cluster.local 127.0.0.1:15001 127.0.0.1:40000 reviews abcdef0123456789abcdef0123456789 ' +
        'spiffe://cluster.local/ns/default/sa/bookinfo-productpage spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
    ]);
  });

  it('names this proxy as the source principal of an outbound request over a mutual-TLS cluster, as the metrics do', async () => {
    const { t, lines } = logged('JSON');
    // The proxy's outbound records carry no mtls: the cluster's TLS decides (ISTIO_MUTUAL here; a plaintext cluster: none).
    t.finishRequest(rec({ requestId: 'm', cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', upstreamHost: '10.0.0.7:9080', upstreamPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews' }));
    t.finishRequest(rec({ requestId: 'p', cluster: 'PassthroughCluster', upstreamHost: '10.9.9.9:80' }));
    await t.close();
    const byId = new Map(lines.map((l) => { const j = JSON.parse(l) as Record<string, unknown>; return [j.x_request_id, j] as const; }));
    expect(byId.get('m')).toMatchObject({ source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews' });
    expect(byId.get('p')).toMatchObject({ source_principal: '-', destination_principal: '-' });
  });

  it('writes JSON lines with the same fields', async () => {
    const { t, lines } = logged('JSON');
    t.finishRequest(rec({ requestId: 'abc', status: 0, responseFlags: 'DC' }));
    await t.close();
    expect(JSON.parse(lines[0]!)).toMatchObject({ start_time: '2024-01-02T03:04:05.678Z', method: 'GET', path: '/reviews/0?x=1', protocol: 'HTTP/1.1', response_code: 0, response_flags: 'DC', bytes_received: 0, bytes_sent: 295, duration: 12, x_request_id: 'abc', authority: 'reviews:9080', source_workload: 'productpage-v1', trace_id: null });
  });
});

describe('access log sink', () => {
  it('drops (and counts) lines when the destination is slow, without blocking', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const got: string[] = [];
    const sink = new BufferedSink(async () => ({ write: async (c) => { await gate; got.push(c); } }), 100);
    // Every write returns while the destination is still blocked on the gate: nothing waited for it.
    for (let i = 0; i < 1000; i++) sink.write(`line ${i} padding padding`);
    expect(got).toEqual([]);
    release();
    await sink.drain();
    expect(sink.stats.dropped).toBeGreaterThan(900);
    expect(sink.stats.written + sink.stats.dropped).toBe(1000);
  });

  it('drops (and counts) everything when the destination is gone', async () => {
    const sink = new BufferedSink(async () => {
      throw new Error('ENOENT');
    });
    sink.write('a');
    await sink.drain();
    sink.write('b');
    await sink.drain();
    expect(sink.stats).toEqual({ written: 0, dropped: 2, errors: 1 });
  });
});

describe('ProxyTelemetry reconfiguration of tracing', () => {
  it('a collector URL it cannot use is counted, never thrown; replaced exporters keep their counts', async () => {
    const { startCollector } = await import('./tracing/collector.js');
    const col = await startCollector();
    try {
      const base = config();
      const t = createProxyTelemetry({ config: { ...base, mesh: { ...base.mesh, tracing: { zipkin: { url: `${col.url}/api/v2/spans` } } } } });
      const h = new TestHeaders();
      t.finishRequest(rec({ trace: t.startRequest(h, 'outbound') }));
      await Promise.all(t.exporters.map((e) => e.flush()));
      expect(sample(t.registry.expose(), 'bowline_tracing_spans_exported_total', { format: 'zipkin' })).toBe(1);

      // A bad URL (e.g. from a hand-written config) leaves tracing off, and the config applies.
      expect(() => t.reconfigure({ ...base, mesh: { ...base.mesh, tracing: { zipkin: { url: 'http://a b:9411/api/v2/spans' }, otlp: { url: 'ftp://x/v1/traces' } } } })).not.toThrow();
      expect(t.exporters).toHaveLength(0);
      const page = await (async () => { await new Promise((r) => setImmediate(r)); return t.registry.expose(); })();
      expect(page).toMatch(/bowline_tracing_collectors_refused 2\n/);
      // The replaced exporter's count stays: counters never go backwards.
      expect(sample(page, 'bowline_tracing_spans_exported_total', { format: 'zipkin' })).toBe(1);
      await t.close();
    } finally {
      await col.close();
    }
  });
});
