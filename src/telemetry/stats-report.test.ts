import { describe, expect, it } from 'vitest';
import { statsRowProblem } from '../proxy-config/stats.js';
import { IstioMetrics, type SeriesKey } from './metrics/istio.js';
import { Registry } from './metrics/registry.js';
import { StatsReporter } from './stats-report.js';

const side = (workload: string, version: string) => ({ workload, namespace: 'default', principal: 'unknown', app: workload.replace(/-v\d$/, ''), version, canonicalService: workload.replace(/-v\d$/, ''), canonicalRevision: version, cluster: 'Kubernetes' });
const key = (reporter: 'source' | 'destination', dst: string, version: string, mtls: boolean): SeriesKey => ({
  reporter, source: side('productpage-v1', 'v1'), destination: side(`${dst}-${version}`, version),
  service: { host: `${dst}.default.svc.cluster.local`, name: dst, namespace: 'default' }, protocol: 'http', securityPolicy: mtls ? 'mutual_tls' : 'unknown',
});

describe('StatsReporter', () => {
  it('reports what changed since the previous report, per edge and response class, with latency buckets', () => {
    const m = new IstioMetrics(new Registry());
    let t = 1000;
    const rep = new StatsReporter(m, () => t);
    const v2 = m.httpSeries(key('destination', 'reviews', 'v2', true));
    for (let i = 0; i < 9; i++) v2.record(200, '-', '', 3, 0, 10);
    v2.record(503, 'UF', '', 700, 0, 0);
    m.httpSeries(key('source', 'reviews', 'v3', false)).record(200, '-', '', 20, 0, 0);
    t += 5000;
    const [msg, ...more] = rep.collect();
    expect(more).toEqual([]);
    expect(msg!.intervalMs).toBe(5000);
    const rows = msg!.rows;
    for (const r of rows) expect(statsRowProblem(r, msg!.bounds.length)).toBeUndefined();
    const ok = rows.find((r) => r.dv === 'v2' && r.c === '2xx')!;
    expect(ok).toMatchObject({ r: 'd', sw: 'productpage-v1', dw: 'reviews-v2', ds: 'reviews.default.svc.cluster.local', m: 1, n: 9, e: 0, s: 27 });
    const idx5 = msg!.bounds.indexOf(5);
    expect(ok.b).toEqual([idx5, 9]);
    expect(rows.find((r) => r.dv === 'v2' && r.c === '5xx')).toMatchObject({ n: 1, e: 1 });
    expect(rows.find((r) => r.dv === 'v3')).toMatchObject({ r: 's', m: 0, n: 1 });
    expect(rep.collect()).toEqual([]);
    v2.record(200, '-', '', 3, 0, 10);
    expect(rep.collect()[0]!.rows).toEqual([expect.objectContaining({ dv: 'v2', c: '2xx', n: 1 })]);
  });

  it('counts TCP connections opened, and a flagged one as an error', () => {
    const m = new IstioMetrics(new Registry());
    const rep = new StatsReporter(m, () => 0);
    const s = m.tcpSeries({ ...key('destination', 'mongodb', 'v1', true), protocol: 'tcp' });
    s.opened();
    s.opened();
    const [msg] = rep.collect();
    expect(msg!.rows).toEqual([expect.objectContaining({ p: 'tcp', c: '-', n: 2, e: 0, m: 1 })]);
  });

  it('refuses malformed rows with a reason', () => {
    expect(statsRowProblem({ r: 'x' }, 19)).toMatch(/r must be/);
    const good = { r: 's', sw: 'a', sn: 'b', sa: 'c', sv: 'd', dw: 'e', dn: 'f', da: 'g', dv: 'h', ds: 'i', p: 'http', m: 0, c: '2xx', n: 2, e: 1, s: 3, b: [0, 2] };
    expect(statsRowProblem(good, 19)).toBeUndefined();
    expect(statsRowProblem({ ...good, e: 3 }, 19)).toMatch(/e must not exceed n/);
    expect(statsRowProblem({ ...good, b: [99, 1] }, 19)).toMatch(/bucket/);
    expect(statsRowProblem({ ...good, n: -1 }, 19)).toMatch(/non-negative/);
  });
});
