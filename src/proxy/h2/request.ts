/**
 * An HTTP/2 request's header list (as our HPACK decoder gives it: [name, value, ...]) checked
 * against RFC 9113 8.2 and 8.3 and turned into the proxy's RequestHead. A malformed request is
 * a stream error PROTOCOL_ERROR (the server resets that stream only): pseudo-header fields
 * after regular ones, unknown, repeated or missing pseudo-headers, upper-case or non-token
 * names, connection-specific fields, `te` other than `trailers`, values with CR/LF/NUL or
 * other controls or with leading/trailing whitespace, a bad content-length. Cookie crumbs are
 * joined with "; " (8.2.3) so an HTTP/1.1 upstream sees one field.
 */
import { FIELD_VCHAR, Headers, TOKEN } from '../http/head.js';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, type RequestHead } from '../http/request-head.js';
import { CONNECTION_SPECIFIC } from './headers.js';


/** Why a request was malformed (for the log line). */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** Bytes of a header list as SETTINGS_MAX_HEADER_LIST_SIZE counts them (name + value + 32 per field). */
export function listSize(list: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < list.length; i++) n += list[i]!.length;
  return n + 16 * list.length;
}

function validName(n: string): boolean {
  if (n.length === 0) return false;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1 || (c >= 0x41 && c <= 0x5a)) return false;
  }
  return true;
}

function validValue(v: string): boolean {
  const len = v.length;
  if (len === 0) return true;
  const first = v.charCodeAt(0);
  const last = v.charCodeAt(len - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < len; i++) {
    const c = v.charCodeAt(i);
    if (c > 0xff || FIELD_VCHAR[c] !== 1) return false;
  }
  return true;
}

/**
 * The RequestHead of a request header list, or why it is malformed. `endStream`: the HEADERS
 * frame ended the stream (no body). `secure`: the connection is TLS (the scheme when absent).
 * `valid`: strings found valid at each position of this connection's earlier requests (the
 * HPACK decoder hands out the same string for a field the client repeats), so a repeated field
 * is not scanned again; updated here.
 */
export function requestHead(list: readonly string[], endStream: boolean, secure: boolean, valid: string[] = []): RequestHead | MalformedRequest {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let regular = false;
  let contentLength = -1;
  let cookie: string | undefined;
  let host: string | undefined;
  const h = new Headers();
  for (let i = 0; i < list.length; i += 2) {
    const n = list[i]!;
    const v = list[i + 1]!;
    if (n.charCodeAt(0) === 0x3a /* : */) {
      if (regular) return new MalformedRequest(`pseudo-header ${n} after a regular field`);
      switch (n) {
        case ':method': if (method !== undefined) return new MalformedRequest('repeated :method'); method = v; break;
        case ':scheme': if (scheme !== undefined) return new MalformedRequest('repeated :scheme'); scheme = v; break;
        case ':authority': if (authority !== undefined) return new MalformedRequest('repeated :authority'); authority = v; break;
        case ':path': if (path !== undefined) return new MalformedRequest('repeated :path'); path = v; break;
        default: return new MalformedRequest(`unknown pseudo-header ${n}`);
      }
      if (valid[i + 1] !== v) {
        if (!validValue(v)) return new MalformedRequest(`invalid character in ${n}`);
        valid[i + 1] = v;
      }
      continue;
    }
    regular = true;
    if (valid[i] !== n) {
      if (!validName(n)) return new MalformedRequest('invalid header name (upper-case or not a token)');
      valid[i] = n;
    }
    if (valid[i + 1] !== v) {
      if (!validValue(v)) return new MalformedRequest(`invalid character or surrounding whitespace in the value of ${n}`);
      valid[i + 1] = v;
    }
    if (CONNECTION_SPECIFIC.has(n)) return new MalformedRequest(`connection-specific field ${n}`);
    if (n === 'te') {
      if (v !== 'trailers') return new MalformedRequest('te other than "trailers"');
    } else if (n === 'content-length') {
      if (!/^\d{1,15}$/.test(v)) return new MalformedRequest('invalid content-length');
      const cl = Number(v);
      if (contentLength >= 0 && cl !== contentLength) return new MalformedRequest('conflicting content-length values');
      if (contentLength >= 0) continue;
      contentLength = cl;
    } else if (n === 'cookie') {
      cookie = cookie === undefined ? v : cookie + '; ' + v;
      continue;
    } else if (n === 'http2-settings') {
      continue; // an HTTP/1.1 upgrade field, meaningless here
    } else if (n === 'host') {
      // Not forwarded as a field (the upstream request carries the authority); used when :authority is absent.
      host ??= v;
      continue;
    }
    h.names.push(n);
    h.values.push(v);
  }
  if (method === undefined || method === '') return new MalformedRequest('missing :method');
  if (!validName(method.toLowerCase())) return new MalformedRequest('invalid :method');
  if (method === 'CONNECT') {
    if (scheme !== undefined || path !== undefined) return new MalformedRequest('CONNECT with :scheme or :path');
    if (authority === undefined) return new MalformedRequest('CONNECT without :authority');
  } else {
    if (scheme === undefined) return new MalformedRequest('missing :scheme');
    if (path === undefined || path === '') return new MalformedRequest('missing :path');
  }
  if (cookie !== undefined) { h.names.push('cookie'); h.values.push(cookie); }
  if (endStream && contentLength > 0) return new MalformedRequest('content-length on a request without a body');
  return h2Head(method, path ?? '/', authority ?? host ?? '', scheme ?? (secure ? 'https' : 'http'), h,
    endStream ? BODY_NONE : contentLength >= 0 ? BODY_LENGTH : BODY_CHUNKED, contentLength >= 0 ? contentLength : 0);
}

/** The RequestHead of an HTTP/2 request: one object shape. */
export function h2Head(method: string, path: string, authority: string, scheme: string, headers: Headers, bodyKind: number, contentLength: number): RequestHead {
  return {
    method,
    path,
    authority,
    absolute: false,
    scheme,
    version: 11,
    headers,
    bodyKind,
    contentLength,
    keepAlive: true,
    connectionTokens: null,
    expectContinue: false,
    upgrade: undefined,
    headEnd: 0,
  };
}
