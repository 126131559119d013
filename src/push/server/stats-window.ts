/**
 * The control plane's short memory of mesh traffic: the `stats` reports proxies send over the
 * push stream (docs/push-protocol.md), kept in fixed time slots for 15 minutes (by default) and
 * answered as edges (rate, error ratio, latency quantiles, mTLS, protocol) or time series.
 * Bounded: a slot holds at most `maxKeys` distinct edges; older slots fall off the window.
 */
import { statsRowProblem, type StatsMessage, type StatsRow } from '../../proxy-config/stats.js';

/** Istio's request duration buckets (ms); reports with other bounds are re-binned onto these. */
export const WINDOW_BOUNDS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** The identity of an edge as reported (reporter included). */
export interface EdgeKey {
  reporter: 'source' | 'destination';
  source: { workload: string; namespace: string; app: string; version: string };
  destination: { workload: string; namespace: string; app: string; version: string; service: string };
  protocol: 'http' | 'grpc' | 'tcp';
  mtls: boolean;
}

/** Aggregated traffic of one edge over a period. */
export interface EdgeStats extends EdgeKey {
  requests: number;
  errors: number;
  /** Requests per second over the period. */
  rps: number;
  /** errors / requests (0 with no requests). */
  errorRatio: number;
  /** Latency quantiles (ms), undefined for TCP or with no requests. */
  p50?: number;
  p90?: number;
  p99?: number;
  /** Requests per response class (`2xx`, `5xx`, ...). */
  classes: Record<string, number>;
}

/** One point of a time series: traffic in one slot. */
export interface SeriesPoint {
  /** Slot start, epoch ms. */
  t: number;
  rps: number;
  errorRatio: number;
  p50?: number;
  p90?: number;
  p99?: number;
  /** Requests per second by destination version. */
  byVersion: Record<string, number>;
}

/** One edge of a slot as exported (`StatsWindow.export`): the key, the counts and the latency buckets (on WINDOW_BOUNDS_MS). */
export type ExportedEdge = EdgeKey & { n: number; e: number; s: number; b: number[]; classes: Record<string, number> };

/**
 * A window's slots as another control-plane replica reads them (GET /debug/statsz?local=1): the raw
 * counts and buckets, not quantiles, so that the windows of several replicas -- each holding the
 * reports of the proxies connected to it -- add up to the mesh's (`StatsWindow.absorb`).
 */
export interface StatsExport {
  slotMs: number;
  boundsMs: number[];
  /** Slot starts (epoch ms) in order, every slot of the period (an empty one has no edges). */
  slots: Array<{ start: number; edges: ExportedEdge[] }>;
}

interface Agg {
  key: EdgeKey;
  n: number;
  e: number;
  s: number;
  b: Float64Array;
  classes: Record<string, number>;
}

interface Slot {
  start: number;
  aggs: Map<string, Agg>;
}

/** Options of a StatsWindow. */
export interface StatsWindowOptions {
  /** Slot length, ms (default 10 s). */
  slotMs?: number;
  /** How far back data is kept, ms (default 15 min). */
  windowMs?: number;
  /** Most distinct edges per slot (default 5000); more are counted in `dropped`. */
  maxKeys?: number;
  now?: () => number;
}

/** A filter on edges: every given field must match. */
export interface EdgeFilter {
  /** Destination service host, or its short name (`reviews`). */
  service?: string;
  /** Source or destination workload name. */
  workload?: string;
  namespace?: string;
}

/** Quantile from non-cumulative bucket counts, interpolating linearly inside the bucket (as PromQL's histogram_quantile). */
export function bucketQuantile(q: number, counts: ArrayLike<number>, bounds: readonly number[]): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return undefined;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (cum + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      return lo + (bounds[i]! - lo) * ((rank - cum) / c);
    }
    cum += c;
  }
  return bounds[bounds.length - 1];
}

/** Traffic reported by proxies, in time slots. */
export class StatsWindow {
  readonly slotMs: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  /** The clock the window counts slots by (a merged copy keeps it: src/control/replicas/traffic.ts). */
  readonly now: () => number;
  private readonly slots: Slot[] = [];
  /** Rows refused as malformed, and rows dropped because a slot was full. */
  refused = 0;
  dropped = 0;
  /** Reports accepted. */
  reports = 0;
  /** When the last report arrived (epoch ms), 0 before the first. */
  lastReportAt = 0;

  constructor(o: StatsWindowOptions = {}) {
    this.slotMs = o.slotMs ?? 10_000;
    this.windowMs = o.windowMs ?? 15 * 60_000;
    this.maxKeys = o.maxKeys ?? 5000;
    this.now = o.now ?? Date.now;
  }

  /** Adds a proxy's report; malformed rows are counted and skipped (the rest of the report counts). Returns the rows refused. */
  add(msg: Pick<StatsMessage, 'bounds' | 'rows'>): number {
    const bounds = Array.isArray(msg.bounds) && msg.bounds.every((b) => typeof b === 'number') ? msg.bounds : WINDOW_BOUNDS_MS;
    const rebin = bounds.map((b) => { const i = WINDOW_BOUNDS_MS.findIndex((w) => w >= b); return i < 0 ? WINDOW_BOUNDS_MS.length : i; });
    rebin.push(WINDOW_BOUNDS_MS.length);
    const slot = this.slotFor(this.now());
    let bad = 0;
    for (const row of Array.isArray(msg.rows) ? msg.rows : []) {
      if (statsRowProblem(row, bounds.length) !== undefined) { bad++; continue; }
      const r = row as StatsRow;
      // A request that failed before its cluster was known names the cluster (`outbound|9080||HOST`): count it for HOST.
      const cluster = /^(?:outbound|inbound)\|\d*\|[^|]*\|(.+)$/.exec(r.ds);
      if (cluster) r.ds = cluster[1]!;
      const k = rowKey(r.r, r.sw, r.sn, r.sv, r.dw, r.dn, r.dv, r.ds, r.p, r.m);
      let a = slot.aggs.get(k);
      if (!a) {
        if (slot.aggs.size >= this.maxKeys) { this.dropped++; continue; }
        a = {
          key: { reporter: r.r === 'd' ? 'destination' : 'source', source: { workload: r.sw, namespace: r.sn, app: r.sa, version: r.sv }, destination: { workload: r.dw, namespace: r.dn, app: r.da, version: r.dv, service: r.ds }, protocol: r.p, mtls: r.m === 1 },
          n: 0, e: 0, s: 0, b: new Float64Array(WINDOW_BOUNDS_MS.length + 1), classes: {},
        };
        slot.aggs.set(k, a);
      }
      a.n += r.n;
      a.e += r.e;
      a.s += r.s;
      a.classes[r.c] = (a.classes[r.c] ?? 0) + r.n;
      for (let i = 0; i < r.b.length; i += 2) a.b[rebin[r.b[i]!]!]! += r.b[i + 1]!;
    }
    this.refused += bad;
    this.reports++;
    this.lastReportAt = this.now();
    return bad;
  }

  /** The slots overlapping the last `periodMs` (default the whole window), their edges matching `filter`, with raw counts: for a peer replica to absorb. */
  export(periodMs = this.windowMs, filter: EdgeFilter = {}): StatsExport {
    const since = this.now() - periodMs;
    const slots: StatsExport['slots'] = [];
    for (const slot of this.slots) {
      if (slot.start + this.slotMs <= since) continue;
      const edges: ExportedEdge[] = [];
      for (const a of slot.aggs.values()) if (matches(a.key, filter)) edges.push({ ...a.key, n: a.n, e: a.e, s: a.s, b: [...a.b], classes: { ...a.classes } });
      // Empty slots too: rates divide by the time since the period's first slot, and series keep an even time axis.
      slots.push({ start: slot.start, edges });
    }
    return { slotMs: this.slotMs, boundsMs: [...WINDOW_BOUNDS_MS], slots };
  }

  /**
   * Adds another window's export (a peer replica's) slot by slot, by slot start: both windows count
   * time in the same slots (start = t - t % slotMs), so a slot of each holds the same seconds. Slots
   * older than this window are skipped; an edge that is not well formed is skipped and counted.
   * Throws when the export's slot length or buckets differ from this window's (nothing is added).
   * Returns the edges refused.
   */
  absorb(x: StatsExport): number {
    if (x.slotMs !== this.slotMs) throw new Error(`slots of ${x.slotMs} ms, this window's are ${this.slotMs} ms`);
    if (!Array.isArray(x.boundsMs) || x.boundsMs.length !== WINDOW_BOUNDS_MS.length || x.boundsMs.some((b, i) => b !== WINDOW_BOUNDS_MS[i])) throw new Error('latency buckets other than this window\'s');
    const cutoff = this.now() - this.windowMs;
    let bad = 0;
    for (const xs of x.slots) {
      if (!Number.isInteger(xs.start) || xs.start % this.slotMs !== 0 || !Array.isArray(xs.edges)) { bad += Array.isArray(xs.edges) ? xs.edges.length : 1; continue; }
      if (xs.start + this.slotMs <= cutoff) continue;
      const slot = this.slotStarting(xs.start);
      for (const edge of xs.edges) {
        const problem = exportedEdgeProblem(edge);
        if (problem !== undefined) { bad++; continue; }
        const k = rowKey(edge.reporter === 'destination' ? 'd' : 's', edge.source.workload, edge.source.namespace, edge.source.version, edge.destination.workload, edge.destination.namespace, edge.destination.version, edge.destination.service, edge.protocol, edge.mtls ? 1 : 0);
        let a = slot.aggs.get(k);
        if (!a) {
          if (slot.aggs.size >= this.maxKeys) { this.dropped++; continue; }
          const { source, destination } = edge;
          a = { key: { reporter: edge.reporter, source: { ...source }, destination: { ...destination }, protocol: edge.protocol, mtls: edge.mtls }, n: 0, e: 0, s: 0, b: new Float64Array(WINDOW_BOUNDS_MS.length + 1), classes: {} };
          slot.aggs.set(k, a);
        }
        addInto(a, { key: a.key, n: edge.n, e: edge.e, s: edge.s, b: Float64Array.from(edge.b), classes: edge.classes });
      }
    }
    this.refused += bad;
    return bad;
  }

  /** The slot starting at `start` (a multiple of slotMs), made where it belongs in the ordered list when there is none. */
  private slotStarting(start: number): Slot {
    let i = this.slots.length;
    while (i > 0 && this.slots[i - 1]!.start > start) i--;
    if (i > 0 && this.slots[i - 1]!.start === start) return this.slots[i - 1]!;
    const slot: Slot = { start, aggs: new Map() };
    this.slots.splice(i, 0, slot);
    return slot;
  }

  /**
   * Edges over the last `periodMs` (default 60 s), one per reported key. For the picture of the mesh use
   * `graphEdges`, which picks one reporter per edge.
   */
  edges(periodMs = 60_000, filter: EdgeFilter = {}): EdgeStats[] {
    const since = this.now() - periodMs;
    const merged = new Map<string, Agg>();
    let first = Infinity;
    for (const slot of this.slots) {
      if (slot.start + this.slotMs <= since) continue;
      first = Math.min(first, slot.start);
      for (const [k, a] of slot.aggs) {
        if (!matches(a.key, filter)) continue;
        let m = merged.get(k);
        if (!m) merged.set(k, (m = { key: a.key, n: 0, e: 0, s: 0, b: new Float64Array(a.b.length), classes: {} }));
        addInto(m, a);
      }
    }
    // Counts cover whole slots: divide by the time from the first counted slot's start to now.
    const seconds = Math.max(1, (this.now() - (first === Infinity ? this.now() : first)) / 1000);
    return [...merged.values()].map((a) => toStats(a, seconds));
  }

  /**
   * The mesh's edges over the last `periodMs`: the callee's report where there is one (it knows
   * mTLS and saw the request arrive), else the caller's (calls that never reached a proxy: no
   * endpoint, connection refused, a destination without a sidecar).
   */
  graphEdges(periodMs = 60_000, filter: EdgeFilter = {}): EdgeStats[] {
    const all = this.edges(periodMs, filter);
    const seen = new Set(all.filter((e) => e.reporter === 'destination').map((e) => `${e.source.workload}\u0000${e.source.namespace}\u0000${e.destination.service}`));
    return all.filter((e) => e.reporter === 'destination' || !seen.has(`${e.source.workload}\u0000${e.source.namespace}\u0000${e.destination.service}`));
  }

  /** Per-slot points over the last `periodMs` (default the whole window) for edges matching `filter` (destination reports, else source). */
  series(filter: EdgeFilter, periodMs = this.windowMs): SeriesPoint[] {
    const since = this.now() - periodMs;
    const out: SeriesPoint[] = [];
    const dest = this.slots.some((s) => [...s.aggs.values()].some((a) => a.key.reporter === 'destination' && matches(a.key, filter)));
    const reporter = dest ? 'destination' : 'source';
    for (const slot of this.slots) {
      if (slot.start + this.slotMs <= since) continue;
      const m: Agg = { key: undefined as unknown as EdgeKey, n: 0, e: 0, s: 0, b: new Float64Array(WINDOW_BOUNDS_MS.length + 1), classes: {} };
      const byVersion: Record<string, number> = {};
      for (const a of slot.aggs.values()) {
        if (a.key.reporter !== reporter || !matches(a.key, filter)) continue;
        addInto(m, a);
        const v = a.key.destination.version;
        byVersion[v] = (byVersion[v] ?? 0) + a.n / (this.slotMs / 1000);
      }
      const seconds = this.slotMs / 1000;
      out.push({
        t: slot.start, rps: m.n / seconds, errorRatio: m.n ? m.e / m.n : 0, byVersion,
        ...(m.n ? { p50: bucketQuantile(0.5, m.b, WINDOW_BOUNDS_MS), p90: bucketQuantile(0.9, m.b, WINDOW_BOUNDS_MS), p99: bucketQuantile(0.99, m.b, WINDOW_BOUNDS_MS) } : {}),
      });
    }
    return out;
  }

  private slotFor(t: number): Slot {
    const start = t - (t % this.slotMs);
    const cutoff = t - this.windowMs;
    while (this.slots.length && this.slots[0]!.start + this.slotMs <= cutoff) this.slots.shift();
    let last = this.slots[this.slots.length - 1];
    if (!last || last.start < start) {
      // Empty slots in between keep the series' time axis even.
      let next = last ? last.start + this.slotMs : start;
      if (next < cutoff) next = start - Math.floor((start - cutoff) / this.slotMs) * this.slotMs;
      for (; next <= start; next += this.slotMs) this.slots.push((last = { start: next, aggs: new Map() }));
    }
    return last!;
  }
}

/** The key of an edge in a slot (reporter, workloads, versions, service, protocol, mTLS). */
function rowKey(r: string, sw: string, sn: string, sv: string, dw: string, dn: string, dv: string, ds: string, p: string, m: number): string {
  return [r, sw, sn, sv, dw, dn, dv, ds, p, m].join('\u0000');
}

const isShortString = (v: unknown): v is string => typeof v === 'string' && v.length <= 253;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Why an exported edge (from a peer) cannot be added, or undefined. */
export function exportedEdgeProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'edge is not an object';
  const e = v as Partial<ExportedEdge>;
  if (e.reporter !== 'source' && e.reporter !== 'destination') return 'reporter must be source or destination';
  const src = e.source as Partial<EdgeKey['source']> | undefined, dst = e.destination as Partial<EdgeKey['destination']> | undefined;
  if (typeof src !== 'object' || src === null || ![src.workload, src.namespace, src.app, src.version].every(isShortString)) return 'source must name workload, namespace, app and version';
  if (typeof dst !== 'object' || dst === null || ![dst.workload, dst.namespace, dst.app, dst.version, dst.service].every(isShortString)) return 'destination must name workload, namespace, app, version and service';
  if (e.protocol !== 'http' && e.protocol !== 'grpc' && e.protocol !== 'tcp') return 'protocol must be http, grpc or tcp';
  if (typeof e.mtls !== 'boolean') return 'mtls must be a boolean';
  if (!isCount(e.n) || !isCount(e.e) || !isCount(e.s) || e.e > e.n) return 'n, e and s must be non-negative numbers, e at most n';
  if (!Array.isArray(e.b) || e.b.length !== WINDOW_BOUNDS_MS.length + 1 || !e.b.every(isCount)) return `b must be ${WINDOW_BOUNDS_MS.length + 1} bucket counts`;
  const c = e.classes;
  if (typeof c !== 'object' || c === null || Array.isArray(c) || Object.keys(c).length > 16 || !Object.entries(c).every(([k, n]) => k.length <= 16 && isCount(n))) return 'classes must map response classes to counts';
  return undefined;
}

function matches(k: EdgeKey, f: EdgeFilter): boolean {
  if (f.service !== undefined && k.destination.service !== f.service && k.destination.service.split('.')[0] !== f.service) return false;
  if (f.workload !== undefined && k.destination.workload !== f.workload && k.source.workload !== f.workload) return false;
  if (f.namespace !== undefined && k.destination.namespace !== f.namespace && k.source.namespace !== f.namespace) return false;
  return true;
}

function addInto(m: Agg, a: Agg): void {
  m.n += a.n;
  m.e += a.e;
  m.s += a.s;
  for (let i = 0; i < a.b.length; i++) m.b[i]! += a.b[i]!;
  for (const [c, n] of Object.entries(a.classes)) m.classes[c] = (m.classes[c] ?? 0) + n;
}

function toStats(a: Agg, seconds: number): EdgeStats {
  const q = a.key.protocol !== 'tcp' && a.n > 0;
  return {
    ...a.key, requests: a.n, errors: a.e, rps: a.n / seconds, errorRatio: a.n ? a.e / a.n : 0, classes: a.classes,
    ...(q ? { p50: bucketQuantile(0.5, a.b, WINDOW_BOUNDS_MS), p90: bucketQuantile(0.9, a.b, WINDOW_BOUNDS_MS), p99: bucketQuantile(0.99, a.b, WINDOW_BOUNDS_MS) } : {}),
  };
}
