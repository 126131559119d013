/**
 * The HTTP/2 rules for which fields cross (RFC 9113 8.2.2): connection-specific fields are never
 * forwarded, `te` only as `trailers` (the callers judge it), pseudo-headers are written by the
 * proxy itself.
 */

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
