import type { LineRecords } from './line-records.js';

/**
 * Trace context propagation: W3C `traceparent`/`tracestate`, B3 single (`b3`) and multi
 * (`x-b3-*`) headers. A proxy hop extracts the incoming context, makes a child span id for
 * itself and writes both formats for the next hop, keeping any sampling decision it received.
 */

/** Minimal header access the proxy's header list already offers (get / set / remove by lowercase name). */
export interface HeaderAccess {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  remove(name: string): void;
  /** Appends a field without looking for one of the same name (the caller knows there is none). */
  add?(name: string, value: string): void;
  /** The last `count` fields were added exactly as `text` writes them from `from` (`name: value\r\n` each): a head writer may copy them as one piece. */
  markPrepared?(count: number, text: string, from: number): void;
  /** Appends the lines of the record at `from` in `text` (made by `lines.text`) as fields; returns the first one's index (Headers.addLines). */
  addLines?(lines: LineRecords, text: string, from: number): number;
  /** The proxy's list keeps lowercase names and values in parallel arrays: read in one pass (request-scan.ts). */
  readonly names?: readonly string[];
  readonly values?: readonly string[];
}

/** What the incoming headers said (before this hop adds its span). */
export interface IncomingContext {
  /** 32 hex (W3C / B3 128-bit) or 16 hex (B3 64-bit); absent when only a sampling decision came. */
  traceId?: string;
  /** The caller's span id (this hop's parent), 16 hex. */
  spanId?: string;
  /** Upstream's decision: true / false, or undefined when none was made. */
  sampled?: boolean;
  /** B3 debug flag (forces sampling). */
  debug?: boolean;
  /** W3C tracestate, passed on unchanged. */
  tracestate?: string;
  /** Which format carried it. */
  format?: 'w3c' | 'b3' | 'b3-single';
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '00000000000000000000000000000000';
const ZERO16 = '0000000000000000';
/** Character code -> 1 for a lowercase hex digit (traceparent allows no other). */
const LOWER_HEX = new Uint8Array(256);
for (const c of '0123456789abcdef') LOWER_HEX[c.charCodeAt(0)] = 1;

/** Whether `s[from, from + n)` is lowercase hex and, when `nonZero`, not all zeros. */
function hexRun(s: string, from: number, n: number, nonZero: boolean): boolean {
  let any = !nonZero;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || LOWER_HEX[c] === 0) return false;
    if (c !== 48) any = true;
  }
  return any;
}

/**
 * Parses a W3C traceparent (`VV-TRACEID-SPANID-FF`, lowercase hex); undefined when invalid:
 * version ff, all-zero ids, bad lengths, and for version 00 anything after the flags. A later
 * version may carry more after a `-` (read as version 00, per the spec). Read by character codes,
 * not a regular expression: every hop after a mesh's first gets one (a match and its five strings
 * were ~0.17 us of a request's ~5 in the codec micro-benchmark, src/proxy/http/codec.bench.ts).
 */
export function parseTraceparent(v: string): IncomingContext | undefined {
  // Surrounding whitespace (optional whitespace the parser kept) is not part of the value.
  const s = v.length === 55 && v.charCodeAt(0) > 32 && v.charCodeAt(54) > 32 ? v : v.trim();
  const n = s.length;
  if (n < 55 || s.charCodeAt(2) !== 45 || s.charCodeAt(35) !== 45 || s.charCodeAt(52) !== 45) return undefined;
  if (!hexRun(s, 0, 2, false) || !hexRun(s, 53, 2, false)) return undefined;
  const v0 = s.charCodeAt(0), v1 = s.charCodeAt(1);
  if (v0 === 102 && v1 === 102) return undefined; // version ff is invalid
  if (n > 55) {
    // Only a version after 00 may go on, and only after a dash, on one line.
    if ((v0 === 48 && v1 === 48) || s.charCodeAt(55) !== 45) return undefined;
    for (let i = 56; i < n; i++) { const c = s.charCodeAt(i); if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return undefined; }
  }
  if (!hexRun(s, 3, 32, true) || !hexRun(s, 36, 16, true)) return undefined;
  const f = s.charCodeAt(54);
  return { traceId: s.substring(3, 35), spanId: s.substring(36, 52), sampled: ((f <= 57 ? f - 48 : f - 87) & 1) === 1, format: 'w3c' };
}

/** Parses a B3 single header (`traceid-spanid[-sampled[-parent]]` or just `0`/`1`/`d`). */
export function parseB3Single(v: string): IncomingContext | undefined {
  const s = v.trim().toLowerCase();
  if (s === '0' || s === '1' || s === 'd') return { sampled: s !== '0', debug: s === 'd', format: 'b3-single' };
  const parts = s.split('-');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const [traceId, spanId, flag, parent] = parts;
  if (!validTraceId(traceId!) || !HEX16.test(spanId!) || spanId === ZERO16) return undefined;
  if (flag !== undefined && flag !== '0' && flag !== '1' && flag !== 'd') return undefined;
  if (parent !== undefined && !HEX16.test(parent)) return undefined;
  return {
    traceId,
    spanId,
    sampled: flag === undefined ? undefined : flag !== '0',
    debug: flag === 'd',
    format: 'b3-single',
  };
}

/** Parses B3 multi headers; undefined when there is neither a valid id pair nor a decision. */
export function parseB3Multi(h: Pick<HeaderAccess, 'get'>): IncomingContext | undefined {
  const traceId = h.get('x-b3-traceid')?.trim().toLowerCase();
  const spanId = h.get('x-b3-spanid')?.trim().toLowerCase();
  const sampledRaw = h.get('x-b3-sampled')?.trim().toLowerCase();
  const debug = h.get('x-b3-flags')?.trim() === '1';
  let sampled: boolean | undefined;
  if (sampledRaw === '1' || sampledRaw === 'true') sampled = true;
  else if (sampledRaw === '0' || sampledRaw === 'false') sampled = false;
  if (debug) sampled = true;
  const ids = traceId !== undefined && spanId !== undefined && validTraceId(traceId) && HEX16.test(spanId) && spanId !== ZERO16;
  if (!ids && sampled === undefined) return undefined;
  return ids ? { traceId, spanId, sampled, debug, format: 'b3' } : { sampled, debug, format: 'b3' };
}

function validTraceId(t: string): boolean {
  return (HEX32.test(t) && t !== ZERO32) || (HEX16.test(t) && t !== ZERO16);
}

/**
 * The incoming context: a valid `traceparent` first, then `b3`, then `x-b3-*`. A sampling
 * decision without ids (e.g. `b3: 0`) is kept even though a new trace starts here.
 */
export function extractContext(h: Pick<HeaderAccess, 'get'>): IncomingContext | undefined {
  const tp = h.get('traceparent');
  let ctx = tp !== undefined ? parseTraceparent(tp) : undefined;
  if (ctx) {
    const ts = h.get('tracestate');
    if (ts !== undefined && ts.length <= 512) ctx.tracestate = ts;
    return ctx;
  }
  const single = h.get('b3');
  ctx = single !== undefined ? parseB3Single(single) : undefined;
  if (ctx?.traceId) return ctx;
  const multi = parseB3Multi(h);
  if (multi?.traceId) return multi;
  return ctx ?? multi;
}

/** This hop's context, written to the request before it goes upstream. */
export interface OutgoingContext {
  traceId: string;
  spanId: string;
  parentId: string | undefined;
  sampled: boolean;
  debug: boolean;
  tracestate: string | undefined;
}

/** A 16-hex B3 trace id widened to W3C's 32 (left-padded with zeros, as the B3 spec says). */
export function traceId128(id: string): string {
  return id.length === 32 ? id : ZERO16 + id;
}

/** Writes this hop's context in W3C and B3 multi form (and B3 single if the caller used it). */
export function injectContext(h: HeaderAccess, c: OutgoingContext, b3Single: boolean): void {
  h.set('traceparent', `00-${traceId128(c.traceId)}-${c.spanId}-${c.sampled ? '01' : '00'}`);
  if (c.tracestate !== undefined) h.set('tracestate', c.tracestate);
  h.set('x-b3-traceid', c.traceId);
  h.set('x-b3-spanid', c.spanId);
  if (c.parentId !== undefined) h.set('x-b3-parentspanid', c.parentId);
  else h.remove('x-b3-parentspanid');
  if (c.debug) h.set('x-b3-flags', '1');
  h.set('x-b3-sampled', c.sampled ? '1' : '0');
  if (b3Single) {
    const flag = c.debug ? 'd' : c.sampled ? '1' : '0';
    h.set('b3', c.parentId !== undefined ? `${c.traceId}-${c.spanId}-${flag}-${c.parentId}` : `${c.traceId}-${c.spanId}-${flag}`);
  }
}

/**
 * `injectContext` for a head that carried no propagation field at all (this hop starts the
 * trace): the same fields in the same order, appended without a lookup per name.
 */
export function appendNewContext(h: HeaderAccess & { add(name: string, value: string): void }, c: OutgoingContext): void {
  h.add('traceparent', `00-${traceId128(c.traceId)}-${c.spanId}-${c.sampled ? '01' : '00'}`);
  h.add('x-b3-traceid', c.traceId);
  h.add('x-b3-spanid', c.spanId);
  if (c.debug) h.add('x-b3-flags', '1');
  h.add('x-b3-sampled', c.sampled ? '1' : '0');
}

/**
 * Sampling derived from the trace id alone, so every proxy that sees the same new trace would
 * decide alike: the id's last 8 hex digits as a fraction of 2^32, compared to `percent`.
 */
export function sampleByTraceId(traceId: string, percent: number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  let x = 0;
  for (let i = traceId.length - 8; i < traceId.length; i++) {
    const c = traceId.charCodeAt(i);
    x = x * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
  }
  return (x / 4294967296) * 100 < percent;
}
