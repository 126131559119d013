/**
 * Strings for header bytes the proxy sees again and again (names, and values such as the Host,
 * `keep-alive`, a server's `Server` and `Content-Type`), so parsing a head does not make a new
 * string per field. Turning bytes into a string is a call into C++ (Buffer's latin1Slice, about
 * 100 ns even for 4 bytes) plus an allocation, and a head has 2 of them per field; comparing
 * bytes with a cached string is a short loop in JavaScript.
 *
 * The caches are memos of bytes -> equal string, direct-mapped by a hash of the length and a
 * few bytes: a hit returns a string with exactly those bytes (compared in full), a miss makes
 * the string and replaces the slot's entry. So what any client sends can only cost a miss, never
 * change what another request sees. Names are cached lowercase (a name matches whatever its case
 * on the wire); values as they are. Long values (cookies, tokens) are not cached.
 */

/** Buffer's internal latin1 slice (fast; not in @types/node). */
function slice(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);
}

const SLOTS = 1024;
const MASK = SLOTS - 1;
/** Values longer than this are sliced every time (they rarely repeat byte for byte). */
const MAX_VALUE = 64;
const names: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined);
const values: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined);

/** The header name in `buf[start, end)` (token bytes, non-empty) as a lowercase string. */
export function nameString(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  // Letters hash alike in either case (| 0x20); other token bytes are unchanged by it or never collide with a lowercase letter.
  const i = (n * 31 + (buf[start]! | 0x20) * 7 + (buf[end - 1]! | 0x20) * 3 + (buf[start + (n >> 1)]! | 0x20)) & MASK;
  const s = names[i];
  if (s !== undefined && s.length === n && sameName(buf, start, s)) return s;
  const made = lower(buf, start, end);
  names[i] = made;
  return made;
}

/** A header value (or another short field: method, reason) in `buf[start, end)` as a latin1 string. */
export function valueString(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  if (n > MAX_VALUE) return slice(buf, start, end);
  const i = (n * 31 + buf[start]! * 7 + buf[end - 1]! * 3 + buf[start + (n >> 1)]!) & MASK;
  const s = values[i];
  if (s !== undefined && s.length === n && sameValue(buf, start, s)) return s;
  const made = slice(buf, start, end);
  values[i] = made;
  return made;
}

/** `buf` from `start` equals lowercase `s` ignoring ASCII case (the bytes are token characters). */
function sameName(buf: Buffer, start: number, s: string): boolean {
  for (let k = 0; k < s.length; k++) {
    const b = buf[start + k]!;
    const c = s.charCodeAt(k);
    if (b !== c && !(b >= 0x41 && b <= 0x5a && (b | 0x20) === c)) return false;
  }
  return true;
}

function sameValue(buf: Buffer, start: number, s: string): boolean {
  for (let k = 0; k < s.length; k++) if (buf[start + k] !== s.charCodeAt(k)) return false;
  return true;
}

/** The name lowercased; one string when it is lowercase already. */
function lower(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) return slice(buf, start, end).toLowerCase();
  }
  return slice(buf, start, end);
}
