import { describe, expect, it } from 'vitest';
import { LineRecords } from './line-records.js';

function put(view: Uint8Array, s: string): void {
  for (let i = 0; i < s.length; i++) view[i] = s.charCodeAt(i);
}

describe('LineRecords (header lines written out in advance)', () => {
  it('writes every record as its lines, each value in its slot', () => {
    const l = new LineRecords(['x-a', 'x-bb'], [3, 5], 4);
    expect(l.size).toBe('x-a: aaa\r\nx-bb: bbbbb\r\n'.length);
    expect(l.valueAt).toEqual([5, 16]);
    for (let r = 0; r < 4; r++) { put(l.slot(r, 0), `${r}${r}${r}`); put(l.slot(r, 1), `v${r}v${r}v`); }
    const t = l.text(1, 2);
    expect(t).toBe('x-a: 111\r\nx-bb: v1v1v\r\nx-a: 222\r\nx-bb: v2v2v\r\n');
    expect(l.current).toBe(t);
    expect([l.holds(t, 0), l.holds(t, l.size), l.holds(t, 2 * l.size), l.holds(t, 1), l.holds(t, -l.size), l.holds('', 0)]).toEqual([true, true, false, false, false, false]);
    // Once `current` moved on, an earlier string with other records is not held.
    const u = l.text(0, 1);
    expect(l.holds(u, 0)).toBe(true);
    expect(l.holds(t, 0)).toBe(false);
  });

  it('a slot reaches only its own value: names, ": " and CRLF stay as written whatever is written through the slots', () => {
    const l = new LineRecords(['traceparent', 'x-b3-sampled'], [55, 1], 8);
    for (let r = 0; r < 8; r++) {
      for (let k = 0; k < 2; k++) {
        const v = l.slot(r, k);
        expect(v.length).toBe(l.valueLengths[k]);
        // Everything a slot lets through, and past both of its ends.
        for (let i = -3; i < v.length + 70; i++) v[i] = 0x7a;
      }
    }
    const z = (n: number): string => 'z'.repeat(n);
    expect(l.text(0, 8)).toBe(`traceparent: ${z(55)}\r\nx-b3-sampled: z\r\n`.repeat(8));
  });

  it('a slot as a DataView writes two digits at a time inside the slot and refuses offsets outside it', () => {
    const l = new LineRecords(['x-a', 'x-bb'], [4, 3], 2);
    const a = l.slotData(1, 0);
    a.setUint16(0, 0x6162);
    a.setUint16(2, 0x6364);
    const b = l.slotData(1, 1);
    b.setUint16(1, 0x7a7a);
    b.setUint8(0, 0x79);
    expect(() => a.setUint16(3, 0x4141)).toThrow(RangeError);
    expect(() => b.setUint8(3, 0x41)).toThrow(RangeError);
    expect(() => b.setUint16(-1, 0x4141)).toThrow(RangeError);
    expect(l.text(1, 1)).toBe('x-a: abcd\r\nx-bb: yzz\r\n');
  });

  it('refuses shapes a head cannot take as prepared fields', () => {
    expect(() => new LineRecords([], [], 1)).toThrow(RangeError);
    expect(() => new LineRecords(['a', 'b', 'c', 'd', 'e'], [1, 1, 1, 1, 1], 1)).toThrow(RangeError);
    expect(() => new LineRecords(['X-Upper'], [1], 1)).toThrow(RangeError);
    expect(() => new LineRecords(['x-a: 1\r\nx-b'], [1], 1)).toThrow(RangeError);
    expect(() => new LineRecords(['x-a'], [1, 2], 1)).toThrow(RangeError);
    expect(() => new LineRecords(['x-a'], [60000], 2)).toThrow(RangeError);
  });
});
