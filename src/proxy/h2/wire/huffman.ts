/**
 * HPACK's Huffman code (RFC 7541 Section 5.2 and Appendix B). The code is canonical: codes are
 * assigned in order of (length, symbol), so the table is stored as the 257 code lengths
 * (symbols 0-255 and EOS = 256), one character each ('0' + length), and the codes are derived.
 */
import { HpackError } from './errors.js';

const LENGTHS = '=GLLLLLLLHNLLNLLLLLLLLNLLLLLLLLL6::<=68;::8;8666555666666678?6<:=67777777777777777777777878=C=>6?56565666577666567655677777?;>=LDFDDFFFGFGGGGGHGHHFGHGGGGEFGFGGHFEDFFGGEGFFHEFGGEEFEGFGGDFFFGFFGJJDCFGFIJJJKKJHICEJKKJKHEEJJLKKKDHDEFEEGFFIIHHJGJKJJKKKKKLKKKKKJN';

/** Code of each symbol (right-aligned) and its length in bits. */
const CODES = new Uint32Array(257);
const LENS = new Uint8Array(257);
/** Decoding: for each code length, the first code and the index in SORTED of its first symbol. */
const FIRST_CODE = new Int32Array(32).fill(-1);
const FIRST_INDEX = new Int32Array(32);
const COUNT = new Int32Array(32);
const SORTED = new Uint16Array(257);
const POW2 = Float64Array.from({ length: 32 }, (_, i) => 2 ** i);

(function build(): void {
  const syms = Array.from({ length: 257 }, (_, i) => i);
  for (let i = 0; i < 257; i++) LENS[i] = LENGTHS.charCodeAt(i) - 48;
  syms.sort((a, b) => LENS[a]! - LENS[b]! || a - b);
  let code = 0;
  let prev = LENS[syms[0]!]!;
  for (let i = 0; i < syms.length; i++) {
    const s = syms[i]!;
    const len = LENS[s]!;
    if (i > 0) { code = (code + 1) * 2 ** (len - prev); prev = len; }
    CODES[s] = code;
    SORTED[i] = s;
    if (FIRST_CODE[len] === -1) { FIRST_CODE[len] = code; FIRST_INDEX[len] = i; }
    COUNT[len]!++;
  }
})();

/** The Huffman code of `sym` (0-256) and its length, for tests against the RFC's table. */
export function huffmanCode(sym: number): { code: number; bits: number } {
  return { code: CODES[sym]!, bits: LENS[sym]! };
}

/** Bytes the Huffman encoding of `s` (latin1 characters) takes. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += LENS[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >> 3;
}

/** Huffman-encodes `s` (latin1) into `out` at `pos`; returns the new position. Padding is EOS's prefix (all ones). */
export function huffmanEncode(s: string, out: Buffer, pos: number): number {
  // At most 7 pending bits + a 30-bit code: well inside a double's exact integers.
  let acc = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    const len = LENS[c]!;
    acc = acc * POW2[len]! + CODES[c]!;
    n += len;
    while (n >= 8) {
      n -= 8;
      const p = POW2[n]!;
      const byte = Math.floor(acc / p);
      out[pos++] = byte & 0xff;
      acc -= byte * p;
    }
  }
  if (n > 0) out[pos++] = ((acc << (8 - n)) | (0xff >> n)) & 0xff;
  return pos;
}

/**
 * Decodes Huffman-coded `buf[start, end)` into a latin1 string. Throws HpackError (COMPRESSION_ERROR)
 * on EOS in the data, padding longer than 7 bits, or padding that is not EOS's prefix (RFC 7541 5.2).
 */
export function huffmanDecode(buf: Buffer, start: number, end: number): string {
  let out = '';
  let code = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((b >> bit) & 1);
      len++;
      const first = FIRST_CODE[len]!;
      if (first !== -1 && code >= first && code - first < COUNT[len]!) {
        const sym = SORTED[FIRST_INDEX[len]! + code - first]!;
        if (sym === 256) throw new HpackError('Huffman-coded string contains EOS');
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len >= 30) {
        throw new HpackError('invalid Huffman code');
      }
    }
  }
  if (len > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (code !== (1 << len) - 1) throw new HpackError('Huffman padding is not the EOS prefix');
  return out;
}
