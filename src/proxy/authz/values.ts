import { BlockList, isIP } from 'node:net';

/**
 * The two kinds of value AuthorizationPolicy compares: strings with Istio's wildcard forms
 * (`exact`, `prefix*`, `*suffix`, `*` = any non-empty) and IP blocks (`1.2.3.4`, `10.0.0.0/8`, IPv6).
 * Both compile once into plain functions.
 */

/** A compiled value test; undefined input (no principal, no header) never matches. */
export type ValueTest = (v: string | undefined) => boolean;

/** One Istio string pattern as a test; `ignoreCase` for hosts. */
export function stringPattern(pattern: string, ignoreCase = false): ValueTest {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const norm = ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
  if (p === '*') return (v) => v !== undefined && v.length > 0;
  if (p.endsWith('*')) {
    const prefix = p.slice(0, -1);
    return (v) => v !== undefined && norm(v).startsWith(prefix);
  }
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    return (v) => v !== undefined && norm(v).endsWith(suffix);
  }
  return (v) => v !== undefined && norm(v) === p;
}

/** Any of the patterns. */
export function anyPattern(patterns: string[], ignoreCase = false): ValueTest {
  const tests = patterns.map((p) => stringPattern(p, ignoreCase));
  return (v) => tests.some((t) => t(v));
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`; other addresses unchanged. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** A test for "address inside one of these blocks"; throws on a malformed block (caught at compile). */
export function ipBlocks(blocks: string[]): ValueTest {
  const list = new BlockList();
  for (const b of blocks) {
    const [addr, bits] = b.trim().split('/') as [string, string | undefined];
    const family = isIP(addr);
    if (family === 0) throw new Error(`invalid IP block "${b}"`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const n = Number(bits);
      if (!/^\d+$/.test(bits) || n > (family === 4 ? 32 : 128)) throw new Error(`invalid prefix length in IP block "${b}"`);
      list.addSubnet(addr, n, type);
    }
  }
  return (v) => {
    if (!v) return false;
    const ip = normalizeIp(v);
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
}
