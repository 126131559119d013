/**
 * Streaming decoder for `Transfer-Encoding: chunked` bodies (RFC 9112 section 7.1), strict:
 * hex sizes of at most 12 digits (oversized chunk sizes are refused, never wrapped), chunk
 * extensions skipped, CRLF required after every line and every chunk, trailers bounded and
 * discarded. Data is handed out as views of the input buffer (no copy), so the caller can
 * re-frame it toward the other side.
 */
import { FIELD_VCHAR, TOKEN } from './head.js';

const S_SIZE = 0;
const S_EXT = 1;
const S_SIZE_LF = 2;
const S_DATA = 3;
const S_DATA_CR = 4;
const S_DATA_LF = 5;
const S_TRAILER_START = 6;
const S_TRAILER_LINE = 7;
const S_TRAILER_LF = 8;
const S_END_LF = 9;
const S_DONE = 10;

/** Largest number of hex digits in a chunk size (12 digits = 256 TiB). */
const MAX_SIZE_DIGITS = 12;
/** Largest total of chunk-extension and trailer bytes accepted. */
const MAX_META_BYTES = 16 * 1024;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) { HEX[0x41 + c] = 10 + c; HEX[0x61 + c] = 10 + c; }

/** A chunked body decoder; feed it bytes with `push` until `done`. */
export class ChunkedDecoder {
  private state = S_SIZE;
  private size = 0;
  private digits = 0;
  private meta = 0;
  /** Error message once the encoding was found invalid. */
  error: string | undefined;

  /** True once the last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.state === S_DONE;
  }

  /**
   * Consumes bytes from `buf[pos..end)`, calling `onData(buf, start, end)` for each run of body
   * data. Returns the offset where decoding stopped (end, or just past the body when done), or -1
   * on invalid encoding (see `error`).
   */
  push(buf: Buffer, pos: number, end: number, onData: (b: Buffer, s: number, e: number) => void): number {
    while (pos < end) {
      const c = buf[pos]!;
      switch (this.state) {
        case S_SIZE: {
          const h = HEX[c]!;
          if (h >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail('chunk size too large');
            this.size = this.size * 16 + h;
            pos++;
          } else if (this.digits === 0) {
            return this.fail('chunk size missing');
          } else if (c === 0x0d) {
            this.state = S_SIZE_LF; pos++;
          } else if (c === 0x3b /* ; */) {
            this.state = S_EXT; pos++;
          } else {
            return this.fail('invalid character in chunk size');
          }
          break;
        }
        case S_EXT:
          if (c === 0x0d) { this.state = S_SIZE_LF; pos++; break; }
          // name[=value] pairs of token characters (or quotes) only: no whitespace, as llhttp.
          if (TOKEN[c] !== 1 && c !== 0x3d && c !== 0x3b && c !== 0x22) return this.fail('invalid character in chunk extension');
          if (++this.meta > MAX_META_BYTES) return this.fail('chunk extensions too long');
          pos++;
          break;
        case S_SIZE_LF:
          if (c !== 0x0a) return this.fail('chunk size line not ended by CRLF');
          pos++;
          this.digits = 0;
          this.state = this.size === 0 ? S_TRAILER_START : S_DATA;
          break;
        case S_DATA: {
          const n = Math.min(this.size, end - pos);
          onData(buf, pos, pos + n);
          pos += n;
          this.size -= n;
          if (this.size === 0) this.state = S_DATA_CR;
          break;
        }
        case S_DATA_CR:
          if (c !== 0x0d) return this.fail('chunk data not followed by CRLF');
          this.state = S_DATA_LF; pos++;
          break;
        case S_DATA_LF:
          if (c !== 0x0a) return this.fail('chunk data not followed by CRLF');
          this.state = S_SIZE; pos++;
          break;
        case S_TRAILER_START:
          if (c === 0x0d) { this.state = S_END_LF; pos++; break; }
          this.state = S_TRAILER_LINE;
          break;
        case S_TRAILER_LINE:
          if (c === 0x0d) { this.state = S_TRAILER_LF; pos++; break; }
          if (FIELD_VCHAR[c] !== 1) return this.fail('invalid character in trailer');
          if (++this.meta > MAX_META_BYTES) return this.fail('trailer section too long');
          pos++;
          break;
        case S_TRAILER_LF:
          if (c !== 0x0a) return this.fail('trailer line not ended by CRLF');
          this.state = S_TRAILER_START; pos++;
          break;
        case S_END_LF:
          if (c !== 0x0a) return this.fail('last chunk not ended by CRLF');
          this.state = S_DONE;
          return pos + 1;
        case S_DONE:
          return pos;
      }
    }
    return pos;
  }

  private fail(msg: string): number {
    this.error = msg;
    return -1;
  }
}
