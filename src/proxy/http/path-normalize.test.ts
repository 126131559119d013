// Path normalisation as Istio's pathNormalization documents it (BASE default, NONE, MERGE_SLASHES,
// DECODE_AND_MERGE_SLASHES), with a property test: normalising twice changes nothing, and a
// normalised path never holds a `.` or `..` segment.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasDotSegment, normalizePath, PathError, type PathNormalization } from './path-normalize.js';

const ok = (p: string, mode: PathNormalization = 'BASE'): string => {
  const r = normalizePath(p, mode);
  if (r instanceof PathError) throw new Error(`${p}: ${r.code} ${r.message}`);
  return r;
};
const code = (p: string, mode: PathNormalization = 'BASE'): string => {
  const r = normalizePath(p, mode);
  return r instanceof PathError ? r.code : `accepted as ${r}`;
};

describe('path normalisation (BASE, the default)', () => {
  it.each([
    ['/x/../headers', '/headers'],
    ['/./headers', '/headers'],
    ['/%2e%2e/headers', '/headers'],
    ['/x/%2E%2E/headers', '/headers'],
    ['/x/%2e./headers', '/headers'],
    ['/anything/../headers', '/headers'],
    ['/static/../health', '/health'],
    ['/../../a', '/a'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/./b/../c/./d', '/a/c/d'],
    ['/public/./data/abc/../xyz', '/public/data/xyz'],
    ['/some%2fdata/%61%62%63', '/some%2fdata/abc'],
    ['/%41%5a%61%7A%30%39%2D%2e%5F%7e', '/AZaz09-._~'],
    ['/some\\data', '/some/data'],
    ['/a\\..\\b', '/b'],
    ['/a%5Cb', '/a%5Cb'],
    ['/a%2F..%2Fb', '/a%2F..%2Fb'],
    ['/a//b', '/a//b'],
    ['/%252e%252e/x', '/%252e%252e/x'],
    ['/a%20b', '/a%20b'],
    ['/x/../headers?q=/../a&b=%2e', '/headers?q=/../a&b=%2e'],
    ['/...', '/...'],
    ['/style.css', '/style.css'],
    ['/', '/'],
  ])('%s -> %s', (input, want) => {
    expect(ok(input)).toBe(want);
  });

  it('returns the very same string when there is nothing to do', () => {
    const p = '/productpage?u=normal';
    expect(normalizePath(p, 'BASE')).toBe(p);
  });

  it('refuses what cannot be normalised', () => {
    expect(code('/a%zz')).toBe('BOWLINE_E_HTTP_PATH_ENCODING');
    expect(code('/a%4')).toBe('BOWLINE_E_HTTP_PATH_ENCODING');
    expect(code('/a%')).toBe('BOWLINE_E_HTTP_PATH_ENCODING');
    expect(code('/a%00b')).toBe('BOWLINE_E_HTTP_PATH_ENCODING');
    expect(code('/a%00b', 'NONE')).toBe('BOWLINE_E_HTTP_PATH_ENCODING');
    expect(code('/a\u0001b')).toBe('BOWLINE_E_HTTP_PATH_CHARACTER');
    expect(code('/a b')).toBe('BOWLINE_E_HTTP_PATH_CHARACTER');
    expect(code('/a\u00e9')).toBe('BOWLINE_E_HTTP_PATH_CHARACTER');
    expect(code('/a#frag')).toBe('BOWLINE_E_HTTP_PATH_CHARACTER');
    expect(code('a/b')).toBe('BOWLINE_E_HTTP_PATH_RELATIVE');
    expect(code('*')).toBe('accepted as *');
  });
});

describe('the other modes', () => {
  it('NONE passes dot segments and encodings through', () => {
    expect(ok('/x/../headers', 'NONE')).toBe('/x/../headers');
    expect(ok('/%2e%2e/a//b', 'NONE')).toBe('/%2e%2e/a//b');
    expect(ok('/a%zz', 'NONE')).toBe('/a%zz');
  });

  it('MERGE_SLASHES merges runs of slashes after BASE', () => {
    expect(ok('/a//b///c', 'MERGE_SLASHES')).toBe('/a/b/c');
    expect(ok('//a/..//b', 'MERGE_SLASHES')).toBe('/b');
    expect(ok('/a%2F%2Fb', 'MERGE_SLASHES')).toBe('/a%2F%2Fb');
  });

  it('DECODE_AND_MERGE_SLASHES decodes %2F and %5C first', () => {
    expect(ok('/a%2fb', 'DECODE_AND_MERGE_SLASHES')).toBe('/a/b');
    expect(ok('/a%2F..%2Fb', 'DECODE_AND_MERGE_SLASHES')).toBe('/b');
    expect(ok('/a%5c%5Cb', 'DECODE_AND_MERGE_SLASHES')).toBe('/a/b');
    expect(ok('/a%252Fb', 'DECODE_AND_MERGE_SLASHES')).toBe('/a%252Fb');
  });
});

describe('properties', () => {
  // Paths built from the pieces that matter: segments, dots in every spelling, slashes, escapes.
  const piece = fc.constantFrom('/', '//', '.', '..', '%2e', '%2E', '%2e%2E', '\\', '%5c', '%2f', '%2F', '%25', '%41', 'a', 'b', '-', '~', '%20', '?', '=', '&');
  const pathArb = fc.array(piece, { maxLength: 16 }).map((ps) => '/' + ps.join(''));
  const modes = fc.constantFrom<PathNormalization>('BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES');

  it('is idempotent and leaves no dot segment (and MERGE modes no empty segment)', () => {
    fc.assert(fc.property(pathArb, modes, (p, mode) => {
      const once = normalizePath(p, mode);
      if (once instanceof PathError) return true;
      expect(normalizePath(once, mode)).toBe(once);
      expect(hasDotSegment(once)).toBe(false);
      const pathPart = once.split('?')[0]!;
      expect(pathPart.startsWith('/')).toBe(true);
      expect(pathPart.includes('\\')).toBe(false);
      if (mode !== 'BASE') expect(pathPart.includes('//')).toBe(false);
      return true;
    }), { numRuns: 3000 });
  });

  it('keeps the query exactly as received', () => {
    fc.assert(fc.property(pathArb, fc.string({ maxLength: 12 }).map((s) => s.replace(/[^\x21-\x7e]|#/g, 'x')), (p, query) => {
      const path = p.split('?')[0]!;
      const r = normalizePath(path + '?' + query, 'BASE');
      if (r instanceof PathError) return true;
      expect(r.slice(r.indexOf('?') + 1)).toBe(query);
      return true;
    }), { numRuns: 1000 });
  });
});
