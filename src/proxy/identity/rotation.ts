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
  /** Told when a certificate the CA just issued is not current by this host's clock (BOWLINE_E_IDENTITY_CLOCK_SKEW). */
  onClockSkew?: (err: IdentityError) => void;
}

/** How far a just-issued certificate may sit from this host's clock before it counts as clock skew (ms). */
const SKEW_TOLERANCE_MS = 60_000;
/** The CA backdates notBefore by at most this, and by at most a tenth of the lifetime (src/ca/authority.ts validity). */
const CA_MAX_BACKDATE_MS = 5 * 60_000;

/**
 * When to renew a certificate the CA has just issued: `renewalDelay` by this host's clock, held within 25-65 % of
 * the lifetime. With a right clock the delay is 30-60 % of it (half-life ±10 %, less the CA's backdate) and the
 * bounds never bind; with a clock ahead by more than half the lifetime the certificate looks due at once and the
 * proxy would renew in a loop, and with one far behind it would wait past the certificate's real expiry.
 */
export function freshRenewalDelay(c: { notBefore: number; notAfter: number }, now: number, random: number, jitter = 0.1): number {
  const life = c.notAfter - c.notBefore;
  return Math.min(Math.max(renewalDelay(c, now, random, jitter), Math.round(life * 0.25)), Math.round(life * 0.65));
}

/**
 * How far this host's clock is from the CA's, judged from a certificate the CA issued just now (its notBefore is
 * the CA's clock less a backdate of at most min(5 min, a tenth of the lifetime)): a positive number of ms ahead, a
 * negative one behind, 0 within SKEW_TOLERANCE_MS (or a tenth of the lifetime, if less) of that window.
 */
export function clockSkewFromFresh(c: { notBefore: number; notAfter: number }, now: number): number {
  const life = c.notAfter - c.notBefore;
  const latest = c.notBefore + Math.min(CA_MAX_BACKDATE_MS, life / 10);
  const tolerance = Math.min(SKEW_TOLERANCE_MS, life / 10);
  if (now > latest + tolerance) return now - latest;
  if (now < c.notBefore - tolerance) return now - c.notBefore;
  return 0;
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
    const now = this.clock.now();
    const skew = clockSkewFromFresh(c, now);
    if (skew !== 0) {
      const by = `${Math.round(Math.abs(skew) / 1000)} s`;
      const here = now > c.notAfter ? 'has already expired by it' : now < c.notBefore ? 'is not valid yet by it' : 'is still valid by it';
      this.opts.onClockSkew?.(new IdentityError(IDENTITY_ERRORS.CLOCK_SKEW, `this host's clock is at least ${by} ${skew > 0 ? 'ahead of' : 'behind'} the CA's: the workload certificate it just issued (valid ${new Date(c.notBefore).toISOString()} to ${new Date(c.notAfter).toISOString()}) ${here}, and this proxy judges its peers' certificates by the same clock (expect BOWLINE_E_TLS_PEER_EXPIRED or BOWLINE_E_TLS_PEER_NOT_YET_VALID refusals); synchronise the clock (NTP). Renewals follow the certificate's lifetime meanwhile`));
    }
    if (!this.stopped) this.schedule(freshRenewalDelay(c, now, this.random(), this.opts.jitter ?? 0.1));
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
