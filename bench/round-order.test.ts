import { describe, expect, it } from 'vitest';
import { roundOrder } from './proxy.js';

const names = ['direct', 'bowline', 'bowline-telemetry-off', 'hop', 'mtls-hop', 'nginx', 'haproxy', 'haproxy-hop'];
const targets = names.map((name) => ({ name }));
const order = (i: number): string[] => roundOrder(targets, i).map((t) => t.name);
const gap = (o: string[], a: string, b: string): number => Math.abs(o.indexOf(a) - o.indexOf(b));

describe('roundOrder', () => {
  it('runs every target once a round, and the pairs a ratio is taken of back to back', () => {
    for (let i = 0; i < 12; i++) {
      const o = order(i);
      expect([...o].sort()).toEqual([...names].sort());
      expect(gap(o, 'bowline', 'bowline-telemetry-off')).toBeLessThanOrEqual(2);
      expect(gap(o, 'bowline', 'haproxy')).toBeLessThanOrEqual(2);
      expect(gap(o, 'hop', 'direct')).toBeLessThanOrEqual(2);
      expect(gap(o, 'haproxy-hop', 'direct')).toBeLessThanOrEqual(2);
    }
  });

  it('rotates which target goes first, and which half of a pair goes first', () => {
    const firsts = new Set([0, 1, 2, 3, 4].map((i) => order(i)[0]));
    expect(firsts.size).toBeGreaterThan(3);
    const onFirst = [0, 1, 2, 3, 4, 5].map((i) => order(i).indexOf('bowline') < order(i).indexOf('bowline-telemetry-off'));
    expect(onFirst).toContain(true);
    expect(onFirst).toContain(false);
  });

  it('keeps a target without a partner (no haproxy installed) and works with pairs cut short', () => {
    const few = [{ name: 'direct' }, { name: 'bowline' }, { name: 'bowline-telemetry-off' }, { name: 'hop' }];
    for (let i = 0; i < 4; i++) expect(roundOrder(few, i).map((t) => t.name).sort()).toEqual(['bowline', 'bowline-telemetry-off', 'direct', 'hop']);
  });
});
