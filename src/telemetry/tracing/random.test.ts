import { describe, expect, it } from 'vitest';
import { closeRandom, fillRandom } from './random.js';

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
