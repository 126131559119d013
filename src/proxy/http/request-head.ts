/**
 * The HTTP/1.1 request head parser (RFC 9112). It faces untrusted bytes, so it is strict
 * where leniency enables request smuggling: CRLF only, no obs-fold, exactly one Host (1.1),
 * Content-Length digits only and never repeated, Transfer-Encoding exactly `chunked` (1.1 only),
 * never both. Differential-tested against llhttp and fuzzed (request-head.test.ts).
 */
import { Headers, HeadError, TARGET, TOKEN, latin1, scanHeaders, tokens } from './head.js';
import { valueString } from './string-cache.js';

/** How the request body is delimited. */
export const BODY_NONE = 0;
/** Content-Length bytes follow the head. */
export const BODY_LENGTH = 1;
/** A chunked body follows the head. */
export const BODY_CHUNKED = 2;

/** A parsed request head. */
export interface RequestHead {
  method: string;
  /** Origin-form path with query (absolute-form targets are reduced to this). */
  path: string;
  /** Host header value, or the authority of an absolute-form target. */
  authority: string;
  /** True when the target was absolute-form (`GET http://host/path`). */
  absolute: boolean;
  /** `http` / `https` from an absolute-form target, else undefined. */
  scheme: string | undefined;
  /** 10 for HTTP/1.0, 11 for HTTP/1.1. */
  version: 10 | 11;
  headers: Headers;
  bodyKind: number;
  /** Body length when bodyKind is BODY_LENGTH. */
  contentLength: number;
  /** Whether the connection may carry another request after this one. */
  keepAlive: boolean;
  /** Extra hop-by-hop field names the Connection header listed (lowercase), or null. */
  connectionTokens: string[] | null;
  /** `Expect: 100-continue` was sent. */
  expectContinue: boolean;
  /**
   * The Upgrade header value when Connection lists `upgrade` and the value is `websocket`, the one
   * upgrade forwarded (Envoy's upgrade_configs); any other token (h2c, ...) is dropped with the
   * Upgrade, Connection and HTTP2-Settings fields and the request goes on as plain HTTP/1.1.
   */
  upgrade: string | undefined;
  /** Offset just past the head in the buffer it was parsed from. */
  headEnd: number;
}

/** Methods accepted (those llhttp knows; an unknown method is refused the same way). */
export const METHODS: ReadonlySet<string> = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'COPY', 'LOCK', 'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND',
  'UNBIND', 'ACL', 'REPORT', 'MKACTIVITY', 'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE',
  'UNSUBSCRIBE', 'PURGE', 'MKCALENDAR', 'LINK', 'UNLINK', 'SOURCE',
]);

const CR = 13;
const LF = 10;
const SP = 32;
/** Content-Length values longer than this many digits are refused (beyond 2^53). */
const MAX_CL_DIGITS = 15;

/**
 * Parses one request head from `buf[start..end)`. Returns the head, null when more bytes are
 * needed, or a HeadError (answer 400 and close). `maxBytes` bounds the whole head.
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, maxBytes: number): RequestHead | HeadError | null {
  let pos = start;
  // RFC 9112 2.2: ignore empty lines (CRLF) before the request line.
  while (pos + 1 < end && buf[pos] === CR && buf[pos + 1] === LF) pos += 2;
  const limit = Math.min(end, pos + maxBytes);
  const r = parseWithin(buf, pos, limit);
  if (r === null && end - pos >= maxBytes) {
    return new HeadError('BOWLINE_E_HTTP_HEAD_TOO_LARGE', `request head larger than ${maxBytes} bytes`);
  }
  return r;
}

function parseWithin(buf: Buffer, pos: number, end: number): RequestHead | HeadError | null {
  // method
  let i = pos;
  while (i < end && TOKEN[buf[i]!] === 1) i++;
  if (i >= end) return null;
  if (buf[i] !== SP || i === pos) return bad('BOWLINE_E_HTTP_REQUEST_LINE', 'malformed request line (method)');
  const method = valueString(buf, pos, i);
  if (!METHODS.has(method)) return bad('BOWLINE_E_HTTP_METHOD', `unknown method ${JSON.stringify(method.slice(0, 20))}`);
  // target
  const tStart = ++i;
  while (i < end && TARGET[buf[i]!] === 1) i++;
  if (i >= end) return null;
  if (buf[i] !== SP || i === tStart) return bad('BOWLINE_E_HTTP_REQUEST_LINE', 'malformed request line (target)');
  const tEnd = i++;
  // version: exactly "HTTP/1.1" or "HTTP/1.0" then CRLF
  if (end - i < 10) return null;
  if (buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f
    || buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e || (buf[i + 7] !== 0x31 && buf[i + 7] !== 0x30)) {
    return bad('BOWLINE_E_HTTP_VERSION', 'unsupported HTTP version (HTTP/1.0 and HTTP/1.1 only)');
  }
  const version: 10 | 11 = buf[i + 7] === 0x31 ? 11 : 10;
  if (buf[i + 8] !== CR) return bad('BOWLINE_E_HTTP_REQUEST_LINE', 'malformed request line (after version)');
  if (buf[i + 9] !== LF) return bad('BOWLINE_E_HTTP_BARE_CR', 'CR not followed by LF after the request line');
  const headers = new Headers();
  const after = scanHeaders(buf, i + 10, end, headers);
  if (after === -1) return null;
  if (after instanceof HeadError) return after;
  return interpret(buf, method, tStart, tEnd, version, headers, after);
}

function interpret(buf: Buffer, method: string, tStart: number, tEnd: number, version: 10 | 11, headers: Headers, headEnd: number): RequestHead | HeadError {
  let host: string | undefined;
  let hostCount = 0;
  let cl: string | undefined;
  let te: string | undefined;
  let conn: string[] | null = null;
  let expect: string | undefined;
  let upgradeValue: string | undefined;
  const names = headers.names;
  for (let k = 0; k < names.length; k++) {
    const n = names[k]!;
    switch (n) {
      case 'host': hostCount++; host = headers.values[k]; break;
      case 'content-length':
        if (cl !== undefined) return bad('BOWLINE_E_HTTP_DUP_CONTENT_LENGTH', 'more than one Content-Length');
        cl = headers.values[k];
        break;
      case 'transfer-encoding':
        if (te !== undefined) return bad('BOWLINE_E_HTTP_TRANSFER_ENCODING', 'more than one Transfer-Encoding field');
        te = headers.values[k];
        break;
      case 'connection': { const ts = tokens(headers.values[k]!); if (conn === null) conn = ts; else conn.push(...ts); break; } // tokens() is a fresh array
      case 'expect': expect = headers.values[k]; break;
      case 'upgrade': upgradeValue = headers.values[k]; break;
    }
  }
  if (version === 11 && hostCount === 0) return bad('BOWLINE_E_HTTP_NO_HOST', 'HTTP/1.1 request without Host');
  if (hostCount > 1) return bad('BOWLINE_E_HTTP_DUP_HOST', 'more than one Host');
  let bodyKind = BODY_NONE;
  let contentLength = 0;
  if (te !== undefined) {
    if (cl !== undefined) return bad('BOWLINE_E_HTTP_CL_AND_TE', 'both Content-Length and Transfer-Encoding');
    if (version === 10) return bad('BOWLINE_E_HTTP_TRANSFER_ENCODING', 'Transfer-Encoding in an HTTP/1.0 request');
    const t = tokens(te);
    if (t.length !== 1 || t[0] !== 'chunked') {
      return bad('BOWLINE_E_HTTP_TRANSFER_ENCODING', 'Transfer-Encoding must be exactly "chunked"');
    }
    bodyKind = BODY_CHUNKED;
  } else if (cl !== undefined) {
    if (cl.length === 0 || cl.length > MAX_CL_DIGITS) return bad('BOWLINE_E_HTTP_CONTENT_LENGTH', 'invalid Content-Length');
    for (let k = 0; k < cl.length; k++) {
      const c = cl.charCodeAt(k);
      if (c < 0x30 || c > 0x39) return bad('BOWLINE_E_HTTP_CONTENT_LENGTH', 'invalid Content-Length');
    }
    contentLength = Number(cl);
    if (contentLength > 0) bodyKind = BODY_LENGTH;
  }
  let keepAlive = version === 11;
  let upgrade: string | undefined;
  if (conn !== null) {
    for (const t of conn) {
      if (t === 'close') keepAlive = false;
      else if (t === 'keep-alive') { if (version === 10) keepAlive = true; }
      else if (t === 'upgrade' && upgradeValue !== undefined && isWebSocket(upgradeValue)) upgrade = upgradeValue;
    }
  }
  // request target forms
  let path: string;
  let authority = host ?? '';
  let absolute = false;
  let scheme: string | undefined;
  const first = buf[tStart];
  if (first === 0x2f /* / */) {
    path = valueString(buf, tStart, tEnd);
  } else if (first === 0x2a /* * */ && tEnd - tStart === 1 && method === 'OPTIONS') {
    path = '*';
  } else if (method === 'CONNECT') {
    path = latin1(buf, tStart, tEnd);
    authority = path;
  } else {
    const target = latin1(buf, tStart, tEnd);
    const m = /^(https?):\/\/([^/?#@]+)([/?][^#]*)?$/i.exec(target);
    if (!m) return bad('BOWLINE_E_HTTP_TARGET', 'request target must be origin-form (/path) or absolute-form (http://host/path)');
    absolute = true;
    scheme = m[1]!.toLowerCase();
    authority = m[2]!;
    path = m[3] === undefined ? '/' : m[3]!.startsWith('?') ? '/' + m[3]! : m[3]!;
  }
  return {
    method, path, authority, absolute, scheme, version, headers, bodyKind, contentLength, keepAlive,
    connectionTokens: conn,
    expectContinue: expect !== undefined && expect.toLowerCase() === '100-continue',
    upgrade, headEnd,
  };
}

/** The upgrades forwarded: WebSocket only (smuggling h2c past routes and authorization is the risk otherwise). */
function isWebSocket(v: string): boolean {
  return v.trim().toLowerCase() === 'websocket';
}

function bad(code: string, message: string): HeadError {
  return new HeadError(code, message);
}
