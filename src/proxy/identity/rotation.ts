import type { LiveCredentials, WorkloadCredentials } from './credentials.js';
import { IDENTITY_ERRORS, IdentityError } from './errors.js';

/** Time as the rotator sees it; tests pass a fake one. */
export interface RotationClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time, with unref'd timers so a pending renewal never keeps a process alive. */
export const systemClock: RotationClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, 2 ** 31 - 1)).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * When to renew: at half the certificate's life, moved by up to ±`jitter` of the lifetime
 * (random in [0,1)) so proxies started together do not renew together. Returns ms from `now`, >= 0.
 */
export function renewalDelay(validity: { notBefore: number; notAfter: number }, now: number, random: number, jitter = 0.1): number {
  const life = validity.notAfter - validity.notBefore;
  const at = validity.notBefore + life * (0.5 + jitter * (2 * random - 1));
  return Math.max(0, Math.round(at - now));
}

/** Options of a CertificateRotator. */
export interface RotatorOptions {
  /** Where new credentials go. */
  live: Pick<LiveCredentials, 'current' | 'update'>;
  /** Obtains fresh credentials: new key + CSR, sent to the CA (over the push stream). */
  renew: () => Promise<WorkloadCredentials>;
  clock?: RotationClock;
  random?: () => number;
  /** Fraction of the lifetime the renewal time moves by, default 0.1. */
  jitter?: number;
  /** First retry delay after a failed renewal, doubled each time up to retryMaxMs (defaults 1 s, 30 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Told of every failed renewal (log + metrics); retries continue until one succeeds. */
  onError?: (err: IdentityError, attempt: number) => void;
  /** Told of every successful rotation. */
  onRotated?: (c: WorkloadCredentials) => void;
}

/**
 * Keeps a proxy's workload certificate fresh: renews at about half-life with jitter, retries with
 * capped exponential backoff on failure, and swaps the result into the live TLS contexts.
 */
export class CertificateRotator {
  private timer: unknown;
  private inflight: Promise<WorkloadCredentials> | undefined;
  private failures = 0;
  private stopped = true;
  /** When the next renewal is due (ms since the epoch), for /config_dump and tests. */
  nextRenewalAt: number | undefined;
  private readonly clock: RotationClock;
  private readonly random: () => number;

  constructor(private readonly opts: RotatorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
  }

  /** Starts the schedule: renews now when there are no credentials yet, else at about half-life. */
  start(): void {
    this.stopped = false;
    const c = this.opts.live.current();
    if (!c) this.schedule(0);
    else this.schedule(renewalDelay(c, this.clock.now(), this.random(), this.opts.jitter ?? 0.1));
  }

  /** Stops renewing (a renewal in flight still completes and is installed). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.nextRenewalAt = undefined;
  }

  /** Renews immediately (or joins a renewal in flight) and installs the result. */
  rotateNow(): Promise<WorkloadCredentials> {
    this.inflight ??= this.runRenewal().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async runRenewal(): Promise<WorkloadCredentials> {
    const c = await this.opts.renew();
    this.opts.live.update(c);
    this.failures = 0;
    this.opts.onRotated?.(c);
    if (!this.stopped) this.schedule(renewalDelay(c, this.clock.now(), this.random(), this.opts.jitter ?? 0.1));
    return c;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.nextRenewalAt = this.clock.now() + delayMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.rotateNow().catch((err: unknown) => {
        this.failures += 1;
        const e = err instanceof IdentityError ? err : new IdentityError(IDENTITY_ERRORS.RENEWAL_FAILED, `renewing the workload certificate failed: ${(err as Error)?.message ?? err}`, { cause: err });
        this.opts.onError?.(e, this.failures);
        if (!this.stopped) this.schedule(Math.min(this.opts.retryMaxMs ?? 30_000, (this.opts.retryMinMs ?? 1000) * 2 ** (this.failures - 1)));
      });
    }, delayMs);
  }
}
