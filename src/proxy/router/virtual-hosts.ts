/**
 * Virtual host lookup by authority, in Envoy's order: exact domain (with the port as sent,
 * then without it), then `*.suffix` wildcards (longest first), then `prefix*` wildcards
 * (longest first), then `*`. Domains compare case-insensitively.
 */

interface Wildcard<T> { part: string; value: T }

/** A domain table built once; `lookup` is the hot path. */
export class VirtualHostTable<T> {
  private readonly exact = new Map<string, T>();
  private readonly suffixes: Array<Wildcard<T>> = [];
  private readonly prefixes: Array<Wildcard<T>> = [];
  private any: T | undefined;

  /** Adds a host's domains; the first host to claim a domain keeps it. */
  add(domains: string[], value: T): void {
    for (const raw of domains) {
      const d = raw.toLowerCase();
      if (d === '*') { this.any ??= value; continue; }
      if (d.startsWith('*')) { this.suffixes.push({ part: d.slice(1), value }); continue; }
      if (d.endsWith('*')) { this.prefixes.push({ part: d.slice(0, -1), value }); continue; }
      if (!this.exact.has(d)) this.exact.set(d, value);
    }
    this.suffixes.sort((a, b) => b.part.length - a.part.length);
    this.prefixes.sort((a, b) => b.part.length - a.part.length);
  }

  /** The host serving this authority, or undefined. */
  lookup(authority: string): T | undefined {
    const a = hasUpper(authority) ? authority.toLowerCase() : authority;
    let v = this.exact.get(a);
    if (v !== undefined) return v;
    const host = stripPort(a);
    if (host !== a) {
      v = this.exact.get(host);
      if (v !== undefined) return v;
    }
    for (const w of this.suffixes) {
      if ((a.length > w.part.length && a.endsWith(w.part)) || (host.length > w.part.length && host.endsWith(w.part))) return w.value;
    }
    for (const w of this.prefixes) {
      if (a.length > w.part.length && a.startsWith(w.part)) return w.value;
    }
    return this.any;
  }
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/** `host:port` -> `host`; `[::1]:80` -> `[::1]`; a bare host or IPv6 literal is returned unchanged. */
export function stripPort(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return authority;
  const bracket = authority.lastIndexOf(']');
  if (bracket > colon) return authority;
  if (authority[0] !== '[' && authority.indexOf(':') !== colon) return authority; // bare IPv6
  return authority.slice(0, colon);
}

/** The port written in an authority, or undefined. */
export function authorityPort(authority: string): number | undefined {
  const host = stripPort(authority);
  if (host.length === authority.length) return undefined;
  const p = Number(authority.slice(host.length + 1));
  return Number.isInteger(p) ? p : undefined;
}
