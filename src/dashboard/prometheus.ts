/**
 * Traffic from Prometheus (`bowline up --prometheus URL`): the same edges and series the push
 * stream's window gives, computed with PromQL over the istio_* metrics Prometheus scraped.
 */
import type { EdgeFilter, EdgeStats, SeriesPoint } from '../push/server/stats-window.js';
import type { TrafficSource } from './api.js';

const BY = 'reporter,source_workload,source_workload_namespace,source_app,source_version,destination_workload,destination_workload_namespace,destination_app,destination_version,destination_service,request_protocol,connection_security_policy';

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>;
type Matrix = Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;

async function query<T>(base: string, path: string, params: Record<string, string>): Promise<T> {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; data?: { result: T }; error?: string };
  if (body.status !== 'success' || !body.data) throw new Error(`Prometheus ${url.pathname}: ${body.error ?? res.status}`);
  return body.data.result;
}

const keyOf = (m: Record<string, string>): string => BY.split(',').map((l) => m[l] ?? '').join('\u0000');
const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/** A TrafficSource reading Prometheus at `base` (e.g. http://127.0.0.1:9090). */
export function prometheusTraffic(base: string): TrafficSource {
  return {
    name: 'prometheus',
    async graphEdges(periodMs) {
      const w = `${Math.round(periodMs / 1000)}s`;
      const [total, errors, p50, p99] = await Promise.all([
        query<Vector>(base, 'api/v1/query', { query: `sum by (${BY}) (increase(istio_requests_total[${w}]))` }),
        query<Vector>(base, 'api/v1/query', { query: `sum by (${BY}) (increase(istio_requests_total{response_code=~"5..|0"}[${w}]))` }),
        query<Vector>(base, 'api/v1/query', { query: `histogram_quantile(0.5, sum by (${BY},le) (rate(istio_request_duration_milliseconds_bucket[${w}])))` }),
        query<Vector>(base, 'api/v1/query', { query: `histogram_quantile(0.99, sum by (${BY},le) (rate(istio_request_duration_milliseconds_bucket[${w}])))` }),
      ]);
      const num = (v: Vector, k: string): number | undefined => { const x = v.find((s) => keyOf(s.metric) === k); const n = x ? Number(x.value[1]) : NaN; return Number.isFinite(n) ? n : undefined; };
      const all: EdgeStats[] = total.map((s) => {
        const m = s.metric;
        const k = keyOf(m);
        const requests = Math.round(Number(s.value[1]));
        const errs = Math.round(num(errors, k) ?? 0);
        return {
          reporter: m.reporter === 'destination' ? 'destination' : 'source',
          source: { workload: m.source_workload ?? 'unknown', namespace: m.source_workload_namespace ?? 'unknown', app: m.source_app ?? 'unknown', version: m.source_version ?? 'unknown' },
          destination: { workload: m.destination_workload ?? 'unknown', namespace: m.destination_workload_namespace ?? 'unknown', app: m.destination_app ?? 'unknown', version: m.destination_version ?? 'unknown', service: m.destination_service ?? 'unknown' },
          protocol: m.request_protocol === 'grpc' ? 'grpc' : m.request_protocol === 'tcp' ? 'tcp' : 'http',
          mtls: m.connection_security_policy === 'mutual_tls',
          requests, errors: errs, rps: requests / (periodMs / 1000), errorRatio: requests ? errs / requests : 0, classes: {},
          p50: num(p50, k), p99: num(p99, k),
        } satisfies EdgeStats;
      }).filter((e) => e.requests > 0);
      const dest = new Set(all.filter((e) => e.reporter === 'destination').map((e) => `${e.source.workload}\u0000${e.source.namespace}\u0000${e.destination.service}`));
      return all.filter((e) => e.reporter === 'destination' || !dest.has(`${e.source.workload}\u0000${e.source.namespace}\u0000${e.destination.service}`));
    },
    async series(filter: EdgeFilter, periodMs) {
      const end = Date.now() / 1000;
      const range = { start: String(end - periodMs / 1000), end: String(end), step: '10' };
      const sel = `reporter="destination"${filter.service ? `,destination_service="${esc(filter.service)}"` : ''}`;
      const [byVersion, errors, p50, p90, p99] = await Promise.all([
        query<Matrix>(base, 'api/v1/query_range', { query: `sum by (destination_version) (rate(istio_requests_total{${sel}}[30s]))`, ...range }),
        query<Matrix>(base, 'api/v1/query_range', { query: `sum(rate(istio_requests_total{${sel},response_code=~"5..|0"}[30s])) / sum(rate(istio_requests_total{${sel}}[30s]))`, ...range }),
        ...[0.5, 0.9, 0.99].map((q) => query<Matrix>(base, 'api/v1/query_range', { query: `histogram_quantile(${q}, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${sel}}[30s])))`, ...range })),
      ]);
      const points = new Map<number, SeriesPoint>();
      const at = (t: number): SeriesPoint => { let p = points.get(t); if (!p) points.set(t, (p = { t: t * 1000, rps: 0, errorRatio: 0, byVersion: {} })); return p; };
      for (const s of byVersion) for (const [t, v] of s.values) { const p = at(t); const n = Number(v) || 0; p.byVersion[s.metric.destination_version ?? 'unknown'] = n; p.rps += n; }
      for (const [t, v] of errors[0]?.values ?? []) at(t).errorRatio = Number(v) || 0;
      ([['p50', p50], ['p90', p90], ['p99', p99]] as const).forEach(([k, m]) => { for (const [t, v] of m![0]?.values ?? []) { const n = Number(v); if (Number.isFinite(n)) at(t)[k] = n; } });
      return [...points.values()].sort((a, b) => a.t - b.t);
    },
  };
}
