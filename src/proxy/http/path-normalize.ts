/**
 * Request path normalisation, Istio's MeshConfig `pathNormalization` (the CVE-2019-9901 /
 * CVE-2021-31920 class): done once per request, before authorization and routing, and the
 * result is the path the upstream receives. Only the part before `?` changes; the query is kept.
 *
 *   NONE                      pass the path through (only %00, a fragment, control, space and non-ASCII
 *                             characters are refused)
 *   BASE (default)            percent-decode unreserved characters (A-Z a-z 0-9 - . _ ~, hex in any
 *                             case, once: %252e stays %252e), `\` -> `/`, RFC 3986 5.2.4 dot-segment
 *                             removal (`..` above the root stays at the root); %2F and %5C stay encoded
 *   MERGE_SLASHES             BASE, then runs of `/` become one
 *   DECODE_AND_MERGE_SLASHES  %2F and %5C are decoded first (so %5C becomes `/`), then MERGE_SLASHES
 *
 * A path that cannot be normalised (a `%` not followed by two hex digits, %00, a control or
 * non-ASCII character, a fragment, a relative path) is refused: the request gets 400.
 */

/** MeshConfig `pathNormalization.normalization` as the proxy applies it. */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

/** The normalisation modes a proxy accepts (mesh settings validation). */
export const PATH_NORMALIZATIONS: readonly PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

/** Why a path was refused; the request gets 400 with `message (code)`. */
export class PathError {
  constructor(readonly code: string, readonly message: string) {}
}

const PCT = 0x25;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const HASH = 0x23;

/** 1 for the characters RFC 3986 calls unreserved. */
const UNRESERVED = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) UNRESERVED[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) UNRESERVED[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) UNRESERVED[c] = 1;
UNRESERVED[0x2d] = 1; UNRESERVED[0x2e] = 1; UNRESERVED[0x5f] = 1; UNRESERVED[0x7e] = 1;

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Normalises a request target (`/path?query`) per `mode`. Returns the normalised target (the
 * same string when nothing changed) or a PathError. `*` (OPTIONS) is returned as is.
 */
export function normalizePath(target: string, mode: PathNormalization): string | PathError {
  if (target === '*') return target;
  const q = target.indexOf('?');
  const end = q < 0 ? target.length : q;
  // Characters of the whole target: visible ASCII only, never a fragment.
  let needsWork = false;
  let prev = 0;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return new PathError('BOWLINE_E_HTTP_PATH_CHARACTER', `request path has a control, space or non-ASCII character at offset ${i}`);
    if (c === HASH) return new PathError('BOWLINE_E_HTTP_PATH_CHARACTER', 'request path has a fragment (#)');
    if (i < end) {
      if (c === PCT) {
        const h1 = hex(target.charCodeAt(i + 1));
        const h2 = i + 2 < end ? hex(target.charCodeAt(i + 2)) : -1;
        if (h1 < 0 || h2 < 0) {
          if (mode === 'NONE') continue;
          return new PathError('BOWLINE_E_HTTP_PATH_ENCODING', `invalid percent-encoding at offset ${i} of the request path`);
        }
        if (h1 === 0 && h2 === 0) return new PathError('BOWLINE_E_HTTP_PATH_ENCODING', 'request path has an encoded NUL (%00)');
        needsWork = true;
      } else if (c === BACKSLASH || ((c === DOT || c === SLASH) && prev === SLASH)) needsWork = true;
    }
    prev = c;
  }
  if (mode === 'NONE') return target;
  if (target.charCodeAt(0) !== SLASH) return new PathError('BOWLINE_E_HTTP_PATH_RELATIVE', 'request path must start with /');
  if (!needsWork) return target;
  const decodeSlashes = mode === 'DECODE_AND_MERGE_SLASHES';
  // 1. percent-decoding (once) and backslashes
  let p = '';
  let from = 0;
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === BACKSLASH) { p += target.slice(from, i) + '/'; from = i + 1; continue; }
    if (c !== PCT) continue;
    const v = hex(target.charCodeAt(i + 1)) * 16 + hex(target.charCodeAt(i + 2));
    if (UNRESERVED[v] === 1) { p += target.slice(from, i) + String.fromCharCode(v); from = i + 3; }
    else if (decodeSlashes && (v === SLASH || v === BACKSLASH)) { p += target.slice(from, i) + '/'; from = i + 3; }
    i += 2;
  }
  p += target.slice(from, end);
  // 2. dot segments, 3. slashes
  p = removeDotSegments(p);
  if (mode !== 'BASE') p = p.replace(/\/{2,}/g, '/');
  return q < 0 ? p : p + target.slice(q);
}

/**
 * RFC 3986 5.2.4 on an absolute path, segment by segment: `.` segments go, `..` removes the
 * segment before it (never above the root); a path ending in `.` or `..` keeps its trailing `/`.
 */
export function removeDotSegments(path: string): string {
  if (path.indexOf('.') < 0) return path;
  const segs = path.split('/'); // segs[0] is '' (the path starts with /)
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    const last = i === segs.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..' && out.length > 0) out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(s);
  }
  return '/' + out.join('/');
}

/** Whether `path` (no query) still contains a `.` or `..` segment; for tests and assertions. */
export function hasDotSegment(path: string): boolean {
  const q = path.indexOf('?');
  const segs = (q < 0 ? path : path.slice(0, q)).split('/');
  return segs.some((s) => s === '.' || s === '..');
}
