/**
 * Header conversion between node:http2 header objects and the proxy's Headers list, with the
 * HTTP/2 rules (RFC 9113 8.2.2): connection-specific fields are never forwarded, `te` only
 * as `trailers`, pseudo-headers are written by the proxy itself.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { Headers } from '../http/head.js';

/** Connection-specific fields: an HTTP/2 message carrying one is malformed (RFC 9113 8.2.2). */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Fields never carried into or out of an HTTP/2 message: the connection-specific ones, `host` (`:authority` says it) and `http2-settings`. */
const NOT_CARRIED: ReadonlySet<string> = new Set([...CONNECTION_SPECIFIC, 'host', 'http2-settings']);

/** Whether a field named `n` is never carried across HTTP/2 (see NOT_CARRIED); `te` is the caller's to judge. */
export function notCarried(n: string): boolean {
  // Those names all start with c, k, p, t, u or h: the set is looked up only for these.
  const c = n.charCodeAt(0);
  return (c === 0x63 || c === 0x6b || c === 0x70 || c === 0x74 || c === 0x75 || c === 0x68) && NOT_CARRIED.has(n);
}

/** The regular (non-pseudo) fields of a node header object as a Headers list; `te` kept only as `trailers`. */
export function fromNode(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 0x3a /* : */ || notCarried(name)) continue;
    const v = h[name];
    if (v === undefined) continue;
    if (name === 'te' && String(v).toLowerCase() !== 'trailers') continue;
    if (Array.isArray(v)) for (const x of v) out.add(name, x);
    else out.add(name, String(v));
  }
  return out;
}

/** A node header object from a Headers list (repeated names become arrays), plus `extra` (pseudo-headers). */
export function toNode(h: Headers, extra?: OutgoingHttpHeaders, skipTe = false): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (extra !== undefined) for (const k in extra) out[k] = extra[k];
  const names = h.names;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (notCarried(n)) continue;
    if (n === 'te' && (skipTe || h.values[i]!.toLowerCase() !== 'trailers')) continue;
    const prev = out[n];
    if (prev === undefined) out[n] = h.values[i]!;
    else if (Array.isArray(prev)) prev.push(h.values[i]!);
    else out[n] = [String(prev), h.values[i]!];
  }
  return out;
}

/** Approximate size of a header block as HTTP/2 counts it (name + value + 32 per field). */
export function headerListSize(h: IncomingHttpHeaders): number {
  let n = 0;
  for (const k of Object.keys(h)) {
    const v = h[k];
    if (Array.isArray(v)) for (const x of v) n += k.length + x.length + 32;
    else if (v !== undefined) n += k.length + String(v).length + 32;
  }
  return n;
}
