/**
 * The cluster manager's contract with the request pipeline: how a request asks for an
 * endpoint, what it gets back, and how it reports what happened (for least-request balancing
 * and outlier detection).
 */
import type { UpstreamEndpoint } from './endpoint.js';

/** Request facts a load balancer may hash on. Each accessor is called only when the cluster's policy needs it. */
export interface PickContext {
  /** A request header's value (lowercase name). */
  header?(name: string): string | undefined;
  /** A request cookie's value. */
  cookie?(name: string): string | undefined;
  /** The downstream client address. */
  sourceIp?: string;
  /** A query parameter's (raw) value. */
  query?(name: string): string | undefined;
  /** Endpoints to avoid (already tried by earlier attempts); ignored if nothing else is left. */
  exclude?: ReadonlySet<UpstreamEndpoint>;
  /** The destination of an `original_dst` (passthrough) cluster: resolved and checked by passthrough/guard.ts. */
  originalDst?: { address: string; port: number };
}

/** The endpoint chosen for one attempt. */
export interface PickResult {
  endpoint: UpstreamEndpoint;
  /** A full `Set-Cookie` header value to add to the response (consistent hash on a cookie that was absent). */
  setCookie?: string;
}

/** How an attempt to an endpoint ended; `{}` is neutral (e.g. the client went away). */
export interface UpstreamOutcome {
  /** Response status when a response head arrived. */
  status?: number;
  /** Could not connect (counts as a gateway error and a 5xx). */
  connectFailure?: boolean;
  /** Connection reset / closed before the response head (counts as a gateway error and a 5xx). */
  reset?: boolean;
  /** The attempt timed out (counts as a gateway error and a 5xx). */
  timeout?: boolean;
}

/** One endpoint in the /clusters admin output. */
export interface EndpointSnapshot {
  address: string;
  port: number;
  weight: number;
  /** Registry health (`healthy` unless the config says otherwise). */
  health: 'healthy' | 'unhealthy' | 'draining';
  /** Ejected by outlier detection right now. */
  ejected: boolean;
  /** When the current ejection ends (ms since epoch of the injected clock), if ejected. */
  ejectedUntil?: number;
  /** Times this endpoint was ejected since it appeared. */
  ejections: number;
  active: number;
  requests: number;
  /** Attempts reported as failures (5xx, connect failure, reset, timeout). */
  errors: number;
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
}

/** One cluster in the /clusters admin output. */
export interface ClusterSnapshot {
  name: string;
  policy: string;
  endpoints: EndpointSnapshot[];
  /** Picks that found no usable endpoint (503 UH). */
  noHealthyUpstream: number;
  /** Picks made in panic mode (healthy share under minHealthPercent). */
  panicPicks: number;
  /** Retries refused by the cluster's maxRetries circuit breaker. */
  retryOverflow: number;
}
