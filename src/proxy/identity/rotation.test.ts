import { describe, expect, it } from 'vitest';
import type { WorkloadCredentials } from './credentials.js';
import { IDENTITY_ERRORS, type IdentityError } from './errors.js';
import { CertificateRotator, renewalDelay, type RotationClock } from './rotation.js';

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

describe('CertificateRotator', () => {
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
