/**
 * Fault injection (Istio HTTPFaultInjection): a delay and/or an abort, each applied to a
 * percentage of requests. Config is compiled once per route; `decide` runs per request and
 * allocates nothing when no fault fires. Randomness is injectable for tests.
 */
import type { FaultPolicy } from '../../proxy-config/types.js';
import { HTTP2_ERROR_CODES } from '../../proxy-config/validate-routes.js';

/** What to do to one request; `delayMs` first (flag DI), then the abort (flag FI) if present. */
export interface FaultDecision {
  /** Milliseconds to hold the request before going on (0: no delay). */
  delayMs: number;
  /** Answer with this status instead of forwarding (absent: no abort). */
  abortStatus?: number;
  /** The gRPC status name of a gRPC abort (kept for the protocols issue; the pipeline may set grpc-status). */
  grpcStatus?: string;
  /** Reset the stream with this HTTP/2 error code instead of answering (HTTP/1.1: close the connection). */
  resetCode?: number;
}

/** A route's fault policy ready for the hot path. */
export interface CompiledFault {
  readonly policy: FaultPolicy;
  /** Rolls the dice for one request; undefined when neither delay nor abort applies. */
  decide(): FaultDecision | undefined;
}

/** Envoy's response flags for injected faults. */
export const FAULT_FLAG_DELAY = 'DI';
/** Envoy's response flag for an injected abort. */
export const FAULT_FLAG_ABORT = 'FI';

/** True with probability `percentage`/100 (0..100 floats), using `random` in [0, 1). */
export function rollPercentage(percentage: number, random: () => number): boolean {
  if (percentage >= 100) return true;
  if (!(percentage > 0)) return false;
  return random() * 100 < percentage;
}

/** The HTTP/2 error code (RFC 9113 section 7) of a name such as `REFUSED_STREAM`; INTERNAL_ERROR for an unknown name. */
export function http2ErrorCode(name: string): number {
  const i = HTTP2_ERROR_CODES.indexOf(name.toUpperCase());
  return i < 0 ? 2 : i;
}

/** A delay drawn from the exponential distribution with mean `meanMs` (inverse transform of `random` in [0, 1)). */
export function exponentialDelayMs(meanMs: number, random: () => number): number {
  return Math.round(-meanMs * Math.log(1 - random())) + 0; // + 0: never -0
}

/** Compiles a fault policy; returns undefined when the policy injects nothing. */
export function compileFault(policy: FaultPolicy | undefined, random: () => number = Math.random): CompiledFault | undefined {
  if (!policy || (!policy.delay && !policy.abort)) return undefined;
  const delay = policy.delay;
  const fixed = delay?.fixedDelayMs ?? 0;
  const mean = delay?.exponentialDelayMs ?? 0;
  const abort = policy.abort;
  const abortStatus = abort ? (abort.httpStatus ?? (abort.grpcStatus !== undefined ? 200 : 500)) : 0;
  const resetCode = abort?.http2Error !== undefined ? http2ErrorCode(abort.http2Error) : undefined;
  return {
    policy,
    decide() {
      const delayed = delay !== undefined && (fixed > 0 || mean > 0) && rollPercentage(delay.percentage, random);
      const aborted = abort !== undefined && rollPercentage(abort.percentage, random);
      if (!delayed && !aborted) return undefined;
      const d: FaultDecision = { delayMs: delayed ? (mean > 0 ? Math.max(1, exponentialDelayMs(mean, random)) : fixed) : 0 };
      if (aborted) {
        if (resetCode !== undefined) d.resetCode = resetCode;
        else d.abortStatus = abortStatus;
        if (abort!.grpcStatus !== undefined) d.grpcStatus = abort!.grpcStatus;
      }
      return d;
    },
  };
}
