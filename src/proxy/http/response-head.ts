/**
 * The HTTP/1.1 response head parser (upstream side). Upstreams are trusted more than clients,
 * but framing is still strict: a response whose length is ambiguous (conflicting Content-Length,
 * Transfer-Encoding not ending in chunked with a length) is a protocol error, never guessed.
 */
import { Headers, HeadError, isDecimal15, scanHeaders, tokens } from './head.js';
import { valueString } from './string-cache.js';

/** No body (HEAD, 1xx, 204, 304, or Content-Length: 0). */
export const RBODY_NONE = 0;
/** Content-Length bytes. */
export const RBODY_LENGTH = 1;
/** Chunked. */
export const RBODY_CHUNKED = 2;
/** Delimited by the upstream closing the connection. */
export const RBODY_CLOSE = 3;

/** A parsed response head. */
export interface ResponseHead {
  status: number;
  reason: string;
  version: 10 | 11;
  headers: Headers;
  bodyKind: number;
  contentLength: number;
  /** The upstream connection may be reused after this response. */
  keepAlive: boolean;
  /** Extra hop-by-hop names listed in Connection, or null. */
  connectionTokens: string[] | null;
  headEnd: number;
}

/**
 * Parses a response head from `buf[start..end)`; `requestMethod` decides HEAD bodies.
 * Returns the head, null (need more), or a HeadError (upstream protocol error).
 */
export function parseResponseHead(buf: Buffer, start: number, end: number, requestMethod: string, maxBytes: number): ResponseHead | HeadError | null {
  const limit = Math.min(end, start + maxBytes);
  const r = parseWithin(buf, start, limit, requestMethod);
  if (r === null && end - start >= maxBytes) return new HeadError('BOWLINE_E_HTTP_UPSTREAM_HEAD_TOO_LARGE', 'response head too large', 502);
  return r;
}

function parseWithin(buf: Buffer, pos: number, end: number, requestMethod: string): ResponseHead | HeadError | null {
  if (end - pos < 13) return null;
  if (buf[pos] !== 0x48 || buf[pos + 1] !== 0x54 || buf[pos + 2] !== 0x54 || buf[pos + 3] !== 0x50 || buf[pos + 4] !== 0x2f
    || buf[pos + 5] !== 0x31 || buf[pos + 6] !== 0x2e || (buf[pos + 7] !== 0x31 && buf[pos + 7] !== 0x30) || buf[pos + 8] !== 0x20) {
    return upe('malformed status line');
  }
  const version: 10 | 11 = buf[pos + 7] === 0x31 ? 11 : 10;
  const d0 = buf[pos + 9]! - 0x30, d1 = buf[pos + 10]! - 0x30, d2 = buf[pos + 11]! - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return upe('malformed status code');
  const status = d0 * 100 + d1 * 10 + d2;
  let i = pos + 12;
  const c = buf[i];
  let reason = '';
  if (c === 0x20) {
    const rs = ++i;
    while (i < end && buf[i] !== 0x0d && buf[i] !== 0x0a) i++;
    if (i >= end) return null;
    reason = valueString(buf, rs, i);
  }
  if (buf[i] !== 0x0d) return upe('malformed status line');
  if (i + 1 >= end) return null;
  if (buf[i + 1] !== 0x0a) return upe('malformed status line');
  const headers = new Headers();
  const after = scanHeaders(buf, i + 2, end, headers);
  if (after === -1) return null;
  if (after instanceof HeadError) return upe(after.message);
  let cl: string | undefined;
  let te: string | undefined;
  let conn: string[] | null = null;
  const names = headers.names;
  for (let k = 0; k < names.length; k++) {
    const n = names[k]!;
    if (n === 'content-length') {
      const v = headers.values[k]!;
      if (cl !== undefined && cl !== v) return upe('conflicting Content-Length');
      cl = v;
    } else if (n === 'transfer-encoding') {
      te = te === undefined ? headers.values[k] : `${te}, ${headers.values[k]}`;
    } else if (n === 'connection') {
      const ts = tokens(headers.values[k]!);
      if (conn === null) conn = ts; // a fresh array: the head's own list (no second array for the usual one Connection field)
      else conn.push(...ts);
    }
  }
  let keepAlive = version === 11;
  if (conn !== null) for (const t of conn) {
    if (t === 'close') keepAlive = false;
    else if (t === 'keep-alive' && version === 10) keepAlive = true;
  }
  let bodyKind = RBODY_CLOSE;
  let contentLength = 0;
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) {
    bodyKind = RBODY_NONE;
  } else if (te !== undefined) {
    const t = tokens(te);
    if (t[t.length - 1] === 'chunked') {
      if (t.length !== 1) return upe('unsupported Transfer-Encoding');
      bodyKind = RBODY_CHUNKED;
    } else {
      bodyKind = RBODY_CLOSE;
      keepAlive = false;
    }
  } else if (cl !== undefined) {
    if (!isDecimal15(cl)) return upe('invalid Content-Length');
    contentLength = Number(cl);
    bodyKind = contentLength === 0 ? RBODY_NONE : RBODY_LENGTH;
  }
  if (bodyKind === RBODY_CLOSE) keepAlive = false;
  return { status, reason, version, headers, bodyKind, contentLength, keepAlive, connectionTokens: conn, headEnd: after };
}

function upe(message: string): HeadError {
  return new HeadError('BOWLINE_E_HTTP_UPSTREAM_PROTOCOL', `upstream protocol error: ${message}`, 502);
}
