import { describe, expect, it } from 'vitest';
import type { NodeInfo, ProxyConfig } from '../proxy-config/index.js';
import { decodePeerMetadata, encodePeerMetadata, nodePeerMetadata, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER } from './peer.js';
import { telemetryHooks, type ProxyRecordView } from './proxy-hooks.js';
import { ListHeaders, TestHeaders } from './test-headers.js';
import type { IdSource } from './tracing/ids.js';
import { createProxyTelemetry } from './telemetry.js';
import type { SpanData } from './tracing/span.js';

const flagsText = (m: number): string => (m === 4 ? 'UF' : `F${m}`);
const n = (app: string): NodeInfo => ({ id: `${app}-1`, role: 'sidecar', workload: `${app}-v1`, namespace: 'default', serviceAccount: app, labels: { app, version: 'v1' } });
const cluster = 'outbound|9080||ratings.default.svc.cluster.local';

function config(node: NodeInfo, direction: 'inbound' | 'outbound'): Pick<ProxyConfig, 'node' | 'mesh' | 'clusters' | 'endpoints' | 'listeners'> {
  return {
    node,
    mesh: { tracingSampling: 0, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [{ name: 'l', address: '127.0.0.1', port: 0, direction, filterChains: [] }],
    clusters: [{ name: cluster, discovery: 'eds', protocol: 'http1' }, { name: 'inbound|9080||', discovery: 'eds', protocol: 'http1' }],
    endpoints: [],
  };
}

function record(over: Partial<ProxyRecordView>): ProxyRecordView {
  const base = { startTime: 0, durationMs: 2, method: 'POST', authority: 'ratings:9080', path: '/x', status: 200, flags: 0, bytesIn: 1, bytesOut: 2, upstreamHost: '127.0.0.1:1', cluster, routeName: 'r', requestId: 'id', downstreamRemote: '127.0.0.1:2', peerIdentity: '', upstreamPeerIdentity: '', listener: 'l', telemetry: undefined as unknown, header: () => undefined };
  return { ...base, ...over };
}

describe('telemetryHooks (proxy bridge)', () => {
  it('carries peer metadata both ways, strips it from what apps see, and labels gRPC status', () => {
    const client = createProxyTelemetry({ config: config(n('reviews'), 'outbound') });
    const server = createProxyTelemetry({ config: config(n('ratings'), 'inbound') });
    const ch = telemetryHooks(client, { flagsText });
    const sh = telemetryHooks(server, { flagsText });

    const out = record({});
    const reqHeaders = new TestHeaders({ 'content-type': 'application/grpc', 'x-request-id': 'id' });
    ch.onRequestHeaders(out, reqHeaders);
    // A request carries the caller's metadata without its principal (the receiver trusts only the verified certificate's).
    expect(reqHeaders.get(PEER_METADATA_HEADER)).toBe(client.peerRequestHeaderValue);
    const sent = decodePeerMetadata(client.peerRequestHeaderValue)!;
    expect(sent.principal).toBeUndefined();
    expect(sent).toEqual({ ...decodePeerMetadata(client.peerHeaderValue)!, principal: undefined });
    expect(decodePeerMetadata(client.peerHeaderValue)!.principal).toBe('spiffe://cluster.local/ns/default/sa/reviews');

    // the request arrives at the server's inbound listener
    const inb = record({ cluster: 'inbound|9080||' });
    sh.onRequestHeaders(inb, reqHeaders);
    expect(reqHeaders.get(PEER_METADATA_HEADER)).toBeUndefined(); // the app never sees it
    const resHeaders = new TestHeaders({ 'grpc-status': '14' });
    sh.onResponseHeaders(inb, resHeaders);
    // A response keeps the principal: the caller's destination_principal under mTLS.
    expect(resHeaders.get(PEER_METADATA_HEADER)).toBe(server.peerHeaderValue);
    sh.onRequestComplete(inb);

    // the response comes back through the client's outbound side
    ch.onResponseHeaders(out, resHeaders);
    expect(resHeaders.get(PEER_METADATA_HEADER)).toBeUndefined();
    ch.onRequestComplete({ ...out, flags: 4 });

    const s = server.registry.expose();
    expect(s).toMatch(/istio_requests_total\{reporter="destination",source_workload="reviews-v1",[^}]*destination_workload="ratings-v1",[^}]*request_protocol="grpc",response_code="200",grpc_response_status="14",response_flags="-",connection_security_policy="none"\} 1/);
    const c = client.registry.expose();
    expect(c).toMatch(/istio_requests_total\{reporter="source",source_workload="reviews-v1",[^}]*destination_workload="ratings-v1",[^}]*destination_service_name="ratings",[^}]*grpc_response_status="14",response_flags="UF"/);
  });

  it('takes protocol and gRPC status from an HTTP/2 exchange record', () => {
    const t = createProxyTelemetry({ config: config(n('ratings'), 'inbound') });
    const h = telemetryHooks(t, { flagsText });
    const x = { ...record({ cluster: 'inbound|9080||' }), protocol: 'HTTP/2', grpc: true, grpcStatus: '' };
    h.onRequestHeaders(x, new TestHeaders({ 'content-type': 'application/grpc+proto' }));
    x.grpcStatus = '5'; // arrives in trailers
    h.onRequestComplete(x);
    expect(t.registry.expose()).toMatch(/istio_requests_total\{[^}]*request_protocol="grpc",response_code="200",grpc_response_status="5"/);
  });

  it('counts TCP connections with final byte totals', () => {
    const t = createProxyTelemetry({ config: config(n('reviews'), 'outbound') });
    const h = telemetryHooks(t, { flagsText });
    const r = { listener: 'l', direction: 'outbound' as const, cluster, upstreamHost: '127.0.0.1:1', peerIdentity: '', upstreamPeerIdentity: '', mtls: false, sentBytes: 0, receivedBytes: 0, flags: 0 };
    h.onTcpOpened(r);
    h.onTcpClosed({ ...r, sentBytes: 300, receivedBytes: 20 });
    const page = t.registry.expose();
    expect(page).toMatch(/istio_tcp_connections_opened_total\{reporter="source",[^}]*request_protocol="tcp",response_flags="-",connection_security_policy="unknown"\} 1/);
    expect(page).toMatch(/istio_tcp_sent_bytes_total\{[^}]*\} 300/);
    expect(page).toMatch(/istio_tcp_received_bytes_total\{[^}]*\} 20/);
    expect(page).toMatch(/istio_tcp_connections_closed_total\{[^}]*\} 1/);
  });

  it('records requests answered before routing (no header hook) from the record alone', () => {
    const t = createProxyTelemetry({ config: config(n('ratings'), 'inbound') });
    const h = telemetryHooks(t, { flagsText });
    h.onRequestComplete(record({ status: 404, flags: 1, cluster: '', header: (name) => (name === 'user-agent' ? 'x' : undefined) }));
    expect(t.registry.expose()).toMatch(/istio_requests_total\{reporter="destination",source_workload="unknown",[^}]*response_code="404",grpc_response_status="",response_flags="F1"/);
  });

  it('gives a sampled local reply (404 NR, fault abort, redirect) its own span; unsampled ones none', () => {
    const spans: SpanData[] = [];
    const cfg = config(n('productpage'), 'outbound');
    cfg.mesh = { ...cfg.mesh, tracingSampling: 0 };
    const t = createProxyTelemetry({ config: cfg, sinks: [{ add: (s) => spans.push(s) }] });
    const h = telemetryHooks(t, { flagsText: (m) => (m === 1 ? 'NR' : 'FI') });
    const parent = '00f067aa0ba902b7';
    const traceparent = `00-4bf92f3577b34da6a3ce929d0e0e4736-${parent}-01`;
    const hdr = (sampled: boolean) => (name: string) => (name === 'traceparent' ? traceparent.replace(/01$/, sampled ? '01' : '00') : undefined);
    h.onRequestComplete(record({ status: 404, flags: 1, cluster: '', upstreamHost: '', authority: 'nowhere:9080', path: '/a', header: hdr(true) }));
    h.onRequestComplete(record({ status: 503, flags: 2, header: hdr(false) }));
    h.onRequestComplete(record({ status: 301, flags: 0, cluster: '' })); // no context, sampling 0
    expect(spans).toHaveLength(1);
    const s = spans[0]!;
    expect(s).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: parent, kind: 'CLIENT', name: 'nowhere:9080/*' });
    expect(s.id).toMatch(/^[0-9a-f]{16}$/);
    expect(s.tags).toMatchObject({ 'http.status_code': '404', response_flags: 'NR', 'http.url': 'http://nowhere:9080/a', 'guid:x-request-id': 'id' });

    // 100 % sampling: a redirect with no incoming context starts a trace of its own.
    t.reconfigure({ ...cfg, mesh: { ...cfg.mesh, tracingSampling: 100 } });
    h.onRequestComplete(record({ status: 301, flags: 0, cluster: '' }));
    expect(spans).toHaveLength(2);
    expect(spans[1]!.parentId).toBeUndefined();
    expect(spans[1]!.tags['http.status_code']).toBe('301');
  });

  it('writes the same head upstream as the per-name path: appended fields for a new trace, rewritten ones for an incoming context', () => {
    class SeqIds implements IdSource {
      n = 0;
      spanId = (): string => (++this.n).toString(16).padStart(16, 'a');
      traceId = (): string => `4bf92f3577b34da6a3ce929d0e0e47${(++this.n % 256).toString(16).padStart(2, '0')}`;
      requestId = (): string => `req-${++this.n}`;
    }
    const other = encodePeerMetadata(nodePeerMetadata(n('ratings')));
    const heads: Array<Array<[string, string]>> = [
      [['host', 'ratings:9080']],
      [['host', 'ratings:9080'], ['user-agent', 'curl'], ['x-request-id', 'r1'], ['content-type', 'application/grpc'], ['x-forwarded-for', '10.0.0.1']],
      [['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'], ['tracestate', 'a=b'], ['x-request-id', 'r2']],
      [['b3', '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90']],
      [['x-b3-traceid', '80f198ee56343ba864fe8b2a57d3eff7'], ['x-b3-spanid', 'e457b5a2e4d86bd1'], ['x-b3-parentspanid', '05e3ac9a4f6e3b90'], ['x-b3-flags', '1']],
      [['b3', '0']],
      [['traceparent', 'garbage'], ['x-b3-sampled', '1']],
      [['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'], ['traceparent', '00-11111111111111111111111111111111-2222222222222222-01']],
      [[PEER_METADATA_HEADER, other], [PEER_METADATA_ID_HEADER, 'ratings-1'], ['accept', '*/*']],
      [[PEER_METADATA_ID_HEADER, 'lone'], ['accept', '*/*']],
    ];
    for (const direction of ['outbound', 'inbound'] as const) {
      for (const head of heads) {
        const cfg = { ...config(n('reviews'), direction), mesh: { ...config(n('reviews'), direction).mesh, tracingSampling: 50 } };
        // The hooks on a proxy-shaped list...
        const t = createProxyTelemetry({ config: cfg, ids: new SeqIds() });
        const hooks = telemetryHooks(t, { flagsText });
        const fast = new ListHeaders(head);
        const x = record({ cluster: direction === 'inbound' ? 'inbound|9080||' : cluster });
        hooks.onRequestHeaders(x, fast);
        // ...and the per-name calls they replace, on a copy.
        const ref = createProxyTelemetry({ config: cfg, ids: new SeqIds() });
        const slow = new ListHeaders(head);
        ref.takePeer(slow);
        slow.remove(PEER_METADATA_ID_HEADER); // an older proxy's id header never passes, even alone
        if (direction === 'outbound') ref.addPeerHeaders(slow);
        const trace = ref.startRequest(slow, direction, false)!;
        expect(fast.lines(), `${direction} ${JSON.stringify(head)}`).toEqual(slow.lines());
        const st = x.telemetry as Record<string, unknown>;
        for (const k of ['requestId', 'traceId', 'spanId', 'parentId', 'sampled', 'debug', 'tracestate'] as const) expect(st[k], k).toEqual(trace[k]);
      }
    }
  });

  it('counts each request in its own series when consecutive requests alternate endpoints and peers', () => {
    const cfg = config(n('reviews'), 'outbound');
    cfg.endpoints = [{ cluster, endpoints: [{ address: '10.0.0.1', port: 9080, workload: 'ratings-v1', labels: { app: 'ratings', version: 'v1' } }, { address: '10.0.0.2', port: 9080, workload: 'ratings-v2', labels: { app: 'ratings', version: 'v2' } }] }];
    const t = createProxyTelemetry({ config: cfg });
    const h = telemetryHooks(t, { flagsText });
    const hosts = ['10.0.0.1:9080', '10.0.0.2:9080', '10.0.0.2:9080', '10.0.0.1:9080', '10.0.0.2:9080'];
    for (const upstreamHost of hosts) {
      const x = record({ upstreamHost });
      h.onRequestHeaders(x, new ListHeaders([['host', 'ratings:9080']]));
      h.onRequestComplete(x);
    }
    const page = t.registry.expose();
    expect(page).toMatch(/istio_requests_total\{[^}]*destination_workload="ratings-v1",[^}]*\} 2/);
    expect(page).toMatch(/istio_requests_total\{[^}]*destination_workload="ratings-v2",[^}]*\} 3/);
  });

  it('logs the caller principal an inbound proxy verified, never one a request header claims', () => {
    const cfg = config(n('ratings'), 'inbound');
    cfg.mesh = { ...cfg.mesh, accessLog: { enabled: true, encoding: 'JSON' } };
    const lines: string[] = [];
    const sink = { write: (l: string) => { lines.push(l); }, stats: { written: 0, dropped: 0, errors: 0 }, drain: async () => {}, close: async () => {} };
    const t = createProxyTelemetry({ config: cfg, accessLogSink: sink });
    const h = telemetryHooks(t, { flagsText });
    // An older proxy's request metadata still carries a principal: over plaintext it is a claim nobody checked.
    const claimed = encodePeerMetadata(nodePeerMetadata(n('reviews')));
    expect(decodePeerMetadata(claimed)!.principal).toBe('spiffe://cluster.local/ns/default/sa/reviews');
    for (const peerIdentity of ['', 'spiffe://cluster.local/ns/default/sa/verified']) {
      const x = record({ cluster: 'inbound|9080||', peerIdentity });
      h.onRequestHeaders(x, new ListHeaders([['host', 'ratings:9080'], [PEER_METADATA_HEADER, claimed]]));
      h.onResponseHeaders(x, new ListHeaders([]));
      h.onRequestComplete(x);
    }
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.map((l) => l['source_principal'])).toEqual(['-', 'spiffe://cluster.local/ns/default/sa/verified']);
    expect(logged.map((l) => l['source_workload'])).toEqual(['reviews-v1', 'reviews-v1']);
    expect(t.registry.expose()).toMatch(/istio_requests_total\{reporter="destination",source_workload="reviews-v1",[^}]*source_principal="unknown",[^}]*connection_security_policy="none"\} 1/);
  });

  it('sends the metadata header alone: no proxy-id header on requests or responses, and an older proxy\'s is taken off', () => {
    const out = telemetryHooks(createProxyTelemetry({ config: config(n('reviews'), 'outbound') }), { flagsText });
    const inb = telemetryHooks(createProxyTelemetry({ config: config(n('ratings'), 'inbound') }), { flagsText });
    const names = (h: ListHeaders): string[] => h.lines().map((l) => l.split(':')[0]!);
    // Outbound: a fresh head, and one where a client sent a lone id header.
    for (const head of [[['host', 'ratings:9080']], [['host', 'ratings:9080'], [PEER_METADATA_ID_HEADER, 'lone']]] as Array<Array<[string, string]>>) {
      const h = new ListHeaders(head);
      out.onRequestHeaders(record({}), h);
      expect(names(h)).toContain(PEER_METADATA_HEADER);
      expect(names(h)).not.toContain(PEER_METADATA_ID_HEADER);
    }
    // Inbound: an older proxy's request (metadata and id) reaches the app with neither; the response carries the metadata alone.
    const x = record({ cluster: 'inbound|9080||' });
    const req = new ListHeaders([['host', 'ratings:9080'], [PEER_METADATA_HEADER, encodePeerMetadata(nodePeerMetadata(n('reviews')))], [PEER_METADATA_ID_HEADER, 'reviews-1']]);
    inb.onRequestHeaders(x, req);
    expect(names(req).filter((name) => name.startsWith('x-bowline-'))).toEqual([]);
    const res = new ListHeaders([['content-type', 'text/plain']]);
    inb.onResponseHeaders(x, res);
    expect(names(res)).toEqual(['content-type', PEER_METADATA_HEADER]);
  });

  it('counts the same istio_* series whether a request takes the metrics-only path or the full one (access log on)', () => {
    const pages: string[] = [];
    const other = encodePeerMetadata(nodePeerMetadata(n('ratings')));
    for (const log of [false, true]) {
      const cfg = config(n('reviews'), 'outbound');
      cfg.mesh = { ...cfg.mesh, accessLog: { enabled: log, encoding: 'TEXT' } };
      const lines: string[] = [];
      const sink = { write: (l: string) => { lines.push(l); }, stats: { written: 0, dropped: 0, errors: 0 }, drain: async () => {}, close: async () => {} };
      const t = createProxyTelemetry({ config: cfg, accessLogSink: sink });
      expect(t.countsOnly).toBe(!log);
      const h = telemetryHooks(t, { flagsText });
      const cases: Array<{ over: Partial<ProxyRecordView>; ct?: string; peer?: boolean; grpcStatus?: string }> = [
        { over: {} },
        { over: { status: 503, flags: 4, upstreamHost: '' } },
        { over: { durationMs: 30, bytesIn: 5000, bytesOut: 7 }, peer: true },
        { over: { protocol: 'HTTP/2', grpc: true, grpcStatus: '' }, ct: 'application/grpc', grpcStatus: '7' },
        { over: { cluster: '', status: 404 } },
      ];
      for (const c of cases) {
        const x = record(c.over);
        h.onRequestHeaders(x, new ListHeaders([['host', 'ratings:9080'], ...(c.ct ? [['content-type', c.ct] as [string, string]] : [])]));
        const res = new ListHeaders(c.peer ? [[PEER_METADATA_HEADER, other]] : []);
        if (c.grpcStatus) res.add('grpc-status', c.grpcStatus);
        h.onResponseHeaders(x, res);
        h.onRequestComplete(x);
      }
      if (log) expect(lines).toHaveLength(5);
      pages.push(t.registry.expose().split('\n').filter((l) => l.startsWith('istio_')).join('\n'));
    }
    expect(pages[0]).toContain('response_code="503"');
    expect(pages[0]).toContain('grpc_response_status="7"');
    expect(pages[0]).toContain('destination_workload="ratings-v1"');
    expect(pages[0]).toBe(pages[1]);
  });

  it('labels outbound destination_principal with the upstream connection\'s verified identity, never the response header\'s claim (metrics-only and full paths)', () => {
    const verified = 'spiffe://cluster.local/ns/default/sa/ratings';
    // The callee's response claims another principal (its header is the server's word, nothing checked it).
    const forged = encodePeerMetadata({ ...nodePeerMetadata(n('ratings')), principal: 'spiffe://cluster.local/ns/default/sa/forged' });
    for (const log of [false, true]) {
      const cfg = config(n('reviews'), 'outbound');
      cfg.mesh = { ...cfg.mesh, accessLog: { enabled: log, encoding: 'JSON' } };
      const lines: string[] = [];
      const sink = { write: (l: string) => { lines.push(l); }, stats: { written: 0, dropped: 0, errors: 0 }, drain: async () => {}, close: async () => {} };
      const t = createProxyTelemetry({ config: cfg, accessLogSink: sink });
      expect(t.countsOnly).toBe(!log);
      const h = telemetryHooks(t, { flagsText });
      for (const upstreamPeerIdentity of [verified, '', verified]) {
        const x = record({ upstreamPeerIdentity });
        h.onRequestHeaders(x, new ListHeaders([['host', 'ratings:9080']]));
        h.onResponseHeaders(x, new ListHeaders([[PEER_METADATA_HEADER, forged]]));
        h.onRequestComplete(x);
      }
      const page = t.registry.expose();
      expect(page).not.toContain('sa/forged');
      expect(page).toMatch(new RegExp(`istio_requests_total\\{reporter="source",[^}]*destination_workload="ratings-v1",[^}]*destination_principal="${verified}",[^}]*\\} 2`));
      expect(page).toMatch(/istio_requests_total\{reporter="source",[^}]*destination_workload="ratings-v1",[^}]*destination_principal="unknown",[^}]*\} 1/);
      if (log) expect(lines.map((l) => (JSON.parse(l) as Record<string, unknown>)['destination_principal'])).toEqual([verified, '-', verified]);
    }
  });

  it('a sampled request makes a span only when something takes spans, and is counted the same either way', () => {
    const pages: string[] = [];
    for (const withSink of [false, true]) {
      const cfg = config(n('reviews'), 'outbound');
      cfg.mesh = { ...cfg.mesh, tracingSampling: 100 };
      const spans: SpanData[] = [];
      const t = createProxyTelemetry({ config: cfg, sinks: withSink ? [{ add: (s) => { spans.push(s); } }] : [] });
      expect(t.spansWanted).toBe(withSink);
      const h = telemetryHooks(t, { flagsText });
      for (const status of [200, 200, 503]) {
        const x = record({ status });
        h.onRequestHeaders(x, new ListHeaders([['host', 'ratings:9080']]));
        h.onResponseHeaders(x, new ListHeaders([]));
        h.onRequestComplete(x);
      }
      expect(spans.map((s) => s.tags['http.status_code'])).toEqual(withSink ? ['200', '200', '503'] : []);
      pages.push(t.registry.expose().split('\n').filter((l) => l.startsWith('istio_requests_total')).join('\n'));
    }
    expect(pages[0]).toContain('response_code="503"');
    expect(pages[0]).toBe(pages[1]);
  });

  it('follows a new config: peer metadata only toward mesh clusters, none from an inbound listener', () => {
    const cfg = config(n('reviews'), 'outbound');
    const t = createProxyTelemetry({ config: cfg });
    const h = telemetryHooks(t, { flagsText });
    const send = (): ListHeaders => {
      const head = new ListHeaders([['host', 'ratings:9080']]);
      const x = record({});
      h.onRequestHeaders(x, head);
      h.onRequestComplete(x);
      return head;
    };
    expect(send().get(PEER_METADATA_HEADER)).toBe(t.peerRequestHeaderValue);
    t.reconfigure({ ...cfg, clusters: [{ name: cluster, discovery: 'dns', protocol: 'http1' }] });
    expect(send().get(PEER_METADATA_HEADER)).toBeUndefined();
    t.reconfigure(cfg);
    expect(send().get(PEER_METADATA_HEADER)).toBe(t.peerRequestHeaderValue);
    t.reconfigure(config(n('reviews'), 'inbound'));
    expect(send().get(PEER_METADATA_HEADER)).toBeUndefined();
    expect(t.registry.expose()).toMatch(/istio_requests_total\{reporter="destination",[^}]*\} 1/);
  });
});
