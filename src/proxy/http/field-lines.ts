/**
 * Header lines (`name: value\r\n`) the proxy writes again and again -- its own peer-metadata
 * fields, the route's added headers, a server's `Server` and `Content-Type`, the client's
 * `User-Agent` -- kept written out, so a head is one string added per field instead of four
 * (`name + ': '`, `+ value`, `+ '\r\n'`, then onto the head: ~100 bytes of young generation
 * per field, ~1.3 KB per proxied request with telemetry's fields).
 *
 * Direct-mapped by a hash of the name and a few characters of the value. A hit returns a
 * string equal to `name + ': ' + value + '\r\n'` (name and value compared in full). A line is
 * admitted on the second miss in a row with the same hash at its slot, so values that differ
 * on every request (ids, trace contexts) are not kept: they would outlive a scavenge here and
 * be promoted. Long values are never kept; the table is small (RSS is a target too).
 */

const SLOTS = 256;
const MASK = SLOTS - 1;
/** Values longer than this are written per request (peer metadata, ~300 bytes, fits). */
export const MAX_CACHED_VALUE = 512;

/**
 * Fields that carry credentials are never kept: the table would hold a client's token or session
 * past its request, in a process-wide table where a heap dump finds it. Checked on admission only.
 */
const CREDENTIALS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

/** Slot i is entries[3i..3i+2]: name, value, line side by side (one cache line to look at per field: at 1000 rps every request starts with cold caches). */
const entries: Array<string | undefined> = new Array<string | undefined>(SLOTS * 3).fill(undefined);
/** The hash of the last miss at each slot (admission: a line is kept when it misses twice in a row). */
const lastMiss = new Int32Array(SLOTS);

/** FNV-1a of `seed` and eight characters of `s` spread over it (ids and trace contexts differ in most of them). */
function hash(seed: number, s: string): number {
  const n = s.length;
  const q = n >> 3;
  let h = Math.imul(0x811c9dc5 ^ seed, 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(0), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(q), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(2 * q), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(3 * q), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(4 * q), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(5 * q), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(6 * q), 0x01000193);
  return Math.imul(h ^ s.charCodeAt(n - 1), 0x01000193);
}

/** `name: value\r\n` (name as given: lowercase in the proxy's heads), from the table when seen before. */
export function fieldLine(name: string, value: string): string {
  const n = value.length;
  if (n === 0 || n > MAX_CACHED_VALUE) return name + ': ' + value + '\r\n';
  const h = hash((n | (name.length << 16)) ^ (name.charCodeAt(name.length - 1) << 24), value);
  const i = (h ^ (h >>> 8)) & MASK;
  const e = i * 3;
  if (entries[e + 1] === value && entries[e] === name) return entries[e + 2]!;
  const line = name + ': ' + value + '\r\n';
  if (lastMiss[i] === h && !CREDENTIALS.has(name)) {
    entries[e] = name;
    entries[e + 1] = value;
    entries[e + 2] = line;
  } else {
    lastMiss[i] = h;
  }
  return line;
}

const START_SLOTS = 64;
const startMethods: Array<string | undefined> = new Array<string | undefined>(START_SLOTS).fill(undefined);
const startPaths: Array<string | undefined> = new Array<string | undefined>(START_SLOTS).fill(undefined);
const startAuthorities: Array<string | undefined> = new Array<string | undefined>(START_SLOTS).fill(undefined);
const starts: Array<string | undefined> = new Array<string | undefined>(START_SLOTS).fill(undefined);
const startLastMiss = new Int32Array(START_SLOTS);

/** `METHOD path HTTP/1.1\r\nhost: authority\r\n`, kept like field lines (same admission, paths up to MAX_CACHED_VALUE). */
export function requestStart(method: string, path: string, authority: string): string {
  if (path.length > MAX_CACHED_VALUE || authority.length > MAX_CACHED_VALUE) return method + ' ' + path + ' HTTP/1.1\r\nhost: ' + authority + '\r\n';
  const h = hash(hash(method.length | (method.charCodeAt(0) << 8), path), authority.length === 0 ? ' ' : authority);
  const i = (h ^ (h >>> 8)) & (START_SLOTS - 1);
  if (startPaths[i] === path && startAuthorities[i] === authority && startMethods[i] === method) return starts[i]!;
  const line = method + ' ' + path + ' HTTP/1.1\r\nhost: ' + authority + '\r\n';
  if (startLastMiss[i] === h) {
    startMethods[i] = method;
    startPaths[i] = path;
    startAuthorities[i] = authority;
    starts[i] = line;
  } else {
    startLastMiss[i] = h;
  }
  return line;
}

const LENGTH_SLOTS = 256;
const lengthOf = new Float64Array(LENGTH_SLOTS).fill(-1);
const lengthLines: Array<string | undefined> = new Array<string | undefined>(LENGTH_SLOTS).fill(undefined);
const lengthLastMiss = new Float64Array(LENGTH_SLOTS).fill(-1);

/** `content-length: N\r\n`, kept for a length seen twice in a row at its slot (bodies of one size repeat). */
export function contentLengthLine(length: number): string {
  const i = length & (LENGTH_SLOTS - 1);
  if (lengthOf[i] === length) return lengthLines[i]!;
  const line = 'content-length: ' + length + '\r\n';
  if (lengthLastMiss[i] === length) {
    lengthOf[i] = length;
    lengthLines[i] = line;
  } else {
    lengthLastMiss[i] = length;
  }
  return line;
}

let lastStatus = 0;
let lastReason = '';
let lastStatusLine = '';

/** `HTTP/1.1 STATUS REASON\r\n` (the last one kept: nearly every response is the same). */
export function statusLine(status: number, reason: string): string {
  if (status === lastStatus && reason === lastReason) return lastStatusLine;
  lastStatus = status;
  lastReason = reason;
  return (lastStatusLine = 'HTTP/1.1 ' + status + ' ' + reason + '\r\n');
}

/** How many lines the tables hold (tests). */
export function cachedLineCount(): number {
  let k = 0;
  for (let e = 2; e < entries.length; e += 3) if (entries[e] !== undefined) k++;
  for (const l of starts) if (l !== undefined) k++;
  for (const n of lengthOf) if (n >= 0) k++;
  return k;
}

/** Empties the table (tests). */
export function clearFieldLines(): void {
  entries.fill(undefined);
  lastMiss.fill(0);
  starts.fill(undefined);
  startPaths.fill(undefined);
  startLastMiss.fill(0);
  lengthOf.fill(-1);
  lengthLastMiss.fill(-1);
  lastStatus = 0;
}
