import { describe, expect, it } from 'vitest';
import { TestHeaders } from '../test-headers.js';
import { extractContext, injectContext, parseB3Single, parseTraceparent, sampleByTraceId } from './context.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('trace context parsing', () => {
  it('parses valid traceparent and rejects invalid ones', () => {
    expect(parseTraceparent(`00-${T}-${S}-01`)).toMatchObject({ traceId: T, spanId: S, sampled: true });
    expect(parseTraceparent(`00-${T}-${S}-00`)?.sampled).toBe(false);
    expect(parseTraceparent(`01-${T}-${S}-01-future`)).toBeDefined();
    for (const bad of [`ff-${T}-${S}-01`, `00-${'0'.repeat(32)}-${S}-01`, `00-${T}-${'0'.repeat(16)}-01`, `00-${T}-${S}-01-extra`, `00-${T.toUpperCase()}-${S}-01`, `00-${T}-${S}`]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it('parses b3 single with 64 and 128 bit ids, decisions and debug', () => {
    expect(parseB3Single(`${T}-${S}-1-${'1'.repeat(16)}`)).toMatchObject({ traceId: T, spanId: S, sampled: true });
    expect(parseB3Single(`${S}-${S}`)).toMatchObject({ traceId: S, sampled: undefined });
    expect(parseB3Single('0')).toEqual({ sampled: false, debug: false, format: 'b3-single' });
    expect(parseB3Single(`${T}-${S}-d`)).toMatchObject({ sampled: true, debug: true });
    expect(parseB3Single(`${T}-${S}-x`)).toBeUndefined();
    expect(parseB3Single('nonsense')).toBeUndefined();
  });

  it('prefers traceparent, then b3, then x-b3-*, keeping tracestate', () => {
    const h = new TestHeaders({ traceparent: `00-${T}-${S}-01`, tracestate: 'k=v', 'x-b3-traceid': S, 'x-b3-spanid': S });
    expect(extractContext(h)).toMatchObject({ traceId: T, spanId: S, tracestate: 'k=v', format: 'w3c' });
    const m = new TestHeaders({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' });
    expect(extractContext(m)).toMatchObject({ traceId: T, spanId: S, sampled: false, format: 'b3' });
    const d = new TestHeaders({ 'x-b3-flags': '1' });
    expect(extractContext(d)).toEqual({ sampled: true, debug: true, format: 'b3' });
    expect(extractContext(new TestHeaders({ traceparent: 'garbage' }))).toBeUndefined();
  });
});

describe('trace context propagation (B3 <-> W3C)', () => {
  it('writes the same ids in W3C and B3 multi form, and b3 single when the caller used it', () => {
    const h = new TestHeaders();
    injectContext(h, { traceId: T, spanId: 'aaaaaaaaaaaaaaaa', parentId: S, sampled: true, debug: false, tracestate: 'x=1' }, true);
    expect(Object.fromEntries(h.map)).toEqual({
      traceparent: `00-${T}-aaaaaaaaaaaaaaaa-01`,
      tracestate: 'x=1',
      'x-b3-traceid': T,
      'x-b3-spanid': 'aaaaaaaaaaaaaaaa',
      'x-b3-parentspanid': S,
      'x-b3-sampled': '1',
      b3: `${T}-aaaaaaaaaaaaaaaa-1-${S}`,
    });
    // and what was written reads back identically from either format
    expect(parseTraceparent(h.get('traceparent')!)).toMatchObject({ traceId: T, spanId: 'aaaaaaaaaaaaaaaa', sampled: true });
    h.remove('traceparent');
    expect(extractContext(h)).toMatchObject({ traceId: T, spanId: 'aaaaaaaaaaaaaaaa', sampled: true });
  });

  it('widens 64-bit B3 trace ids for traceparent', () => {
    const h = new TestHeaders();
    injectContext(h, { traceId: S, spanId: 'bbbbbbbbbbbbbbbb', parentId: undefined, sampled: false, debug: false, tracestate: undefined }, false);
    expect(h.get('traceparent')).toBe(`00-0000000000000000${S}-bbbbbbbbbbbbbbbb-00`);
    expect(h.get('x-b3-traceid')).toBe(S);
    expect(h.get('b3')).toBeUndefined();
  });
});

describe('sampling from the trace id', () => {
  it('is deterministic and close to the requested percentage', () => {
    let hits = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = (i * 2654435761 >>> 0).toString(16).padStart(32, '0');
      if (sampleByTraceId(id, 10)) hits++;
      expect(sampleByTraceId(id, 10)).toBe(sampleByTraceId(id, 10));
    }
    expect(hits).toBeGreaterThan(900);
    expect(hits).toBeLessThan(1100);
    expect(sampleByTraceId(T, 0)).toBe(false);
    expect(sampleByTraceId(T, 100)).toBe(true);
  });
});
