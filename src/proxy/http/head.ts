/**
 * Shared pieces of the HTTP/1.1 head codec (RFC 9112): byte classes, the parsed header list,
 * and the header-block scanner that both the request and the response parser use.
 *
 * Headers are kept as two parallel arrays (lowercase names, values as latin1 strings, so
 * obs-text bytes round-trip unchanged). No object per header, no Map: a head has ~10 headers
 * and a linear scan beats hashing at that size.
 */
import type { LineRecords } from '../../telemetry/tracing/line-records.js';
import { nameString, valueString } from './string-cache.js';

/** RFC 9110 token characters (method, header name). */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

/** Header field-value characters: HTAB, SP, VCHAR, obs-text. No CTLs (NUL, CR, LF, DEL). */
export const FIELD_VCHAR = new Uint8Array(256);
FIELD_VCHAR[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) FIELD_VCHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VCHAR[c] = 1;

/** Request-target characters: visible ASCII only (no spaces, controls or raw non-ASCII). */
export const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

/** `buf` bytes [start, end) as a latin1 string (Buffer's fast internal slice; not in @types/node). */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);
}

/** A list of header fields in arrival order: lowercase names and their values. */
export class Headers {
  /** Lowercase field names. */
  names: string[] = [];
  /** Field values (OWS trimmed), latin1. */
  values: string[] = [];
  /**
   * Fields already written out as lines (`markPrepared`): `preparedText` holds them from
   * offset `prepared >>> PREPARED_FROM_SHIFT`, for the `prepared & PREPARED_COUNT_MASK` fields
   * from index `(prepared >>> PREPARED_AT_SHIFT) & PREPARED_AT_MASK`; -1 when none. A hint only:
   * the writer (serialize.ts `endToEndFields`) uses the text only where it still equals the
   * fields, compared in full, so a later set/remove/splice cannot put anything else on the wire.
   */
  prepared = -1;
  preparedText = '';
  /**
   * Set when the prepared fields came from `addLines`: the records they were sliced from and the
   * values as added. The writer then proves the lines unchanged by comparing the fields with
   * these (the same strings: a pointer compare) instead of with the text.
   */
  preparedLines: LineRecords | undefined = undefined;
  preparedValues: string[] | undefined = undefined;

  /** The first value of `name` (lowercase), or undefined. */
  get(name: string): string | undefined {
    const n = this.names;
    for (let i = 0; i < n.length; i++) if (n[i] === name) return this.values[i];
    return undefined;
  }

  /** How many fields are named `name`. */
  count(name: string): number {
    let k = 0;
    for (const n of this.names) if (n === name) k++;
    return k;
  }

  /** Removes every field named `name`. */
  remove(name: string): void {
    const n = this.names;
    for (let i = n.length - 1; i >= 0; i--) {
      if (n[i] === name) {
        n.splice(i, 1);
        this.values.splice(i, 1);
      }
    }
  }

  /** Replaces every field named `name` with one field. */
  set(name: string, value: string): void {
    const n = this.names;
    const i = n.indexOf(name);
    if (i < 0) {
      n.push(name);
      this.values.push(value);
      return;
    }
    this.values[i] = value;
    for (let j = n.length - 1; j > i; j--) {
      if (n[j] === name) {
        n.splice(j, 1);
        this.values.splice(j, 1);
      }
    }
  }

  /** Appends a field. */
  add(name: string, value: string): void {
    this.names.push(name);
    this.values.push(value);
  }

  /**
   * Says that the last `count` fields were added as written out in `text` from `from`: each
   * `name: value\r\n` in order (telemetry's trace fields, one record of a pool). Does nothing
   * when the numbers do not fit (the head is then written field by field).
   */
  markPrepared(count: number, text: string, from: number): void {
    const at = this.names.length - count;
    if (count < 1 || count > PREPARED_COUNT_MASK || at < 0 || at > PREPARED_AT_MASK || from < 0 || from > PREPARED_FROM_MAX) return;
    this.prepared = count | (at << PREPARED_AT_SHIFT) | (from << PREPARED_FROM_SHIFT);
    this.preparedText = text;
    this.preparedLines = undefined;
    this.preparedValues = undefined;
  }

  /**
   * Appends the lines of the record at `from` in `text` (made by `lines.text`) as fields: each
   * line's name, and its value as a slice of `text`. When `text` is the records' checked string
   * (`lines.holds`) the fields are marked prepared, so the writer can copy the record as one
   * piece while the fields are still these strings. Returns the index of the first field added.
   */
  addLines(lines: LineRecords, text: string, from: number): number {
    const first = this.names.length;
    const names = lines.names;
    const at = lines.valueAt;
    const len = lines.valueLengths;
    const n = names.length;
    for (let k = 0; k < n; k++) {
      this.names.push(names[k]!);
      this.values.push(text.substring(from + at[k]!, from + at[k]! + len[k]!));
    }
    if (lines.holds(text, from) && first <= PREPARED_AT_MASK && from <= PREPARED_FROM_MAX) {
      this.prepared = n | (first << PREPARED_AT_SHIFT) | (from << PREPARED_FROM_SHIFT);
      this.preparedText = text;
      this.preparedLines = lines;
      this.preparedValues = this.values.slice(first, first + n);
    } else {
      this.prepared = -1;
      this.preparedLines = undefined;
      this.preparedValues = undefined;
    }
    return first;
  }
}

/** `Headers.prepared`, packed into one small integer (no object per request): count in bits 0-3, first index in 4-13, text offset in 14-29. */
export const PREPARED_COUNT_MASK = 0xf;
export const PREPARED_AT_SHIFT = 4;
export const PREPARED_AT_MASK = 0x3ff;
export const PREPARED_FROM_SHIFT = 14;
const PREPARED_FROM_MAX = 0xffff;

/** Why a head was rejected (stable codes, see docs/errors.md, BOWLINE_E_HTTP_*). */
export class HeadError {
  constructor(
    /** Stable code, e.g. `BOWLINE_E_HTTP_BARE_LF`. */
    readonly code: string,
    /** Human-readable reason. */
    readonly message: string,
    /** Status to answer with (400, or 431 is never used: the issue asks 400 for oversize heads). */
    readonly status = 400,
  ) {}
}

/** Result of scanning a header block: the index just past the blank line, or an error, or -1 (need more). */
export type ScanResult = number | HeadError;

const CR = 13;
const LF = 10;

/**
 * Parses header lines from `buf[pos..end)` into `out` until the empty line. Returns the offset
 * after the terminating CRLF, -1 when more bytes are needed, or a HeadError. Strict: CRLF only
 * (bare LF rejected), no obs-fold, no whitespace before the colon, token names, no CTLs in values.
 */
export function scanHeaders(buf: Buffer, pos: number, end: number, out: Headers): ScanResult {
  for (;;) {
    if (pos >= end) return -1;
    const first = buf[pos];
    if (first === CR) {
      if (pos + 1 >= end) return -1;
      if (buf[pos + 1] !== LF) return new HeadError('BOWLINE_E_HTTP_BARE_CR', 'CR not followed by LF in the header block');
      return pos + 2;
    }
    if (first === LF) return new HeadError('BOWLINE_E_HTTP_BARE_LF', 'bare LF line ending in the header block');
    if (first === 0x20 || first === 0x09) return new HeadError('BOWLINE_E_HTTP_OBS_FOLD', 'obsolete line folding (obs-fold) is not accepted');
    // name
    let i = pos;
    while (i < end && TOKEN[buf[i]!] === 1) i++;
    if (i >= end) return -1;
    if (buf[i] !== 0x3a /* : */) {
      return new HeadError('BOWLINE_E_HTTP_HEADER_NAME', 'invalid character in a header name, or whitespace before the colon');
    }
    if (i === pos) return new HeadError('BOWLINE_E_HTTP_HEADER_NAME', 'empty header name');
    const nameEnd = i;
    i++;
    // value: skip leading OWS, find CR, validate bytes, trim trailing OWS
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    const vStart = i;
    while (i < end && FIELD_VCHAR[buf[i]!] === 1) i++;
    if (i >= end) return -1;
    const c = buf[i];
    if (c === LF) return new HeadError('BOWLINE_E_HTTP_BARE_LF', 'bare LF line ending in the header block');
    if (c !== CR) return new HeadError('BOWLINE_E_HTTP_HEADER_VALUE', 'control character in a header value');
    if (i + 1 >= end) return -1;
    if (buf[i + 1] !== LF) return new HeadError('BOWLINE_E_HTTP_BARE_CR', 'CR not followed by LF in the header block');
    let vEnd = i;
    while (vEnd > vStart && (buf[vEnd - 1] === 0x20 || buf[vEnd - 1] === 0x09)) vEnd--;
    out.names.push(nameString(buf, pos, nameEnd));
    out.values.push(valueString(buf, vStart, vEnd));
    pos = i + 2;
  }
}

/** True when `s` is 1-15 ASCII digits (a Content-Length the proxy accepts: /^\d{1,15}$/ without a regular expression). */
export function isDecimal15(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 15) return false;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Splits a comma-separated header value into lowercase trimmed tokens (Connection, Transfer-Encoding). */
export function tokens(value: string): string[] {
  // The usual values as they come (already lowercase, no blanks; the header string cache hands out the same strings): as they are.
  if (value === 'keep-alive' || value === 'close' || value === 'chunked') return [value];
  // One token (`keep-alive`, `close`, `chunked`: nearly every head): no split, no array of parts.
  if (value.indexOf(',') < 0) {
    const t = value.trim().toLowerCase();
    return t ? [t] : [];
  }
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t) out.push(t);
  }
  return out;
}
