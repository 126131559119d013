import { describe, expect, it } from 'vitest';
import { ConfigView } from '../config-view.js';
import { RequestScan } from '../request-scan.js';
import { ListHeaders } from '../test-headers.js';
import { sampleByTraceId } from './context.js';
import { type RequestTrace, Tracer } from './tracer.js';

const node = { id: 'a-1', role: 'sidecar' as const, workload: 'a', namespace: 'default', serviceAccount: 'a', labels: {} };

function newTrace(): RequestTrace {
  return { requestId: undefined, traceId: '', spanId: '', parentId: undefined, sampled: false, debug: false, tracestate: undefined };
}

describe('Tracer.startScanned on a head without context (pooled new traces)', () => {
  for (const percent of [0, 1, 50, 100]) {
    it(`writes traceparent and B3 fields that agree, with the decision sampleByTraceId makes at ${percent} %`, () => {
      const tracer = new Tracer({ view: new ConfigView(node), samplingPercent: percent, sinks: [] });
      const scan = new RequestScan();
      const seen = new Set<string>();
      let sampled = 0;
      // More than one pool refill.
      for (let i = 0; i < 300; i++) {
        const h = new ListHeaders([['host', 'a'], ['x-request-id', `r${i}`]]);
        const t = newTrace();
        tracer.startScanned(scan.read(h), h, t);
        const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/.exec(h.get('traceparent')!);
        expect(m, h.get('traceparent')).not.toBeNull();
        expect(h.lines().slice(2).map((l) => l.split(':')[0])).toEqual(['traceparent', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled']);
        expect([t.traceId, t.spanId, t.requestId, t.parentId]).toEqual([m![1], m![2], `r${i}`, undefined]);
        expect(h.get('x-b3-traceid')).toBe(t.traceId);
        expect(h.get('x-b3-spanid')).toBe(t.spanId);
        expect(t.sampled).toBe(sampleByTraceId(t.traceId, percent));
        expect(m![3]).toBe(t.sampled ? '1' : '0');
        expect(h.get('x-b3-sampled')).toBe(t.sampled ? '1' : '0');
        seen.add(t.traceId);
        seen.add(t.spanId);
        if (t.sampled) sampled++;
      }
      expect(seen.size).toBe(600);
      if (percent === 0) expect(sampled).toBe(0);
      else if (percent === 100) expect(sampled).toBe(300);
      else if (percent === 50) expect(sampled).toBeGreaterThan(90);
    });
  }

  it('keeps an incoming context: the same trace id, this hop a child span', () => {
    const tracer = new Tracer({ view: new ConfigView(node), samplingPercent: 1, sinks: [] });
    const h = new ListHeaders([['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']]);
    const t = newTrace();
    tracer.startScanned(new RequestScan().read(h), h, t);
    expect(t).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', sampled: true });
    expect(h.get('traceparent')).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${t.spanId}-01`);
    expect(h.names.filter((n) => n === 'traceparent')).toHaveLength(1);
    expect(h.get('x-b3-parentspanid')).toBe('00f067aa0ba902b7');
  });
});
