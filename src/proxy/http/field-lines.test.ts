import { beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cachedLineCount, clearFieldLines, contentLengthLine, fieldLine, MAX_CACHED_VALUE, requestStart, statusLine } from './field-lines.js';
import { parseRequestHead, type RequestHead } from './request-head.js';
import { parseResponseHead, type ResponseHead } from './response-head.js';
import { endToEndFields, requestHead, responseHead } from './serialize.js';

/** The upstream head of `raw` as the proxy writes it. */
function upstream(raw: string): string {
  const b = Buffer.from(raw, 'latin1');
  const h = parseRequestHead(b, 0, b.length, 65536) as RequestHead;
  return requestHead(h.method, h.path, h.authority, endToEndFields(h.headers, h.connectionTokens), { kind: 'none' }, undefined);
}

describe('written-out header lines', () => {
  beforeEach(() => clearFieldLines());

  it('keeps a line seen twice in a row and answers it from then on, exactly', () => {
    const v = 'eyJuYW1lIjoicmV2aWV3cyJ9'.repeat(12); // ~290 bytes, like the peer metadata
    expect(fieldLine('x-bowline-peer-metadata', v)).toBe(`x-bowline-peer-metadata: ${v}\r\n`);
    expect(cachedLineCount()).toBe(0);
    expect(fieldLine('x-bowline-peer-metadata', v)).toBe(`x-bowline-peer-metadata: ${v}\r\n`);
    expect(cachedLineCount()).toBe(1);
    for (let i = 0; i < 3; i++) expect(fieldLine('x-bowline-peer-metadata', v)).toBe(`x-bowline-peer-metadata: ${v}\r\n`);
    expect(cachedLineCount()).toBe(1);
    // The same value under another name, and another value under the name, are their own lines.
    expect(fieldLine('x-other', v)).toBe(`x-other: ${v}\r\n`);
    expect(fieldLine('x-bowline-peer-metadata', v + 'A')).toBe(`x-bowline-peer-metadata: ${v}A\r\n`);
  });

  it('does not keep values that change on every request (ids), nor long values', () => {
    let seed = 12345;
    const hex = (k: number): string => {
      let s = '';
      for (let j = 0; j < k; j++) { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; s += ((seed >>> 16) & 15).toString(16); }
      return s;
    };
    for (let i = 0; i < 2000; i++) {
      const id = `00-${hex(32)}-${hex(16)}-01`;
      expect(fieldLine('traceparent', id)).toBe(`traceparent: ${id}\r\n`);
    }
    expect(cachedLineCount()).toBeLessThanOrEqual(2);
    const long = 'a'.repeat(MAX_CACHED_VALUE + 1);
    fieldLine('cookie', long);
    fieldLine('cookie', long);
    expect(cachedLineCount()).toBeLessThanOrEqual(2);
  });

  it('never keeps credentials (authorization, proxy-authorization, cookie, set-cookie), however often they repeat', () => {
    for (const name of ['authorization', 'proxy-authorization', 'cookie', 'set-cookie']) {
      for (let i = 0; i < 5; i++) expect(fieldLine(name, 'Bearer abc.def.ghi')).toBe(`${name}: Bearer abc.def.ghi\r\n`);
    }
    expect(cachedLineCount()).toBe(0);
    fieldLine('user-agent', 'curl/8.5.0');
    fieldLine('user-agent', 'curl/8.5.0');
    expect(cachedLineCount()).toBe(1);
  });

  it('answers every (name, value) with its own line whatever was kept before (values alike in the hashed characters)', () => {
    // Values of one length and mostly one character: many share a hash slot's sampled characters.
    const value = fc.array(fc.constantFrom('a', 'b', ' ', '\x80', '\xff'), { minLength: 1, maxLength: 40 }).map((a) => a.join(''));
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'x-b', 'server', 'date'), value), { minLength: 1, maxLength: 60 }), (fields) => {
      for (const [n, v] of [...fields, ...fields, ...fields]) if (fieldLine(n, v) !== `${n}: ${v}\r\n`) return false;
      return true;
    }), { numRuns: 300 });
  });

  it('writes the same upstream heads with kept lines: lowercase names, order, duplicates, Connection-listed fields dropped', () => {
    const raw = 'GET /a?b HTTP/1.1\r\nHost: reviews\r\nX-Bench: Hot\r\nx-BENCH: hot\r\nAccept:  */* \r\nConnection: keep-alive, X-Drop\r\nx-drop: 1\r\nUser-Agent: wrk\r\n\r\n';
    const want = 'GET /a?b HTTP/1.1\r\nhost: reviews\r\nx-bench: Hot\r\nx-bench: hot\r\naccept: */*\r\nuser-agent: wrk\r\n\r\n';
    for (let i = 0; i < 4; i++) expect(upstream(raw)).toBe(want);
    expect(cachedLineCount()).toBe(5); // four field lines and the request line with its host
    // A value that changes (a server's Date) is written as it is now, not as it was kept.
    const res = (date: string): string => {
      const b = Buffer.from(`HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: ${date}\r\nContent-Length: 2\r\n\r\n`, 'latin1');
      const r = parseResponseHead(b, 0, b.length, 'GET', 65536) as ResponseHead;
      return responseHead(r.status, r.reason, endToEndFields(r.headers, r.connectionTokens), { kind: 'length', length: 2 }, true, false);
    };
    for (const d of ['Wed, 02 Dec 2026 07:20:00 GMT', 'Wed, 02 Dec 2026 07:20:00 GMT', 'Wed, 02 Dec 2026 07:20:01 GMT', 'Wed, 02 Dec 2026 07:20:00 GMT']) {
      expect(res(d)).toBe(`HTTP/1.1 200 OK\r\nserver: nginx\r\ndate: ${d}\r\ncontent-length: 2\r\n\r\n`);
    }
  });

  it('writes request lines, status lines and content lengths exactly, kept or not', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('GET', 'POST', 'M-SEARCH'), fc.constantFrom('/', '/a', '/a?b=1', '/b', '*'), fc.constantFrom('', 'a', 'b:80'),
      fc.constantFrom(0, 1, 2, 256, 257, 2 ** 40, 2 ** 40 + 256), fc.constantFrom(200, 404, 503), fc.constantFrom('OK', 'Not Found', '')), { minLength: 1, maxLength: 40 }), (xs) => {
      for (const [m, p, a, len, st, r] of [...xs, ...xs]) {
        if (requestStart(m, p, a) !== `${m} ${p} HTTP/1.1\r\nhost: ${a}\r\n`) return false;
        if (contentLengthLine(len) !== `content-length: ${len}\r\n`) return false;
        if (statusLine(st, r) !== `HTTP/1.1 ${st} ${r}\r\n`) return false;
      }
      return true;
    }), { numRuns: 300 });
  });

  it('still rejects obs-fold before any line is written', () => {
    const b = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n', 'latin1');
    expect(parseRequestHead(b, 0, b.length, 65536)).toMatchObject({ code: 'BOWLINE_E_HTTP_OBS_FOLD' });
  });
});
