/**
 * Retry decisions (Istio HTTPRetry with Envoy's retry-on vocabulary). Pure: the pipeline
 * reports how an attempt ended and asks whether to try again. Idempotency is respected: an
 * attempt whose request may have reached the upstream (a response, a reset, a timeout) is
 * retried only for idempotent methods; one that never left (connect failure, refused stream)
 * is retried for any method.
 */
import type { RetryPolicy } from '../../proxy-config/types.js';

/** How one upstream attempt ended. */
export interface AttemptOutcome {
  /** Response status, when a response head arrived. */
  status?: number;
  /** The gRPC status (number) from the response headers or trailers, when known. */
  grpcStatus?: number;
  /** The TCP (or TLS) connection to the endpoint could not be established (flag UF). */
  connectFailure?: boolean;
  /** The upstream reset / closed the connection before a complete response head (flag UC). */
  reset?: boolean;
  /** HTTP/2 REFUSED_STREAM, or a pooled connection that closed before the request was written. */
  refusedStream?: boolean;
  /** The per-try timeout fired (counts as a 504). */
  timeout?: boolean;
}

/** A retry policy ready for the hot path. */
export interface CompiledRetryPolicy {
  /** Retries after the first try. */
  attempts: number;
  /** Per-attempt timeout in ms, 0: none (the route timeout still bounds the whole request). */
  perTryTimeoutMs: number;
  on5xx: boolean;
  onGatewayError: boolean;
  onConnectFailure: boolean;
  onRefusedStream: boolean;
  onReset: boolean;
  onRetriable4xx: boolean;
  /** Status codes of `retriable-status-codes` (also numbers written inside retryOn). */
  retriableStatusCodes: ReadonlySet<number>;
  /** gRPC status numbers to retry on (cancelled 1, deadline-exceeded 4, resource-exhausted 8, internal 13, unavailable 14). */
  grpcStatuses: ReadonlySet<number>;
  /** Prefer a different endpoint than the ones already tried. */
  avoidPreviousHosts: boolean;
  /** Base interval of the back-off between retries (ms). */
  backoffBaseMs: number;
}

/** Envoy's header carrying the attempt number (1 for the first try), set on each upstream request. */
export const ATTEMPT_COUNT_HEADER = 'x-envoy-attempt-count';

/** The retry-on conditions this module understands (others are rejected by validation). */
export const RETRY_ON_CONDITIONS = [
  '5xx', 'gateway-error', 'connect-failure', 'refused-stream', 'reset', 'retriable-4xx', 'retriable-status-codes',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;

const GRPC: Record<string, number> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Compiles a retry policy; undefined when it never retries (absent or attempts 0). */
export function compileRetryPolicy(p: RetryPolicy | undefined): CompiledRetryPolicy | undefined {
  if (!p || !(p.attempts > 0)) return undefined;
  const on = new Set(p.retryOn.map((s) => s.trim()));
  const codes = new Set<number>(p.retriableStatusCodes ?? []);
  const grpc = new Set<number>();
  for (const c of on) {
    if (/^\d{3}$/.test(c)) codes.add(Number(c));
    if (GRPC[c] !== undefined) grpc.add(GRPC[c]!);
  }
  return {
    attempts: p.attempts,
    perTryTimeoutMs: p.perTryTimeoutMs ?? 0,
    on5xx: on.has('5xx'),
    onGatewayError: on.has('gateway-error'),
    onConnectFailure: on.has('connect-failure') || on.has('5xx'),
    onRefusedStream: on.has('refused-stream') || on.has('5xx'),
    onReset: on.has('reset') || on.has('5xx'),
    onRetriable4xx: on.has('retriable-4xx'),
    retriableStatusCodes: (on.has('retriable-status-codes') || codes.size > 0) ? codes : new Set(),
    grpcStatuses: grpc,
    avoidPreviousHosts: p.retryRemoteLocalities !== false,
    backoffBaseMs: p.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
  };
}

/** Whether the policy's conditions cover this outcome (ignoring attempts and method). */
export function isRetriable(policy: CompiledRetryPolicy, o: AttemptOutcome): boolean {
  if (o.connectFailure) return policy.onConnectFailure || policy.onGatewayError;
  if (o.refusedStream) return policy.onRefusedStream;
  if (o.reset) return policy.onReset || policy.onGatewayError;
  if (o.timeout) return policy.on5xx || policy.onGatewayError;
  if (o.grpcStatus !== undefined && policy.grpcStatuses.has(o.grpcStatus)) return true;
  const s = o.status;
  if (s === undefined) return false;
  if (s >= 500 && s <= 599 && policy.on5xx) return true;
  if ((s === 502 || s === 503 || s === 504) && policy.onGatewayError) return true;
  if (s === 409 && policy.onRetriable4xx) return true;
  return policy.retriableStatusCodes.has(s);
}

/** True when the request never reached the upstream, so any method may be retried. */
function neverSent(o: AttemptOutcome): boolean {
  return o.connectFailure === true || o.refusedStream === true;
}

/**
 * Whether to try again after an attempt. `triesSoFar` counts tries already made (1 after the
 * first). Non-idempotent methods are retried only when the request never left the proxy.
 */
export function shouldRetry(policy: CompiledRetryPolicy | undefined, o: AttemptOutcome, triesSoFar: number, method: string): boolean {
  if (!policy || triesSoFar > policy.attempts) return false;
  if (!isRetriable(policy, o)) return false;
  return neverSent(o) || IDEMPOTENT.has(method);
}

/** Envoy's default base interval of the retry back-off. */
export const DEFAULT_BACKOFF_BASE_MS = 25;

/** Envoy's jittered exponential back-off before retry number `retry` (1-based): random in [0, min(base * (2^retry - 1), 10 * base)) ms. */
export function retryBackoffMs(retry: number, random: () => number = Math.random, baseMs = DEFAULT_BACKOFF_BASE_MS): number {
  const ceiling = Math.min(baseMs * ((1 << Math.min(retry, 10)) - 1), 10 * baseMs);
  return Math.floor(random() * ceiling);
}
