import { describe, expect, it } from 'vitest';
import { closeRandom, fillIdBytes, fillRandom, xoshiro128ss } from './random.js';

describe('fillRandom', () => {
  it('fills the whole buffer with spread bytes, different on every draw, also after the descriptor was closed', () => {
    const seen = new Set<string>();
    for (let k = 0; k < 3; k++) {
      const b = fillRandom(Buffer.alloc(64 * 1024));
      // every byte value shows up in 64 KiB of uniform bytes (expected count 256 each), in both halves
      for (const half of [b.subarray(0, 32 * 1024), b.subarray(32 * 1024)]) expect(new Set(half).size).toBe(256);
      // no long run of zeros left unfilled at the end (a short read)
      expect(b.subarray(-64).some((x) => x !== 0)).toBe(true);
      seen.add(b.toString('hex', 0, 32));
      if (k === 1) closeRandom();
    }
    expect(seen.size).toBe(3);
  });
});

describe('fillIdBytes', () => {
  it('is xoshiro128** (the reference implementation\'s first outputs from the state 1, 2, 3, 4)', () => {
    const s = Uint32Array.of(1, 2, 3, 4);
    const out = new Uint32Array(8);
    xoshiro128ss(s, out);
    expect([...out]).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
    // and it carries on from the state it left (after 1000 more outputs from another seed)
    const t = Uint32Array.of(0x9e3779b9, 0x7f4a7c15, 0xf39cc060, 0x5ced1e2b);
    xoshiro128ss(t, new Uint32Array(1000));
    const next = new Uint32Array(4);
    xoshiro128ss(t, next);
    expect([...next]).toEqual([1831731732, 1387094909, 3105041396, 3773902544]);
  });

  it('fills the whole buffer with spread bytes, freshly seeded on every draw', () => {
    const seen = new Set<string>();
    for (let k = 0; k < 3; k++) {
      const b = fillIdBytes(Buffer.allocUnsafeSlow(64 * 1024).fill(0));
      for (const half of [b.subarray(0, 32 * 1024), b.subarray(32 * 1024)]) expect(new Set(half).size).toBe(256);
      expect(b.subarray(-16).some((x) => x !== 0)).toBe(true);
      // each 32-bit word's value spread: no value repeats among 16,384 words (a birthday repeat has odds ~3 %; two, ~0.05 %)
      const words = new Set(new Uint32Array(b.buffer, b.byteOffset, b.length >> 2));
      expect(words.size).toBeGreaterThanOrEqual(16384 - 2);
      seen.add(b.toString('hex', 0, 32));
    }
    expect(seen.size).toBe(3);
  });

  it('refuses a buffer it cannot fill as 32-bit words', () => {
    expect(() => fillIdBytes(Buffer.allocUnsafeSlow(10))).toThrow(RangeError);
    expect(() => fillIdBytes(Buffer.allocUnsafeSlow(16).subarray(1, 9))).toThrow(RangeError);
  });
});
