/**
 * The `stats` message (proxy -> control plane): request counts, errors and latency histograms
 * aggregated per edge over the last few seconds, so the control plane can draw the mesh without
 * scraping proxies (which may sit on other hosts). Short keys: it travels every few seconds from
 * every proxy. See docs/push-protocol.md.
 */

/** One aggregated row: the traffic of one edge and response class since the previous report. */
export interface StatsRow {
  /** Reporter: `s` the caller's proxy (outbound), `d` the callee's (inbound). */
  r: 's' | 'd';
  /** Source workload, namespace, app and version (`unknown` without a proxy). */
  sw: string;
  sn: string;
  sa: string;
  sv: string;
  /** Destination workload, namespace, app and version. */
  dw: string;
  dn: string;
  da: string;
  dv: string;
  /** Destination service host (e.g. reviews.default.svc.cluster.local). */
  ds: string;
  /** Protocol: http, grpc or tcp. */
  p: 'http' | 'grpc' | 'tcp';
  /** 1 when the hop was mutual TLS, 0 when not (known only to destination reporters; sources say 0). */
  m: 0 | 1;
  /** Response class: `2xx` ... `5xx`, `0xx` for no response; `-` for tcp. */
  c: string;
  /** Requests (tcp: connections opened). */
  n: number;
  /** Errors among them: 5xx, no response, or a gRPC status other than OK. */
  e: number;
  /** Sum of request durations, ms. */
  s: number;
  /** Duration histogram delta, sparse: [bucketIndex, count, bucketIndex, count, ...] over the message's `bounds` (+Inf is index bounds.length). */
  b: number[];
}

/** proxy -> control plane: the traffic since the previous report. */
export interface StatsMessage {
  type: 'stats';
  /** Length of the period the rows cover, ms. */
  intervalMs: number;
  /** Upper bounds (ms) of the duration buckets the rows' `b` index. */
  bounds: number[];
  rows: StatsRow[];
}

/** Most rows one stats message may carry (a proxy splits larger reports). */
export const MAX_STATS_ROWS = 1000;

const STRING_KEYS = ['sw', 'sn', 'sa', 'sv', 'dw', 'dn', 'da', 'dv', 'ds', 'c'] as const;

/** Why a row is not a well-formed StatsRow, or undefined when it is. Strings are bounded to 253 characters. */
export function statsRowProblem(v: unknown, buckets: number): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'row is not an object';
  const r = v as Record<string, unknown>;
  if (r.r !== 's' && r.r !== 'd') return 'r must be "s" or "d"';
  for (const k of STRING_KEYS) if (typeof r[k] !== 'string' || (r[k] as string).length > 253) return `${k} must be a string of at most 253 characters`;
  if (r.p !== 'http' && r.p !== 'grpc' && r.p !== 'tcp') return 'p must be http, grpc or tcp';
  if (r.m !== 0 && r.m !== 1) return 'm must be 0 or 1';
  for (const k of ['n', 'e', 's'] as const) if (typeof r[k] !== 'number' || !Number.isFinite(r[k]) || (r[k] as number) < 0) return `${k} must be a non-negative number`;
  if ((r.e as number) > (r.n as number)) return 'e must not exceed n';
  const b = r.b;
  if (!Array.isArray(b) || b.length % 2 !== 0 || b.length > 2 * (buckets + 1)) return 'b must be [index, count] pairs';
  for (let i = 0; i < b.length; i += 2) {
    if (!Number.isInteger(b[i]) || b[i] < 0 || b[i] > buckets || typeof b[i + 1] !== 'number' || !(b[i + 1] >= 0)) return 'b holds a bad bucket index or count';
  }
  return undefined;
}
