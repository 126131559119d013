/**
 * Protocol detection from a connection's first bytes (Envoy's tls_inspector and
 * http_inspector): a TLS ClientHello, the HTTP/2 connection preface, an HTTP/1.x request
 * line, or anything else (TCP). Client-first protocols only: a server-first protocol (MySQL)
 * sends nothing, so detection ends at the listener's timeout and falls back to TCP; ports
 * declared as TCP are never sniffed at all.
 */
import { looksLikeTls } from '../tls/client-hello.js';

/** What the first bytes are. */
export type Sniffed = 'tls' | 'http2' | 'http1' | 'tcp';

/** The HTTP/2 client connection preface (RFC 9113 3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Longest method name we wait for before deciding "not HTTP/1" (M-SEARCH, PROPPATCH, MKCALENDAR, ...). */
const MAX_METHOD = 16;

/** Decides the protocol from `buf`, or returns undefined when more bytes are needed to tell. */
export function sniff(buf: Buffer): Sniffed | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] === 0x16) return looksLikeTls(buf) ? (buf.length >= 3 ? 'tls' : undefined) : 'tcp';
  // HTTP/2 preface: every byte so far must match.
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.compare(H2_PREFACE, 0, n, 0, n) === 0) return n === H2_PREFACE.length ? 'http2' : undefined;
  // HTTP/1: an upper-case token (the method) followed by a space.
  for (let i = 0; i < buf.length && i <= MAX_METHOD; i++) {
    const c = buf[i]!;
    if (c === 0x20) return i > 0 ? 'http1' : 'tcp';
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d)) return 'tcp';
  }
  return buf.length > MAX_METHOD ? 'tcp' : undefined;
}
