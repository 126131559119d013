/**
 * Outlier detection (Istio OutlierDetection, Envoy's consecutive-errors detectors):
 * consecutive 5xx and consecutive gateway errors (502/503/504, connect failures, resets,
 * timeouts) and, when configured, consecutive local-origin failures eject an endpoint for baseEjectionTime x its ejection multiplier (which grows with
 * each ejection and decays by one per interval spent healthy), capped by maxEjectionPercent
 * (at least one endpoint may always be ejected). Unejection happens when the time is up,
 * checked lazily against an injected clock, so there are no timers to leak.
 */
import type { OutlierDetection } from '../../proxy-config/types.js';
import type { UpstreamEndpoint } from './endpoint.js';
import type { UpstreamOutcome } from './types.js';

/** Envoy's default cap on one ejection (max_ejection_time). */
export const MAX_EJECTION_TIME_MS = 300_000;

/** Applies an OutlierDetection policy to one cluster's endpoints. */
export class OutlierDetector {
  private readonly threshold5xx: number;
  private readonly thresholdGateway: number;
  /** Istio's consecutiveLocalOriginFailures: when set, local failures (connect, reset, timeout) are counted apart
   *  (Envoy's split_external_local_origin_errors) and no longer count as 5xx / gateway errors. */
  private readonly thresholdLocal: number;
  private readonly intervalMs: number;

  constructor(readonly config: OutlierDetection, private readonly now: () => number) {
    this.threshold5xx = config.consecutive5xxErrors ?? 5;
    this.thresholdGateway = config.consecutiveGatewayErrors ?? 0;
    this.thresholdLocal = config.consecutiveLocalOriginFailures ?? 0;
    this.intervalMs = config.intervalMs > 0 ? config.intervalMs : 10_000;
  }

  /** Whether `ep` is ejected right now (unejects it when its time is up). */
  isEjected(ep: UpstreamEndpoint): boolean {
    const o = ep.outlier;
    if (o.ejectedUntil === 0) return false;
    if (this.now() < o.ejectedUntil) return true;
    o.ejectedUntil = 0;
    o.consecutive5xx = 0;
    o.consecutiveGateway = 0;
    o.consecutiveLocal = 0;
    return false;
  }

  /** Counts endpoints currently ejected. */
  ejectedCount(eps: readonly UpstreamEndpoint[]): number {
    let n = 0;
    for (const ep of eps) if (this.isEjected(ep)) n++;
    return n;
  }

  /** Records one attempt's outcome; may eject `ep`. Returns true when this call ejected it. */
  record(ep: UpstreamEndpoint, o: UpstreamOutcome, all: readonly UpstreamEndpoint[]): boolean {
    const s = ep.outlier;
    const local = o.connectFailure === true || o.reset === true || o.timeout === true;
    if (!local && o.status === undefined) return false;
    if (this.isEjected(ep)) return false;
    if (this.thresholdLocal > 0) {
      if (local) {
        s.consecutiveLocal = (s.consecutiveLocal ?? 0) + 1;
        if (s.consecutiveLocal < this.thresholdLocal || !this.mayEject(all)) return false;
        this.eject(ep);
        return true;
      }
      s.consecutiveLocal = 0;
    }
    const status = local ? 503 : o.status!;
    if (status >= 500) {
      s.consecutive5xx++;
      if (status === 502 || status === 503 || status === 504) s.consecutiveGateway++;
      else s.consecutiveGateway = 0;
    } else {
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return false;
    }
    const hit = (this.threshold5xx > 0 && s.consecutive5xx >= this.threshold5xx) || (this.thresholdGateway > 0 && s.consecutiveGateway >= this.thresholdGateway);
    if (!hit || !this.mayEject(all)) return false;
    this.eject(ep);
    return true;
  }

  private mayEject(all: readonly UpstreamEndpoint[]): boolean {
    const max = this.config.maxEjectionPercent;
    if (!(max > 0) || all.length === 0) return false;
    const ejected = this.ejectedCount(all);
    if (ejected === 0) return true; // Envoy ejects at least one host regardless of the percentage
    return ((ejected + 1) * 100) / all.length <= max;
  }

  private eject(ep: UpstreamEndpoint): void {
    const s = ep.outlier;
    const now = this.now();
    if (s.multiplier > 0 && s.lastUneject !== undefined) {
      const healthyIntervals = Math.floor((now - s.lastUneject) / this.intervalMs);
      s.multiplier = Math.max(0, s.multiplier - healthyIntervals);
    }
    s.multiplier++;
    s.ejections++;
    const duration = Math.min(this.config.baseEjectionTimeMs * s.multiplier, Math.max(this.config.baseEjectionTimeMs, MAX_EJECTION_TIME_MS));
    s.ejectedUntil = now + duration;
    s.lastUneject = s.ejectedUntil;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    s.consecutiveLocal = 0;
  }

  /**
   * Panic mode (Istio minHealthPercent, Envoy's panic threshold): true when fewer than
   * minHealthPercent of the endpoints are healthy and not ejected, so every endpoint is used.
   */
  panics(all: readonly UpstreamEndpoint[]): boolean {
    const min = this.config.minHealthPercent ?? 0;
    if (!(min > 0) || all.length === 0) return false;
    let ok = 0;
    for (const ep of all) if (ep.healthy && !this.isEjected(ep)) ok++;
    return (ok * 100) / all.length < min;
  }
}
