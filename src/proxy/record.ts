/**
 * What the proxy knows about each request when it completes: response flags in Envoy's
 * vocabulary and a per-request record handed to hooks (telemetry consumes them). Flags are a
 * bitmask and the record holds raw values, so nothing is formatted unless a hook asks.
 */
import type { Headers } from './http/head.js';
import type { ProxyRecordView } from '../telemetry/proxy-hooks.js';
import type { ProtocolHooks } from './tcp/record.js';

/** Response flags (Envoy's short names), as bits. */
export const Flag = {
  /** NR: no route matched. */
  NR: 1 << 0,
  /** UH: no healthy upstream endpoint. */
  UH: 1 << 1,
  /** UF: upstream connection failure. */
  UF: 1 << 2,
  /** UO: upstream overflow (connection pool limits). */
  UO: 1 << 3,
  /** URX: retry limit reached. */
  URX: 1 << 4,
  /** UT: upstream request timeout. */
  UT: 1 << 5,
  /** DI: delay injected by a fault. */
  DI: 1 << 6,
  /** FI: abort injected by a fault. */
  FI: 1 << 7,
  /** UC: upstream connection terminated (reset mid-request or mid-response). */
  UC: 1 << 8,
  /** DC: downstream connection terminated before the response completed. */
  DC: 1 << 9,
  /** NC: the route named a cluster that does not exist. */
  NC: 1 << 10,
  /** UPE: upstream protocol error (unparseable response). */
  UPE: 1 << 11,
  /** DPE: downstream protocol error (malformed request, answered 400). */
  DPE: 1 << 12,
  /** RBAC: refused by AuthorizationPolicy (403 `RBAC: access denied`, or a closed TCP connection). */
  RBAC: 1 << 13,
  /** UAEX: refused by an external authorizer (AuthorizationPolicy CUSTOM), or it could not be asked. */
  UAEX: 1 << 14,
} as const;

/** The name of one flag bit. */
export type FlagName = keyof typeof Flag;

const NAMES = Object.keys(Flag) as FlagName[];

/** Envoy's `%RESPONSE_FLAGS%` text for a bitmask: `-` when none, else names joined by commas. */
export function flagsText(mask: number): string {
  if (mask === 0) return '-';
  let s = '';
  for (const n of NAMES) if ((mask & Flag[n]) !== 0) s += (s ? ',' : '') + n;
  return s;
}

/**
 * One completed request, as hooks see it. Times in ms; `startTime` is epoch ms (on the proxy's
 * record an accessor that reads the clock when first asked: a copy by spread must name it). The fields
 * telemetry reads are declared once, by telemetry (`ProxyRecordView`), since the proxy may import
 * telemetry but not the other way round; the proxy adds what only it uses.
 */
export interface RequestRecord extends ProxyRecordView {
  /** Attempts made upstream (0 when the request was answered locally). */
  attempts: number;
}

/** Observers of the data plane. Every hook is optional and must not throw (errors are swallowed). */
export interface ProxyHooks extends ProtocolHooks {
  /** Called once per request after the response completed (or failed). */
  onRequestComplete?(record: RequestRecord): void;
  /** Called once a routed request's head is about to go upstream; may rewrite its headers (trace context, peer metadata). */
  onRequestHeaders?(record: RequestRecord, headers: Headers): void;
  /** Called with an upstream response head before it goes downstream; may rewrite its headers (peer metadata). */
  onResponseHeaders?(record: RequestRecord, headers: Headers): void;
}
