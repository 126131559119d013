import { describe, expect, it } from 'vitest';
import { sampleByTraceId } from './context.js';
import { CONTEXT_LINES, ContextPool, newRequestId, SAMPLED_AT, SPAN_ID_AT, TRACE_ID_AT, TRACEPARENT_AT, UuidPool } from './ids.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('UuidPool (x-request-id)', () => {
  it('gives RFC 9562 v4 UUIDs, all different, across segments and random draws', () => {
    const pool = new UuidPool();
    const seen = new Set<string>();
    // 128 per draw, 16 per string: 1000 ids cross both boundaries several times.
    for (let i = 0; i < 1000; i++) {
      const id = pool.next();
      expect(id).toMatch(V4);
      seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });

  it('uses its random bytes: the hex digits are spread, not constant', () => {
    const digits = new Map<string, number>();
    for (let i = 0; i < 400; i++) for (const c of newRequestId().replaceAll('-', '')) digits.set(c, (digits.get(c) ?? 0) + 1);
    expect(digits.size).toBe(16);
    for (const n of digits.values()) expect(n).toBeGreaterThan(400 * 32 / 16 / 3);
  });
});

describe('ContextPool (a new trace written out)', () => {
  const LINES = /^traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])\r\nx-b3-traceid: \1\r\nx-b3-spanid: \2\r\nx-b3-sampled: \3\r\n$/;

  it('gives records of exactly the four lines, the ids at their offsets, all different, across segments and draws', () => {
    const pool = new ContextPool(50);
    const traces = new Set<string>();
    const spans = new Set<string>();
    // 16 records per string, 128 per draw: 1000 cross both boundaries several times, and the
    // fixed text written once must still be there after every draw.
    for (let i = 0; i < 1000; i++) {
      const at = pool.next();
      const rec = pool.text.slice(at, at + CONTEXT_LINES);
      const m = LINES.exec(rec);
      expect(m, JSON.stringify(rec)).not.toBeNull();
      const [, trace, span, flag] = m!;
      expect(pool.text.slice(at + TRACE_ID_AT, at + TRACE_ID_AT + 32)).toBe(trace);
      expect(pool.text.slice(at + SPAN_ID_AT, at + SPAN_ID_AT + 16)).toBe(span);
      expect(pool.text.slice(at + TRACEPARENT_AT, at + TRACEPARENT_AT + 55)).toBe(`00-${trace}-${span}-0${flag}`);
      expect(pool.text[at + SAMPLED_AT]).toBe(flag);
      // The decision is the one sampleByTraceId makes for that trace id.
      expect(flag === '1').toBe(sampleByTraceId(trace!, 50));
      traces.add(trace!);
      spans.add(span!);
    }
    expect(traces.size).toBe(1000);
    expect(spans.size).toBe(1000);
  });

  it('samples nothing at 0 % and everything at 100 %', () => {
    for (const [p, flag] of [[0, '0'], [100, '1']] as const) {
      const pool = new ContextPool(p);
      for (let i = 0; i < 300; i++) { const at = pool.next(); expect(pool.text[at + SAMPLED_AT]).toBe(flag); }
    }
  });
});
