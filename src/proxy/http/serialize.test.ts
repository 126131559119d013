import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigView } from '../../telemetry/config-view.js';
import { RequestScan } from '../../telemetry/request-scan.js';
import { LineRecords } from '../../telemetry/tracing/line-records.js';
import { type RequestTrace, Tracer } from '../../telemetry/tracing/tracer.js';
import { Headers, isDecimal15, PREPARED_AT_MASK, PREPARED_AT_SHIFT, PREPARED_COUNT_MASK, PREPARED_FROM_SHIFT } from './head.js';
import { endToEndFields, isHopByHop } from './serialize.js';

const node = { id: 'a-1', role: 'sidecar' as const, workload: 'a', namespace: 'default', serviceAccount: 'a', labels: {} };
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'host', 'expect', 'http2-settings']);

/** What the head must say: every end-to-end field as `name: value\r\n`, in order. */
function plain(h: Headers, conn: string[] | null): string {
  let s = '';
  for (let i = 0; i < h.names.length; i++) {
    const n = h.names[i]!;
    if (HOP.has(n) || conn?.includes(n)) continue;
    s += `${n}: ${h.values[i]}\r\n`;
  }
  return s;
}

function newTrace(): RequestTrace {
  return { requestId: undefined, traceId: '', spanId: '', parentId: undefined, sampled: false, debug: false, tracestate: undefined };
}

/** A request head as the proxy holds it after the telemetry hook gave it a new trace (fields marked prepared). */
function traced(tracer: Tracer, fields: Array<[string, string]> = [['host', 'a'], ['x-request-id', 'r1'], ['user-agent', 'ua']]): Headers {
  const h = new Headers();
  for (const [n, v] of fields) h.add(n, v);
  tracer.startScanned(new RequestScan().read(h), h, newTrace());
  return h;
}

describe('endToEndFields with fields written out in advance (telemetry trace lines)', () => {
  const tracer = new Tracer({ view: new ConfigView(node), samplingPercent: 50, sinks: [] });

  it('a new trace is marked prepared, and the head says exactly what its fields say', () => {
    for (let i = 0; i < 200; i++) { // crosses the pool's segments and refills
      const h = traced(tracer);
      expect(h.prepared).toBeGreaterThanOrEqual(0);
      expect(h.names.slice(3)).toEqual(['traceparent', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled']);
      // The pool's record is those four lines exactly (so the head takes it as one piece).
      const from = h.prepared >>> PREPARED_FROM_SHIFT;
      expect([h.prepared & PREPARED_COUNT_MASK, (h.prepared >>> PREPARED_AT_SHIFT) & PREPARED_AT_MASK]).toEqual([4, 3]);
      expect(h.preparedText.substring(from, from + 166)).toBe(h.names.slice(3).map((n, k) => `${n}: ${h.values[3 + k]}\r\n`).join(''));
      h.add('x-forwarded-proto', 'http');
      expect(endToEndFields(h, null)).toBe(plain(h, null));
    }
  });

  it('fields changed, removed or moved after marking go out as they are now', () => {
    const cases: Array<[string, (h: Headers) => void, string[] | null]> = [
      ['traceparent replaced', (h) => h.set('traceparent', '00-11111111111111111111111111111111-2222222222222222-01'), null],
      ['span id removed', (h) => h.remove('x-b3-spanid'), null],
      ['a field removed before them', (h) => h.remove('user-agent'), null],
      ['a field inserted before them', (h) => { h.names.unshift('x-first'); h.values.unshift('1'); }, null],
      ['sampled flipped', (h) => h.set('x-b3-sampled', h.get('x-b3-sampled') === '1' ? '0' : '1'), null],
      ['listed in Connection', () => {}, ['x-b3-traceid']],
      ['trace id same length, other digits', (h) => h.set('x-b3-traceid', 'f'.repeat(32)), null],
    ];
    for (const [what, change, conn] of cases) {
      const h = traced(tracer);
      const before = plain(h, conn);
      change(h);
      const want = plain(h, conn);
      if (what !== 'listed in Connection') expect(want, what).not.toBe(before);
      expect(endToEndFields(h, conn), what).toBe(want);
    }
  });

  it('a marking whose text does not match the fields is ignored (fast-check)', () => {
    const name = fc.constantFrom('traceparent', 'x-b3-traceid', 'x-a', 'connection', 'te', 'x-b3-spanid');
    const value = fc.string({ unit: fc.constantFrom('a', 'b', '0', '1', ' ', ':', '\r', '\n'), maxLength: 6 });
    fc.assert(fc.property(fc.array(fc.tuple(name, value), { maxLength: 8 }), fc.nat(8), fc.nat(8), fc.array(fc.tuple(name, value), { maxLength: 6 }), fc.nat(3),
      (fields, back, count, textFields, skew) => {
        const h = new Headers();
        for (const [n, v] of fields) h.add(n, v);
        // Text written from other (or the same) fields, maybe shifted: only an exact match may be used.
        const text = 'xyz'.slice(0, skew) + textFields.map(([n, v]) => `${n}: ${v}\r\n`).join('') + fields.slice(fields.length - Math.min(back, fields.length)).map(([n, v]) => `${n}: ${v}\r\n`).join('');
        h.markPrepared(count, text, skew);
        expect(endToEndFields(h, null)).toBe(plain(h, null));
        expect(endToEndFields(h, ['x-a'])).toBe(plain(h, ['x-a']));
      }), { numRuns: 2000 });
  });

  it('a matching marking is taken, and only fields [at, at + count) come from the text', () => {
    const h = new Headers();
    h.add('x-a', '1');
    h.add('x-b', '2');
    h.add('x-c', '3');
    h.markPrepared(2, 'x-b: 2\r\nx-c: 3\r\n', 0);
    expect(h.prepared).toBeGreaterThanOrEqual(0);
    expect(endToEndFields(h, null)).toBe('x-a: 1\r\nx-b: 2\r\nx-c: 3\r\n');
    h.add('x-d', '4');
    expect(endToEndFields(h, null)).toBe('x-a: 1\r\nx-b: 2\r\nx-c: 3\r\nx-d: 4\r\n');
    // Out of range numbers are not recorded.
    const g = new Headers();
    g.add('x-a', '1');
    g.markPrepared(2, 'x-a: 1\r\n', 0);
    expect(g.prepared).toBe(-1);
  });
});

describe('endToEndFields with fields added from checked records (Headers.addLines)', () => {
  /** Two-line records, values written as `vR` / `wwwR` per record R. */
  function records(): LineRecords {
    const l = new LineRecords(['x-a', 'x-bb'], [2, 4], 4);
    const put = (view: Uint8Array, s: string): void => { for (let i = 0; i < s.length; i++) view[i] = s.charCodeAt(i); };
    for (let r = 0; r < 4; r++) { put(l.slot(r, 0), `v${r}`); put(l.slot(r, 1), `www${r}`); }
    return l;
  }

  it('adds the record\'s fields, marked prepared when the text is the checked one, and writes what they say', () => {
    const l = records();
    const text = l.text(1, 3);
    const h = new Headers();
    h.add('host', 'h');
    expect(h.addLines(l, text, l.size)).toBe(1);
    expect(h.names).toEqual(['host', 'x-a', 'x-bb']);
    expect(h.values).toEqual(['h', 'v2', 'www2']);
    expect([h.prepared & PREPARED_COUNT_MASK, (h.prepared >>> PREPARED_AT_SHIFT) & PREPARED_AT_MASK, h.prepared >>> PREPARED_FROM_SHIFT]).toEqual([2, 1, l.size]);
    expect(h.preparedLines).toBe(l);
    h.add('x-c', 'c');
    expect(endToEndFields(h, null)).toBe('x-a: v2\r\nx-bb: www2\r\nx-c: c\r\n');
    // Not the checked string (the records moved on): fields added, nothing marked.
    l.text(0, 1);
    const g = new Headers();
    g.addLines(l, text, 0);
    expect([g.prepared, g.preparedLines, g.values]).toEqual([-1, undefined, ['v1', 'www1']]);
    expect(endToEndFields(g, null)).toBe('x-a: v1\r\nx-bb: www1\r\n');
  });

  it('fields changed, removed, moved or Connection-listed after adding go out as they are now (fast-check)', () => {
    type Change = (h: Headers) => void;
    const change = fc.oneof(
      fc.constant<Change>(() => {}),
      fc.tuple(fc.constantFrom('x-a', 'x-bb', 'host'), fc.string({ unit: fc.constantFrom('v', 'w', '1', '2', ' '), maxLength: 5 })).map(([n, v]): Change => (h) => h.set(n, v)),
      fc.constantFrom('x-a', 'x-bb', 'host').map((n): Change => (h) => h.remove(n)),
      fc.nat(4).map((i): Change => (h) => { h.names.splice(Math.min(i, h.names.length), 0, 'x-in'); h.values.splice(Math.min(i, h.values.length), 0, 'i'); }),
      // The same text in another string object: still exactly the same line.
      fc.constantFrom(1, 2).map((k): Change => (h) => { if (k < h.values.length) h.values[k] = [...h.values[k]!].join(''); }),
      // Two fields' names swapped (their values stay).
      fc.constant<Change>((h) => { if (h.names.length >= 3) [h.names[1], h.names[2]] = [h.names[2]!, h.names[1]!]; }),
    );
    fc.assert(fc.property(fc.array(change, { maxLength: 3 }), fc.constantFrom<string[] | null>(null, ['x-a'], ['x-bb'], ['x-c']), fc.nat(2), (changes, conn, rec) => {
      const l = records();
      const text = l.text(0, 3);
      const h = new Headers();
      h.add('host', 'h');
      h.addLines(l, text, rec * l.size);
      for (const c of changes) c(h);
      expect(endToEndFields(h, conn)).toBe(plain(h, conn));
    }), { numRuns: 2000 });
  });
});

describe('which fields are hop-by-hop', () => {
  it('is exactly the listed names, whatever the name (same lengths, one letter off, prefixes)', () => {
    for (const n of HOP) expect(isHopByHop(n)).toBe(true);
    for (const n of ['tf', 'hosts', 'hist', 'expecT', 'trailers', 'upgradE', 'connectioN', 'keep-alivf', 'content-type', 'content-lengtH', 'http2-settingz', 'proxy-connectioN', 'transfer-encodinG', '', 'x-request-id', 'date']) {
      expect(isHopByHop(n)).toBe(false);
    }
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...HOP).chain((h) => fc.nat(h.length).map((i) => h.slice(0, i) + 'x' + h.slice(i + 1)))), (n) => {
      expect(isHopByHop(n)).toBe(HOP.has(n));
    }));
  });

  it('a content-length is 1-15 ASCII digits, as /^\\d{1,15}$/ says', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 18 }), fc.stringMatching(/^[0-9]{0,17}$/)), (s) => {
      expect(isDecimal15(s)).toBe(/^\d{1,15}$/.test(s));
    }));
  });
});
