import { describe, expect, it } from 'vitest';
import type { WorkloadCredentials } from './credentials.js';
import { IDENTITY_ERRORS, type IdentityError } from './errors.js';
import { CertificateRotator, clockSkewFromFresh, freshRenewalDelay, renewalDelay, type RotationClock } from './rotation.js';

/** A clock whose timers fire only when the test advances it. */
class FakeClock implements RotationClock {
  t = 1_000_000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => { const id = ++this.seq; this.timers.push({ at: this.t + ms, fn, id }); return id; };
  clearTimeout = (h: unknown) => { this.timers = this.timers.filter((x) => x.id !== h); };
  /** Moves time forward, firing due timers in order, letting promise chains settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
}

function creds(notBefore: number, lifetime: number, n: number): WorkloadCredentials {
  return { keyPem: `k${n}`, chainPem: `c${n}`, trustBundlePem: 'r', spiffeId: 'spiffe://cluster.local/ns/a/sa/b', notBefore, notAfter: notBefore + lifetime };
}

function fakeLive(initial?: WorkloadCredentials) {
  let cur = initial;
  const history: WorkloadCredentials[] = [];
  return { current: () => cur, update: (c: WorkloadCredentials) => { cur = c; history.push(c); }, history };
}

describe('renewalDelay', () => {
  it('is half the lifetime, moved by at most the jitter fraction', () => {
    const v = { notBefore: 0, notAfter: 1000 };
    expect(renewalDelay(v, 0, 0.5)).toBe(500);
    expect(renewalDelay(v, 0, 0)).toBe(400);
    expect(renewalDelay(v, 0, 0.9999)).toBe(600);
    expect(renewalDelay(v, 700, 0.5)).toBe(0);
    expect(renewalDelay(v, 100, 0.5, 0)).toBe(400);
  });
});

describe('a certificate just issued, and this host\'s clock', () => {
  const HOUR = 3600_000;
  const DAY = 24 * HOUR;
  // As the CA issues a 24 h certificate at CA time T: notBefore backdated 5 min.
  const T = Date.parse('2026-06-01T12:00:00.000Z');
  const issued = { notBefore: T - 5 * 60_000, notAfter: T + DAY };

  it('with a right clock: renewal at half-life as renewalDelay says, no skew', () => {
    expect(freshRenewalDelay(issued, T, 0.5)).toBe(renewalDelay(issued, T, 0.5));
    expect(freshRenewalDelay(issued, T + 30_000, 0)).toBe(renewalDelay(issued, T + 30_000, 0));
    expect(freshRenewalDelay(issued, T, 0.9999)).toBe(renewalDelay(issued, T, 0.9999));
    expect(clockSkewFromFresh(issued, T)).toBe(0);
    expect(clockSkewFromFresh(issued, T + 50_000)).toBe(0);
    expect(clockSkewFromFresh(issued, T - 5 * 60_000 - 50_000)).toBe(0);
  });

  it('a clock two days ahead: not due at once (that renewed in a loop) but after a quarter of the lifetime; the skew is told', () => {
    expect(renewalDelay(issued, T + 2 * DAY, 0.5)).toBe(0);
    expect(freshRenewalDelay(issued, T + 2 * DAY, 0.5)).toBe(Math.round((DAY + 5 * 60_000) * 0.25));
    expect(clockSkewFromFresh(issued, T + 2 * DAY)).toBe(2 * DAY);
  });

  it('a clock 13 hours behind: renewed within 65 % of the lifetime, before the certificate really expires; the skew is told', () => {
    expect(renewalDelay(issued, T - 13 * HOUR, 0.5)).toBeGreaterThan(DAY);
    expect(freshRenewalDelay(issued, T - 13 * HOUR, 0.5)).toBe(Math.round((DAY + 5 * 60_000) * 0.65));
    expect(clockSkewFromFresh(issued, T - 13 * HOUR)).toBe(-(13 * HOUR - 5 * 60_000));
  });
});

describe('CertificateRotator', () => {
  it('on a host whose clock is two lifetimes ahead: one renewal per quarter of the lifetime, not a loop, and a clock-skew error', async () => {
    const clock = new FakeClock();
    const live = fakeLive();
    const skews: IdentityError[] = [];
    let n = 0;
    let rot: CertificateRotator | undefined = undefined;
    // The CA's clock is the test's; this host's reads 20 s ahead, two lifetimes of its 10 s certificates.
    rot = new CertificateRotator({
      live, clock: { ...clock, now: () => clock.now() + 20_000, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, random: () => 0.5,
      onClockSkew: (e) => skews.push(e),
      renew: async () => {
        if (++n >= 50) rot!.stop(); // the loop this replaced: stop it rather than spin
        return creds(clock.now() - 1000, 10_000, n);
      },
    });
    rot.start();
    await clock.advance(0);
    expect(live.history).toHaveLength(1);
    expect(skews.map((e) => e.code)).toEqual([IDENTITY_ERRORS.CLOCK_SKEW]);
    expect(skews[0]!.message).toMatch(/this host's clock is at least 20 s ahead of the CA's: the workload certificate it just issued \(valid .* to .*\) has already expired by it/);
    await clock.advance(2499); // a quarter of the 10 s lifetime, less a millisecond
    expect(live.history).toHaveLength(1);
    await clock.advance(1);
    expect(live.history).toHaveLength(2);
    rot.stop();
  });


  it('gets a first certificate at once, then renews at about half-life, again and again', async () => {
    const clock = new FakeClock();
    const live = fakeLive();
    let n = 0;
    const rot = new CertificateRotator({ live, clock, random: () => 0.5, renew: async () => creds(clock.now(), 10_000, ++n) });
    rot.start();
    await clock.advance(0);
    expect(live.history).toHaveLength(1);
    expect(rot.nextRenewalAt).toBe(clock.now() + 5000);
    await clock.advance(4999);
    expect(live.history).toHaveLength(1);
    await clock.advance(1);
    expect(live.history).toHaveLength(2);
    await clock.advance(5000 * 3);
    expect(live.history.map((c) => c.keyPem)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    rot.stop();
    await clock.advance(100_000);
    expect(live.history).toHaveLength(5);
  });

  it('spreads renewals with jitter', () => {
    const clock = new FakeClock();
    const at = [0, 0.25, 0.75, 0.99].map((r) => {
      const rot = new CertificateRotator({ live: fakeLive(creds(clock.now(), 10_000, 0)), clock, random: () => r, renew: async () => creds(0, 1, 0) });
      rot.start();
      return rot.nextRenewalAt! - clock.now();
    });
    expect(at).toEqual([4000, 4500, 5500, 5980]);
  });

  it('retries a failed renewal with capped exponential backoff and reports each failure', async () => {
    const clock = new FakeClock();
    const live = fakeLive(creds(clock.now(), 10_000, 0));
    const errors: Array<[string, number]> = [];
    let fail = 5;
    const rot = new CertificateRotator({
      live, clock, random: () => 0.5, retryMinMs: 100, retryMaxMs: 1000,
      onError: (e: IdentityError, attempt) => errors.push([e.code, attempt]),
      renew: async () => { if (fail-- > 0) throw new Error('control plane unreachable'); return creds(clock.now(), 10_000, 1); },
    });
    rot.start();
    await clock.advance(5000); // first attempt fails
    expect(errors).toEqual([[IDENTITY_ERRORS.RENEWAL_FAILED, 1]]);
    await clock.advance(100 + 200 + 400 + 800); // attempts 2..5 fail; delays 100, 200, 400, 800
    expect(errors.map((e) => e[1])).toEqual([1, 2, 3, 4, 5]);
    expect(rot.nextRenewalAt! - clock.now()).toBe(1000); // capped
    await clock.advance(1000);
    expect(live.history).toHaveLength(1);
    expect(live.current()!.keyPem).toBe('k1');
  });

  it('joins concurrent rotateNow calls into one renewal', async () => {
    const live = fakeLive();
    let calls = 0;
    const rot = new CertificateRotator({ live, clock: new FakeClock(), renew: async () => { calls++; return creds(0, 1000, calls); } });
    await Promise.all([rot.rotateNow(), rot.rotateNow()]);
    expect(calls).toBe(1);
  });
});
