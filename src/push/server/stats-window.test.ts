import { describe, expect, it } from 'vitest';
import type { StatsRow } from '../../proxy-config/stats.js';
import { bucketQuantile, StatsWindow, WINDOW_BOUNDS_MS } from './stats-window.js';

const row = (o: Partial<StatsRow>): StatsRow => ({ r: 'd', sw: 'productpage-v1', sn: 'default', sa: 'productpage', sv: 'v1', dw: 'reviews-v1', dn: 'default', da: 'reviews', dv: 'v1', ds: 'reviews.default.svc.cluster.local', p: 'http', m: 1, c: '2xx', n: 0, e: 0, s: 0, b: [], ...o });

describe('StatsWindow', () => {
  it('turns reports into rates, error ratios and quantiles per edge', () => {
    let t = 1_000_000;
    const w = new StatsWindow({ now: () => t });
    w.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 90, e: 0, b: [2, 90] }), row({ c: '5xx', n: 10, e: 10, b: [9, 10] })] });
    t += 10_000;
    const [e] = w.edges(60_000);
    expect(e).toMatchObject({ requests: 100, errors: 10, errorRatio: 0.1, classes: { '2xx': 90, '5xx': 10 }, mtls: true });
    expect(e!.rps).toBeCloseTo(10, 5);
    expect(e!.p50).toBeGreaterThan(1);
    expect(e!.p50).toBeLessThanOrEqual(5);
    expect(e!.p99).toBeGreaterThan(500);
  });

  it('prefers the callee report for an edge and keeps caller-only edges (calls that never reached a proxy)', () => {
    const w = new StatsWindow({ now: () => 5000 });
    w.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 5 }), row({ r: 's', m: 0, n: 6 }), row({ r: 's', m: 0, ds: 'ratings.default.svc.cluster.local', dw: 'unknown', c: '5xx', n: 3, e: 3 })] });
    const g = w.graphEdges();
    expect(g.map((e) => `${e.reporter} ${e.destination.service.split('.')[0]} ${e.requests}`).sort()).toEqual(['destination reviews 5', 'source ratings 3']);
  });

  it('forgets data older than the window and gives an even time axis with the split per version', () => {
    let t = 0;
    const w = new StatsWindow({ now: () => t, slotMs: 10_000, windowMs: 60_000 });
    w.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 100 })] });
    t = 30_000;
    w.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 50 }), row({ dv: 'v2', dw: 'reviews-v2', n: 50 })] });
    const s = w.series({ service: 'reviews' });
    expect(s.map((p) => p.t)).toEqual([0, 10_000, 20_000, 30_000]);
    expect(s[3]!.byVersion).toEqual({ v1: 5, v2: 5 });
    t = 200_000;
    w.add({ bounds: WINDOW_BOUNDS_MS, rows: [] });
    expect(w.edges(60_000)).toEqual([]);
    expect(w.series({ service: 'reviews' }).every((p) => p.rps === 0)).toBe(true);
  });

  it('re-bins reports with other bucket bounds and skips malformed rows', () => {
    const w = new StatsWindow({ now: () => 0 });
    expect(w.add({ bounds: [3, 700], rows: [row({ n: 2, b: [0, 1, 1, 1] }), { bad: true } as never] })).toBe(1);
    const [e] = w.edges();
    expect(e!.requests).toBe(2);
    expect(bucketQuantile(0.5, [0, 0, 1, 0], [1, 5, 10])).toBe(7.5);
    expect(bucketQuantile(0.5, [0, 0, 0], [1, 5])).toBeUndefined();
  });
});
