// HPACK against RFC 7541's own examples (Appendix C: integers, literal forms, three requests
// without and with Huffman, three responses with a 256-octet table that evicts), the Huffman
// table against codes listed in Appendix B, and the decoder's refusals.
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackEncoder, encodeInteger } from './hpack.js';
import { huffmanCode, huffmanDecode, huffmanEncode, huffmanLength } from './huffman.js';
import { HpackError } from './errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (h: string[]): Array<[string, string]> => { const o: Array<[string, string]> = []; for (let i = 0; i < h.length; i += 2) o.push([h[i]!, h[i + 1]!]); return o; };
const flat = (p: Array<[string, string]>): string[] => p.flatMap(([n, v]) => [n, v]);

describe('HPACK primitives (RFC 7541 C.1)', () => {
  it('encodes the integer examples', () => {
    const a: number[] = []; encodeInteger(a, 10, 5, 0); expect(a).toEqual([0x0a]);
    const b: number[] = []; encodeInteger(b, 1337, 5, 0); expect(b).toEqual([0x1f, 0x9a, 0x0a]);
    const c: number[] = []; encodeInteger(c, 42, 8, 0); expect(c).toEqual([0x2a]);
  });
});

describe('Huffman code (RFC 7541 Appendix B)', () => {
  it('derives the listed codes from the code lengths', () => {
    const listed: Array<[number, number, number]> = [[0, 0x1ff8, 13], [32, 0x14, 6], [48, 0x0, 5], [97, 0x3, 5], [58, 0x5c, 7], [92, 0x7fff0, 19], [10, 0x3ffffffc, 30], [13, 0x3ffffffd, 30], [22, 0x3ffffffe, 30], [127, 0xffffffc, 28], [200, 0x3ffffe2, 26], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30]];
    for (const [sym, code, bits] of listed) expect(huffmanCode(sym)).toEqual({ code, bits });
  });
  it('round-trips every octet', () => {
    const s = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
    const out = Buffer.alloc(huffmanLength(s));
    expect(huffmanEncode(s, out, 0)).toBe(out.length);
    expect(huffmanDecode(out, 0, out.length)).toBe(s);
  });
  it('refuses EOS in the data, long padding and padding of zeros (RFC 7541 5.2)', () => {
    expect(() => huffmanDecode(hex('ffffffff'), 0, 4)).toThrow(HpackError); // EOS (30 ones) then 2 bits
    expect(() => huffmanDecode(hex('1fff'), 0, 2)).toThrow(/padding/); // '0' (00000) + 11 bits of ones
    expect(() => huffmanDecode(hex('00'), 0, 1)).toThrow(/padding/); // '0' + 000 (not the EOS prefix)
  });
});

describe('HPACK literal forms (RFC 7541 C.2)', () => {
  it('C.2.1 literal with indexing adds to the table', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).headers)).toEqual([['custom-key', 'custom-header']]);
    expect(d.table.size).toBe(55);
  });
  it('C.2.2 literal without indexing leaves the table empty', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468')).headers)).toEqual([[':path', '/sample/path']]);
    expect(d.table.length).toBe(0);
  });
  it('C.2.3 never indexed', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).headers)).toEqual([['password', 'secret']]);
    expect(d.table.length).toBe(0);
  });
  it('C.2.4 indexed field', () => {
    expect(pairs(new HpackDecoder().decode(hex('82')).headers)).toEqual([[':method', 'GET']]);
  });
});

const req1: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
const req2: Array<[string, string]> = [...req1, ['cache-control', 'no-cache']];
const req3: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']];
const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const res1: Array<[string, string]> = [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', 'https://www.example.com']];
const res2: Array<[string, string]> = [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', 'https://www.example.com']];
const res3: Array<[string, string]> = [[':status', '200'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'], ['location', 'https://www.example.com'], ['content-encoding', 'gzip'], ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1']];

function series(table: number, blocks: Array<[string, Array<[string, string]>, number]>): void {
  const d = new HpackDecoder(table);
  for (const [h, want, size] of blocks) {
    expect(pairs(d.decode(hex(h)).headers)).toEqual(want);
    expect(d.table.size).toBe(size);
  }
}

describe('HPACK request and response examples (RFC 7541 C.3-C.6)', () => {
  it('C.3 requests without Huffman', () => series(4096, [
    ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', req1, 57],
    ['8286 84be 5808 6e6f 2d63 6163 6865', req2, 110],
    ['8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', req3, 164],
  ]));
  it('C.4 requests with Huffman', () => series(4096, [
    ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', req1, 57],
    ['8286 84be 5886 a8eb 1064 9cbf', req2, 110],
    ['8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', req3, 164],
  ]));
  it('C.5 responses without Huffman, 256-octet table (evictions)', () => series(256, [
    ['4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', res1, 222],
    ['4803 3330 37c1 c0bf', res2, 222],
    ['88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31', res3, 215],
  ]));
  it('C.6 responses with Huffman, 256-octet table (evictions)', () => series(256, [
    ['4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3', res1, 222],
    ['4883 640e ffc1 c0bf', res2, 222],
    ['88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07', res3, 215],
  ]));
  it('our encoder produces C.4 byte for byte for the first request (Huffman literals, indexing :authority)', () => {
    const e = new HpackEncoder();
    expect(e.encode(flat(req1)).toString('hex')).toBe('828684418cf1e3c2e5f23a6ba0ab90f4ff');
    expect(e.encode(flat(req2)).toString('hex')).toBe('828684be5886a8eb10649cbf');
  });
});

describe('HPACK decoder refusals (connection error COMPRESSION_ERROR)', () => {
  const bad = (h: string, re: RegExp, d = new HpackDecoder()): void => { expect(() => d.decode(hex(h))).toThrow(re); };
  it('index 0 and indexes past the tables', () => { bad('80', /index 0/); bad('be', /beyond the dynamic table/); });
  it('a size update above the advertised size, or after a field', () => { bad('3fe21f', /over the advertised/); bad('8220', /after a header field/); });
  it('truncated integers and strings', () => { bad('ff', /truncated integer/); bad('4005616263', /longer than the block/); bad('ffffffffff7f', /too large/); });
  it('a size update at the start shrinks the table and evicts', () => {
    const d = new HpackDecoder();
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    expect(d.decode(hex('20 82')).headers).toEqual([':method', 'GET']);
    expect(d.table.length).toBe(0);
  });
  it('an oversized header list is reported, and the table still follows the block', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder(4096, 100);
    const r = d.decode(e.encode(['x-big', 'v'.repeat(200), 'x-small', 'a']));
    expect(r.oversized).toBe(true);
    expect(r.headers).toEqual([]);
    d.maxHeaderListSize = 65_536;
    expect(d.decode(e.encode(['x-small', 'a'])).headers).toEqual(['x-small', 'a']); // indexed reference still resolves
  });
  it('the encoder announces a smaller peer table and the decoder follows', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    d.decode(e.encode(['x-a', '1', 'x-b', '2']));
    e.setPeerLimit(0);
    const block = e.encode(['x-a', '1']);
    expect(block[0]).toBe(0x20);
    expect(d.decode(block).headers).toEqual(['x-a', '1']);
    expect(d.table.length).toBe(0);
  });
});

describe('HPACK tables and caches under churn', () => {
  it('the ring table keeps RFC order through growth and eviction; the encoder finds only live entries', () => {
    const e = new HpackEncoder(300);
    const d = new HpackDecoder(300);
    for (let i = 0; i < 200; i++) {
      // Each list indexes two new fields (evicting old ones) and repeats a recent and an evicted one.
      const list = ['x-n', `v${i}`, 'x-m', `w${i}`, 'x-n', `v${Math.max(0, i - 1)}`, 'x-n', `v${Math.max(0, i - 50)}`];
      expect(d.decode(e.encode(list)).headers).toEqual(list);
      expect(d.table.size).toBe(e.table.size);
      expect(d.table.length).toBe(e.table.length);
      for (let k = 0; k < d.table.length; k++) expect(d.table.get(k)).toEqual(e.table.get(k));
    }
    expect(e.table.findFull('x-n', 'v0')).toBe(-1);
    expect(e.table.findFull('x-n', 'v199')).toBeGreaterThanOrEqual(0);
  });
  it('a block repeating the previous one at the same positions decodes the same, also after its entries were evicted or the table shrank', () => {
    const e = new HpackEncoder(200);
    const d = new HpackDecoder(4096);
    const same = [':method', 'GET', 'x-a', 'one', 'x-b', 'two', ':path', '/p'];
    const other = ['x-c', 'c'.repeat(100), 'x-d', 'd'.repeat(30)];
    const blocks: Buffer[] = [];
    for (const list of [same, same, other, same, same]) {
      const b = e.encode(list);
      blocks.push(b);
      expect(d.decode(b).headers).toEqual(list);
    }
    expect(blocks[1]!.length).toBeLessThan(blocks[0]!.length); // the repeat is indexed references
    e.setPeerLimit(0);
    expect(d.decode(e.encode(same)).headers).toEqual(same);
    expect(d.decode(e.encode(same)).headers).toEqual(same);
    expect(d.table.length).toBe(0);
  });
  it('a literal decoded from the cache equals the octets sent, also for colliding slots', () => {
    const d = new HpackDecoder(0);
    const enc = (v: string): Buffer => Buffer.concat([Buffer.from([0x00, 0x01, 0x61, v.length]), Buffer.from(v, 'latin1')]);
    for (let i = 0; i < 3000; i++) {
      const v = `val-${i % 700}-${'z'.repeat(i % 40)}`;
      expect(d.decode(enc(v)).headers).toEqual(['a', v]);
    }
  });
});
