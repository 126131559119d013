/**
 * Hashing for consistent-hash load balancing: a 32-bit FNV-1a with a murmur3 finalizer
 * (good spread for short similar keys), and the cookie helpers the cookie policy needs.
 */

/** A well-mixed 32-bit hash of a string. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The value of cookie `name` in a Cookie header (quotes removed), or undefined. */
export function cookieFromHeader(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

/** A Set-Cookie header value as Envoy issues it for cookie hashing (ttl 0: a session cookie). */
export function hashCookieHeader(name: string, value: string, path: string | undefined, ttlMs: number): string {
  let s = `${name}="${value}"`;
  if (ttlMs > 0) s += `; Max-Age=${Math.max(1, Math.floor(ttlMs / 1000))}`;
  if (path) s += `; Path=${path}`;
  return s + '; HttpOnly';
}
