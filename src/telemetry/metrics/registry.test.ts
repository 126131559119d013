import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Registry } from './registry.js';
import { escapeHelp, escapeLabelValue, formatValue } from './exposition.js';
import { DURATION_BUCKETS_MS, IstioMetrics } from './istio.js';

describe('exposition', () => {
  it('escapes label values and help text as the text format requires', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('x\\y\nz "q"')).toBe('x\\\\y\\nz "q"');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(1e6)).toBe('1000000');
  });

  it('renders HELP/TYPE, labelled counters, gauges and cumulative histogram buckets', () => {
    const r = new Registry();
    r.counter({ name: 'c_total', help: 'a "counter"\nwith lines', labelNames: ['k'] }).labels('v"1').inc(3);
    r.gauge({ name: 'g', help: 'g' }).labels().set(-2.5);
    const h = r.histogram({ name: 'h_ms', help: 'h', labelNames: ['x'], buckets: [1, 5, 10] }).labels('y');
    for (const v of [0.5, 1, 3, 7, 100]) h.observe(v);
    expect(r.expose()).toBe(
      '# HELP c_total a "counter"\\nwith lines\n# TYPE c_total counter\nc_total{k="v\\"1"} 3\n' +
        '# HELP g g\n# TYPE g gauge\ng -2.5\n' +
        '# HELP h_ms h\n# TYPE h_ms histogram\n' +
        'h_ms_bucket{x="y",le="1"} 2\nh_ms_bucket{x="y",le="5"} 3\nh_ms_bucket{x="y",le="10"} 4\nh_ms_bucket{x="y",le="+Inf"} 5\n' +
        'h_ms_sum{x="y"} 111.5\nh_ms_count{x="y"} 5\n',
    );
  });

  it('returns the same child for the same labels and the same family on identical re-registration', () => {
    const r = new Registry();
    const f = r.counter({ name: 'a_total', help: 'a', labelNames: ['k'] });
    expect(f.labels('1')).toBe(f.labels('1'));
    expect(r.counter({ name: 'a_total', help: 'a', labelNames: ['k'] })).toBe(f);
  });

  it('rejects bad names, conflicting registrations, wrong label counts and bad buckets with stable codes', () => {
    const r = new Registry();
    expect(() => r.counter({ name: '1bad', help: '' })).toThrow(/BOWLINE_E_TELEMETRY_METRIC_NAME/);
    expect(() => r.counter({ name: 'ok', help: '', labelNames: ['__x'] })).toThrow(/BOWLINE_E_TELEMETRY_LABEL_NAME/);
    expect(() => r.histogram({ name: 'hh', help: '', labelNames: ['le'], buckets: [1] })).toThrow(/BOWLINE_E_TELEMETRY_LABEL_NAME/);
    r.counter({ name: 'x_total', help: 'x' });
    expect(() => r.gauge({ name: 'x_total', help: 'x' })).toThrow(/BOWLINE_E_TELEMETRY_METRIC_CONFLICT/);
    expect(() => r.counter({ name: 'y', help: '', labelNames: ['a'] }).labels()).toThrow(/BOWLINE_E_TELEMETRY_LABEL_COUNT/);
    expect(() => r.histogram({ name: 'z', help: '', buckets: [2, 1] })).toThrow(/BOWLINE_E_TELEMETRY_BUCKETS/);
  });

  it('bounds cardinality: label sets past maxSeries share one overflow child', () => {
    const r = new Registry();
    const f = r.counter({ name: 'n_total', help: 'n', labelNames: ['path'], maxSeries: 3 });
    for (let i = 0; i < 100; i++) f.labels(`/p${i}`).inc();
    expect(f.size).toBe(3);
    expect(r.expose()).toContain('n_total{path="overflow"} 97');
  });

  it('keeps serving when a collector throws', () => {
    const r = new Registry();
    r.onCollect(() => {
      throw new Error('boom');
    });
    r.gauge({ name: 'g', help: 'g' }).labels().set(1);
    expect(r.expose()).toContain('g 1');
  });

  it('puts histogram observations in the right bucket for Istio duration buckets', () => {
    const r = new Registry();
    const h = r.histogram({ name: 'd', help: 'd', buckets: DURATION_BUCKETS_MS }).labels();
    h.observe(0.5); // le 0.5
    h.observe(0.51); // le 1
    h.observe(3_600_001); // +Inf
    expect(h.counts[0]).toBe(1);
    expect(h.counts[1]).toBe(1);
    expect(h.counts[DURATION_BUCKETS_MS.length]).toBe(1);
  });

  it.skipIf(!existsSync('/usr/bin/promtool'))('produces a page promtool accepts (istio metrics with hostile label values)', () => {
    const r = new Registry();
    const m = new IstioMetrics(r);
    const side = { workload: 'w"\\\n', namespace: 'ns', principal: 'spiffe://x/ns/a/sa/b', app: 'a', version: 'v1', canonicalService: 'a', canonicalRevision: 'v1', cluster: 'c' };
    const s = m.httpSeries({ reporter: 'destination', source: side, destination: side, service: { host: 'h', name: 'n', namespace: 'ns' }, protocol: 'http', securityPolicy: 'mutual_tls' });
    s.record(200, '-', '', 3, 10, 100);
    s.record(503, 'UF', '', 1, 0, 0);
    const t = m.tcpSeries({ reporter: 'source', source: side, destination: side, service: { host: 'h', name: 'n', namespace: 'ns' }, protocol: 'tcp', securityPolicy: 'unknown' });
    t.opened();
    t.bytes(5, 6);
    t.closed();
    const res = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: r.expose(), encoding: 'utf8' });
    const problems = (res.stdout + res.stderr).split('\n').filter((l) => l.trim() !== '');
    // Istio's own name breaks the "base unit" lint rule; anything else (a parse error) fails.
    expect(problems.filter((l) => !l.includes('use base unit "seconds" instead of "milliseconds"'))).toEqual([]);
  });
});
