/**
 * Server-name matching for SNI routing and filter chain selection: exact names, `*` for any,
 * and `*.example.com` for any name under example.com (Istio's sniHosts and Envoy's
 * server_names semantics). Names are compared in lowercase.
 */

/** Whether `name` (lowercase) matches one of `patterns` (lowercase). */
export function serverNameMatches(name: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p === '*' || p === name) return true;
    if (p.startsWith('*.') && name.length > p.length - 1 && name.endsWith(p.slice(1))) return true;
  }
  return false;
}
