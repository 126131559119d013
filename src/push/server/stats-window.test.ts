import { describe, expect, it } from 'vitest';
import type { StatsRow } from '../../proxy-config/stats.js';
import { bucketQuantile, exportedEdgeProblem, StatsWindow, WINDOW_BOUNDS_MS } from './stats-window.js';

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

  it('adds another window\'s export slot by slot: counts summed, quantiles from the summed buckets, rates over the same time', () => {
    // Two replicas: one holds the fast callers' reports, the other the slow ones' (each proxy reports to one replica).
    let t = 1_000_000;
    const a = new StatsWindow({ now: () => t });
    const b = new StatsWindow({ now: () => t });
    a.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 97, b: [1, 97] })] }); // <= 1 ms
    b.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 3, c: '5xx', e: 3, b: [10, 3] }), row({ r: 's', sw: 'ratings-v1', m: 0, n: 4, b: [3, 4] })] }); // 1-2.5 s
    t += 20_000;
    a.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 100, b: [1, 100] })] });
    t += 5_000;
    const merged = new StatsWindow({ now: () => t });
    expect(merged.absorb(a.export(60_000))).toBe(0);
    expect(merged.absorb(b.export(60_000))).toBe(0);
    const e = merged.edges(60_000).find((x) => x.reporter === 'destination')!;
    expect(e).toMatchObject({ requests: 200, errors: 3, classes: { '2xx': 197, '5xx': 3 } });
    // The slow 1.5 % sets the p99: the fast replica's own p99 says ~1 ms.
    expect(e.p99).toBeGreaterThan(1000);
    expect(e.p50).toBeLessThanOrEqual(1);
    // The same seconds as one window holding every report: the first slot of the period to now.
    expect(e.rps).toBeCloseTo(200 / 25, 5);
    expect(merged.edges(60_000).map((x) => `${x.reporter} ${x.source.workload} ${x.requests}`).sort()).toEqual(['destination productpage-v1 200', 'source ratings-v1 4']);
    // The series keeps every slot (empty ones too) in order.
    expect(merged.series({ service: 'reviews' }, 60_000).map((p) => p.t - 1_000_000)).toEqual([0, 10_000, 20_000]);
  });

  it('exports only the period and the edges a filter names', () => {
    let t = 0;
    const w = new StatsWindow({ now: () => t });
    w.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 1 })] });
    t = 120_000;
    w.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 2 }), row({ ds: 'ratings.default.svc.cluster.local', dw: 'ratings-v1', n: 3 })] });
    const x = w.export(30_000, { service: 'ratings' });
    expect(x.slots.flatMap((s) => s.edges.map((e) => `${e.destination.service.split('.')[0]} ${e.n}`))).toEqual(['ratings 3']);
    expect(x.slots[0]!.start).toBeGreaterThanOrEqual(120_000 - 30_000 - 10_000);
  });

  it('refuses an export of other slots or buckets, and skips malformed edges and slots older than the window', () => {
    const t = 10_000_000;
    const w = new StatsWindow({ now: () => t });
    const src = new StatsWindow({ now: () => t });
    src.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 7 })] });
    const good = src.export();
    expect(() => w.absorb({ ...good, slotMs: 5000 })).toThrow(/5000 ms/);
    expect(() => w.absorb({ ...good, boundsMs: [1, 2, 3] })).toThrow(/buckets/);
    expect(w.edges()).toEqual([]);
    const edge = good.slots[0]!.edges[0]!;
    const bad = [{ ...edge, n: -1 }, { ...edge, e: 9 }, { ...edge, b: [1] }, { ...edge, protocol: 'udp' }, { ...edge, source: { workload: 1 } }, { ...edge, classes: { x: 'y' } }, null];
    for (const v of bad) expect(exportedEdgeProblem(v)).toBeDefined();
    const old = { start: t - 16 * 60_000 - ((t - 16 * 60_000) % 10_000), edges: [edge] };
    expect(w.absorb({ ...good, slots: [old, { start: good.slots[0]!.start, edges: [...bad, edge] as never }] })).toBe(bad.length);
    expect(w.edges().map((e) => e.requests)).toEqual([7]);
  });
});
