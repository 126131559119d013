// Telemetry metrics overrides on a real ProxyTelemetry: what /stats/prometheus shows for each override.
import { describe, expect, it } from 'vitest';
import type { MetricsSettings, ProxyConfig } from '../../proxy-config/index.js';
import type { RequestRecord } from '../record.js';
import { createProxyTelemetry } from '../telemetry.js';

const node = { id: 'reviews-v2-1.default', role: 'sidecar' as const, workload: 'reviews-v2', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' }, services: ['reviews.default.svc.cluster.local:9080'] };
const cluster = 'outbound|9080||ratings.default.svc.cluster.local';

function config(metrics?: MetricsSettings): Pick<ProxyConfig, 'node' | 'mesh' | 'clusters' | 'endpoints'> {
  return {
    node,
    mesh: { tracingSampling: 0, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY', ...(metrics ? { metrics } : {}) },
    clusters: [{ name: cluster, discovery: 'eds', protocol: 'http1', service: { host: 'ratings.default.svc.cluster.local', name: 'ratings', namespace: 'default', port: 9080 } }],
    endpoints: [],
  };
}

const headers = (h: Record<string, string>) => ({ header: (n: string) => h[n] });
function rec(over: Partial<RequestRecord>): RequestRecord {
  return { direction: 'outbound', cluster, startTime: 0, durationMs: 3, method: 'GET', authority: 'ratings:9080', path: '/ratings/0?x=1', protocol: 'HTTP/1.1', status: 200, responseFlags: '-', bytesReceived: 10, bytesSent: 20, ...over };
}
const lines = (page: string, metric: string) => page.split('\n').filter((l) => l.startsWith(`${metric}{`));

describe('Telemetry metric overrides in the proxy', () => {
  it('REMOVE drops a label, UPSERT replaces one in place or appends one, per reporter side', () => {
    const t = createProxyTelemetry({ config: config({ overrides: [
      { metric: 'REQUEST_COUNT', mode: 'CLIENT', tags: [{ name: 'request_protocol', operation: 'REMOVE' }, { name: 'destination_service_name', operation: 'UPSERT', value: "'x-' + request.method" }, { name: 'tenant', operation: 'UPSERT', value: "request.headers['x-tenant']" }] },
    ] }) });
    t.finishRequest(rec({ requestHeaders: headers({ 'x-tenant': 'acme' }) }));
    t.finishRequest(rec({ requestHeaders: headers({}) }));
    t.finishRequest(rec({ direction: 'inbound', cluster: 'inbound|9080||' }));
    const page = t.registry.expose();
    const count = lines(page, 'istio_requests_total');
    expect(count.filter((l) => l.includes('reporter="source"') && l.includes('destination_service_name="x-GET"'))).toHaveLength(2);
    expect(count.find((l) => l.includes('tenant="acme"'))).toMatch(/connection_security_policy="unknown",tenant="acme"\} 1$/);
    // A header that is absent cannot be evaluated: Istio's "unknown".
    expect(count.some((l) => l.includes('tenant="unknown"'))).toBe(true);
    expect(count.filter((l) => l.includes('reporter="source"')).every((l) => !l.includes('request_protocol='))).toBe(true);
    // The SERVER side keeps Istio's labels; other metrics too.
    expect(count.find((l) => l.includes('reporter="destination"'))).toContain('request_protocol="http"');
    expect(count.find((l) => l.includes('reporter="destination"'))).not.toContain('tenant=');
    expect(page.match(/^# TYPE istio_requests_total counter$/gm)).toHaveLength(1);
    expect(lines(page, 'istio_request_bytes_count').every((l) => l.includes('request_protocol="http"'))).toBe(true);
  });

  it('disabled per metric and side, re-enabled by a later override; ALL_METRICS; enabled: false hides every istio_* metric', () => {
    const t = createProxyTelemetry({ config: config({ overrides: [
      { metric: 'ALL_METRICS', mode: 'CLIENT_AND_SERVER', disabled: true },
      { metric: 'REQUEST_COUNT', mode: 'SERVER', disabled: false },
    ] }) });
    t.finishRequest(rec({}));
    t.finishRequest(rec({ direction: 'inbound', cluster: 'inbound|9080||' }));
    t.tcpOpened({ direction: 'outbound', cluster, sentBytes: 0, receivedBytes: 0 });
    let page = t.registry.expose();
    expect(lines(page, 'istio_requests_total').map((l) => l.match(/reporter="(\w+)"/)![1])).toEqual(['destination']);
    expect(page).not.toContain('istio_request_duration');
    expect(page).not.toContain('istio_tcp_');
    // The stats report's families keep recording with every label.
    expect(t.istioMetrics!.duration.size).toBe(2);

    t.reconfigure({ ...config({ enabled: false, overrides: [] }), listeners: [] });
    t.finishRequest(rec({}));
    page = t.registry.expose();
    expect(page).not.toContain('istio_');
    // Overrides gone: the default rendering is back, counts kept.
    t.reconfigure({ ...config(), listeners: [] });
    page = t.registry.expose();
    expect(lines(page, 'istio_requests_total').find((l) => l.includes('reporter="source"'))).toMatch(/ 2$/);
  });

  it('expressions read response, source/destination/upstream addresses, connection and xds attributes', () => {
    const t = createProxyTelemetry({ config: config({ overrides: [
      { metric: 'REQUEST_COUNT', mode: 'CLIENT_AND_SERVER', tags: [
        { name: 'cls', operation: 'UPSERT', value: "response.code >= 500 ? 'error' : 'ok'" },
        { name: 'up', operation: 'UPSERT', value: 'upstream.address + ":" + string(upstream.port)' },
        { name: 'peer', operation: 'UPSERT', value: 'connection.mtls ? connection.uri_san_peer_certificate : "plain"' },
        { name: 'cl', operation: 'UPSERT', value: 'xds.cluster_name' },
        { name: 'q', operation: 'UPSERT', value: 'request.url_path + "|" + request.query' },
        { name: 'bad', operation: 'UPSERT', value: 'nothing.here' },
      ] },
    ] }) });
    t.finishRequest(rec({ status: 503, upstreamHost: '10.1.2.3:9080', mtls: true, peerPrincipal: 'spiffe://cluster.local/ns/default/sa/ratings' }));
    const line = lines(t.registry.expose(), 'istio_requests_total')[0]!;
    expect(line).toContain('cls="error",up="10.1.2.3:9080",peer="spiffe://cluster.local/ns/default/sa/ratings",cl="outbound|9080||ratings.default.svc.cluster.local",q="/ratings/0|x=1",bad="unknown"}');
  });
});
