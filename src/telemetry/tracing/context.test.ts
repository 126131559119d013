import fc from 'fast-check';
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

  it('reads a traceparent exactly as the W3C grammar says (differential against a regular expression of it)', () => {
    // The reference: the grammar as one expression (what the parser did before it read character codes).
    const GRAMMAR = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
    const reference = (v: string): { traceId: string; spanId: string; sampled: boolean } | undefined => {
      const m = GRAMMAR.exec(v.trim());
      if (!m) return undefined;
      const [, version, traceId, spanId, flags, rest] = m;
      if (version === 'ff' || (version === '00' && rest !== undefined) || /^0+$/.test(traceId!) || /^0+$/.test(spanId!)) return undefined;
      return { traceId: traceId!, spanId: spanId!, sampled: (parseInt(flags!, 16) & 1) === 1 };
    };
    const hex = (n: number): fc.Arbitrary<string> => fc.array(fc.constantFrom(...'0123456789abcdef0'), { minLength: n, maxLength: n }).map((a) => a.join(''));
    const valid = fc.tuple(fc.constantFrom('00', '01', 'fe', 'ff', 'a0'), hex(32), hex(16), hex(2), fc.option(fc.string({ maxLength: 6 }), { nil: undefined }))
      .map(([ver, t, sp, fl, rest]) => `${ver}-${t}-${sp}-${fl}${rest === undefined ? '' : `-${rest}`}`);
    // Valid-looking values with one character changed, cut, padded with whitespace, or upper-cased.
    const mutated = fc.tuple(valid, fc.nat(70), fc.constantFrom('-', 'F', 'A', 'a', 'g', ' ', '\t', '\n', '\r', '0', '\u00a0', 'Z'), fc.constantFrom('set', 'cut', 'pad', 'upper'))
      .map(([v, i, c, how]) => how === 'set' ? v.slice(0, i) + c + v.slice(i + 1) : how === 'cut' ? v.slice(0, i) : how === 'pad' ? `${c}${v}${c}` : v.toUpperCase());
    fc.assert(fc.property(fc.oneof(valid, mutated, fc.string({ maxLength: 70 })), (v) => {
      const got = parseTraceparent(v);
      const want = reference(v);
      expect(got === undefined ? undefined : { traceId: got.traceId, spanId: got.spanId, sampled: got.sampled }).toEqual(want);
    }), { numRuns: 20_000 });
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
