import { describe, expect, it } from 'vitest';
import { SmoothRotation } from './smooth-rotation.js';
import { distributeBalancer, type LocalityGroup } from './locality.js';
import type { UpstreamEndpoint } from './endpoint.js';

/** `n` picks with the weights `w(pick)` (0: not a candidate), as slot names. */
function picks(names: string, n: number, w: (pick: number) => number[]): string {
  const r = new SmoothRotation([...names]);
  let out = '';
  for (let p = 0; p < n; p++) {
    w(p).forEach((x, i) => { if (x > 0) r.offer(i, x); });
    const i = r.take();
    out += i < 0 ? '-' : names[i];
  }
  return out;
}

describe('SmoothRotation', () => {
  it('spreads picks by weight the way nginx does (5:1:1 -> a a b a c a a)', () => {
    expect(picks('abc', 14, () => [5, 1, 1])).toBe('aabacaa'.repeat(2));
  });

  it('follows candidates that come and go between picks, and picks nothing when none is offered', () => {
    // b is out for picks 2-5: a takes them, and b is not owed a burst when it comes back.
    expect(picks('ab', 10, (p) => (p >= 2 && p < 6 ? [1, 0] : [1, 1]))).toBe('abaaaaabab');
    expect(picks('ab', 3, (p) => (p === 1 ? [0, 0] : [1, 1]))).toBe('a-b');
  });
});

describe('distributeBalancer', () => {
  /** A locality with one endpoint whose picks are counted. */
  const locality = (weight: number): LocalityGroup & { hits: number } => {
    const ep = {} as UpstreamEndpoint;
    const g = { eps: [ep], weight, hits: 0, balancer: { pick: () => { g.hits++; return { endpoint: ep }; } } };
    return g;
  };

  it('splits by locality weight, and a locality with no usable endpoint gets none of it', () => {
    const a = locality(80);
    const b = locality(20);
    const bal = distributeBalancer([a, b]);
    for (let i = 0; i < 100; i++) bal.pick({}, () => true);
    expect([a.hits, b.hits]).toEqual([80, 20]);
    for (let i = 0; i < 50; i++) bal.pick({}, (ep) => ep === a.eps[0]);
    expect([a.hits, b.hits]).toEqual([130, 20]);
    expect(bal.pick({}, () => false)).toBeUndefined();
  });
});
