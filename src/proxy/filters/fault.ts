/**
 * Fault injection (Istio HTTPFaultInjection): a delay and/or an abort, each applied to a
 * percentage of requests. Config is compiled once per route; `decide` runs per request and
 * allocates nothing when no fault fires. Randomness is injectable for tests.
 */
import type { FaultPolicy } from '../../proxy-config/types.js';

/** What to do to one request; `delayMs` first (flag DI), then the abort (flag FI) if present. */
export interface FaultDecision {
  /** Milliseconds to hold the request before going on (0: no delay). */
  delayMs: number;
  /** Answer with this status instead of forwarding (absent: no abort). */
  abortStatus?: number;
  /** The gRPC status name of a gRPC abort (kept for the protocols issue; the pipeline may set grpc-status). */
  grpcStatus?: string;
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

/** Compiles a fault policy; returns undefined when the policy injects nothing. */
export function compileFault(policy: FaultPolicy | undefined, random: () => number = Math.random): CompiledFault | undefined {
  if (!policy || (!policy.delay && !policy.abort)) return undefined;
  const delay = policy.delay;
  const abort = policy.abort;
  const abortStatus = abort ? (abort.httpStatus ?? (abort.grpcStatus !== undefined ? 200 : 500)) : 0;
  return {
    policy,
    decide() {
      const delayed = delay !== undefined && delay.fixedDelayMs > 0 && rollPercentage(delay.percentage, random);
      const aborted = abort !== undefined && rollPercentage(abort.percentage, random);
      if (!delayed && !aborted) return undefined;
      const d: FaultDecision = { delayMs: delayed ? delay!.fixedDelayMs : 0 };
      if (aborted) {
        d.abortStatus = abortStatus;
        if (abort!.grpcStatus !== undefined) d.grpcStatus = abort!.grpcStatus;
      }
      return d;
    },
  };
}
