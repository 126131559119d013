/**
 * The proxy's stats report for the push stream (docs/push-protocol.md `stats`): reads the
 * istio_request_duration_milliseconds and TCP families the request path already records into,
 * and returns what changed since the previous report, aggregated per edge and response class.
 * Nothing is added to the request path; a report walks the series once (cold path, every few s).
 */
import { MAX_STATS_ROWS, type StatsMessage, type StatsRow } from '../proxy-config/stats.js';
import { DURATION_BUCKETS_MS, HTTP_LABELS, type IstioMetrics, TCP_LABELS } from './metrics/istio.js';
import type { CounterChild, HistogramChild } from './metrics/registry.js';

const H = indexOf(HTTP_LABELS);
const T = indexOf(TCP_LABELS);

function indexOf(names: readonly string[]): Record<string, number> {
  const o: Record<string, number> = {};
  names.forEach((n, i) => (o[n] = i));
  return o;
}

/** What a histogram held at the previous report. */
interface Seen {
  count: number;
  sum: number;
  counts: Float64Array;
}

/** Builds stats messages from a proxy's Istio metrics, one delta per call. */
export class StatsReporter {
  private readonly seenHttp = new WeakMap<HistogramChild, Seen>();
  private readonly seenTcp = new WeakMap<CounterChild, number>();
  private last: number;

  constructor(private readonly metrics: IstioMetrics, private readonly now: () => number = Date.now) {
    this.last = now();
  }

  /** The traffic since the previous call, as messages of at most MAX_STATS_ROWS rows (empty when nothing happened). */
  collect(): StatsMessage[] {
    const rows = new Map<string, StatsRow>();
    const buckets = new Map<StatsRow, Float64Array>();
    this.metrics.duration.forEachSeries((v, h) => {
      const prev = this.seenHttp.get(h);
      const dn = h.count - (prev?.count ?? 0);
      if (dn <= 0) return;
      const code = Number(v[H.response_code!]);
      const grpc = v[H.grpc_response_status!]!;
      const cls = code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : '0xx';
      const error = code >= 500 || code < 100 || (grpc !== '' && grpc !== '0');
      const row = this.row(rows, v, H, v[H.request_protocol!] === 'grpc' ? 'grpc' : 'http', v[H.connection_security_policy!] === 'mutual_tls' ? 1 : 0, cls);
      row.n += dn;
      if (error) row.e += dn;
      row.s += h.sum - (prev?.sum ?? 0);
      let b = buckets.get(row);
      if (!b) buckets.set(row, (b = new Float64Array(h.counts.length)));
      for (let i = 0; i < h.counts.length; i++) b[i]! += h.counts[i]! - (prev?.counts[i] ?? 0);
      this.seenHttp.set(h, { count: h.count, sum: h.sum, counts: Float64Array.from(h.counts) });
    });
    this.metrics.tcpOpened.forEachSeries((v, c) => {
      const d = c.value - (this.seenTcp.get(c) ?? 0);
      if (d <= 0) return;
      const row = this.row(rows, v, T, 'tcp', v[T.connection_security_policy!] === 'mutual_tls' ? 1 : 0, '-');
      row.n += d;
      if (v[T.response_flags!] !== '-') row.e += d;
      this.seenTcp.set(c, c.value);
    });
    for (const [row, b] of buckets) {
      for (let i = 0; i < b.length; i++) if (b[i]! > 0) row.b.push(i, b[i]!);
    }
    const at = this.now();
    const intervalMs = Math.max(0, at - this.last);
    this.last = at;
    const all = [...rows.values()];
    const out: StatsMessage[] = [];
    for (let i = 0; i < all.length; i += MAX_STATS_ROWS) out.push({ type: 'stats', intervalMs, bounds: DURATION_BUCKETS_MS, rows: all.slice(i, i + MAX_STATS_ROWS) });
    return out;
  }

  private row(rows: Map<string, StatsRow>, v: readonly string[], ix: Record<string, number>, p: StatsRow['p'], m: 0 | 1, c: string): StatsRow {
    const r: StatsRow['r'] = v[ix.reporter!] === 'destination' ? 'd' : 's';
    const key = [r, v[ix.source_workload!], v[ix.source_workload_namespace!], v[ix.source_version!], v[ix.destination_workload!], v[ix.destination_workload_namespace!], v[ix.destination_version!], v[ix.destination_service!], p, m, c].join('\u0000');
    let row = rows.get(key);
    if (!row) {
      row = {
        r, sw: v[ix.source_workload!]!, sn: v[ix.source_workload_namespace!]!, sa: v[ix.source_app!]!, sv: v[ix.source_version!]!,
        dw: v[ix.destination_workload!]!, dn: v[ix.destination_workload_namespace!]!, da: v[ix.destination_app!]!, dv: v[ix.destination_version!]!,
        ds: v[ix.destination_service!]!, p, m, c, n: 0, e: 0, s: 0, b: [],
      };
      rows.set(key, row);
    }
    return row;
  }
}
