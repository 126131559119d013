import { describe, expect, it } from 'vitest';
import { newRequestId, UuidPool } from './ids.js';

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
