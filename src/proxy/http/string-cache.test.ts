import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nameString, valueString } from './string-cache.js';

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

describe('header string cache', () => {
  it('gives the same string for the same bytes, lowercase for names whatever their case on the wire', () => {
    const b = Buffer.from('Content-Type content-type CONTENT-TYPE keep-alive keep-alive');
    const a = nameString(b, 0, 12);
    expect(a).toBe('content-type');
    expect(nameString(b, 13, 25)).toBe(a);
    expect(nameString(b, 26, 38)).toBe(a);
    const v = valueString(b, 39, 49);
    expect(v).toBe('keep-alive');
    expect(valueString(b, 50, 60)).toBe(v);
    expect(valueString(b, 3, 3)).toBe('');
  });

  it('never answers with another field\'s string: every name and value equals its bytes, whatever came before', () => {
    // Short random names and values over a few bytes collide in the cache's slots all the time.
    const name = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS.split('')), minLength: 1, maxLength: 6 });
    const value = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 0, maxLength: 80 });
    fc.assert(fc.property(fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 40 }), (fields) => {
      for (const [n, v] of fields) {
        const b = Buffer.from(`${n}:${v}`, 'latin1');
        expect(nameString(b, 0, n.length)).toBe(n.toLowerCase());
        expect(valueString(b, n.length + 1, b.length)).toBe(v);
      }
    }), { numRuns: 300 });
  });

  it('tells apart names that differ only in a byte the case folding maps onto another (^ and ~, _ and DEL)', () => {
    const b = Buffer.from('a~b a^b a_b');
    expect(nameString(b, 0, 3)).toBe('a~b');
    expect(nameString(b, 4, 7)).toBe('a^b');
    expect(nameString(b, 8, 11)).toBe('a_b');
    expect(nameString(b, 0, 3)).toBe('a~b');
  });
});
