/**
 * VirtualService analyzers: references (gateways, hosts, subsets), hosts claimed twice on the
 * mesh, rules that can never match, matches an earlier rule already takes, hosts a bound Gateway
 * does not serve, and weights that send nothing.
 */
import type { Resource } from '../../api/types/meta.js';
import type { DestinationRuleSpec, GatewaySpec, HTTPMatchRequest, RouteDestination, VirtualServiceSpec } from '../../api/types/networking.js';
import { findService, hostMatches, resolveHost } from '../../model/hosts.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { finding, type AnalysisFinding } from './findings.js';

type VS = Resource<VirtualServiceSpec>;

function nsOf(r: Resource): string {
  return r.metadata.namespace ?? 'default';
}

/** `gw` written in a VirtualService of `ns` -> `ns/name`. */
function gatewayKey(gw: string, ns: string): string {
  return gw.includes('/') ? gw : `${ns}/${gw}`;
}

/** Stable JSON of a match without its name, to compare matches. */
function matchKey(m: unknown): string {
  const { name: _n, ...rest } = (m ?? {}) as Record<string, unknown>;
  const canon = (v: unknown): string => (Array.isArray(v) ? `[${v.map(canon).join(',')}]` : v && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${k}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}` : JSON.stringify(v));
  return canon(rest);
}

function isCatchAll(match: HTTPMatchRequest[] | undefined): boolean {
  if (!match || match.length === 0) return true;
  return match.some((m) => {
    const keys = Object.keys(m).filter((k) => k !== 'name' && (m as Record<string, unknown>)[k] !== undefined);
    return keys.length === 0 || (keys.length === 1 && m.uri !== undefined && 'prefix' in m.uri && m.uri.prefix === '/');
  });
}

/** Subsets by resolved host, from every DestinationRule. */
function subsetsByHost(snap: MeshSnapshot): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const dr of snap.configs('DestinationRule') as Array<Resource<DestinationRuleSpec>>) {
    const host = resolveHost(dr.spec.host, nsOf(dr), snap.domains);
    const set = out.get(host) ?? new Set<string>();
    for (const s of dr.spec.subsets ?? []) set.add(s.name);
    out.set(host, set);
  }
  return out;
}

function checkDestinations(snap: MeshSnapshot, vs: VS, live: boolean, subsets: Map<string, Set<string>>, out: AnalysisFinding[]): void {
  const ns = nsOf(vs);
  for (const section of ['http', 'tls', 'tcp'] as const) {
    (vs.spec[section] ?? []).forEach((rule, i) => {
      const dests: RouteDestination[] = rule.route ?? [];
      dests.forEach((d, j) => {
        const path = ['spec', section, i, 'route', j, 'destination'];
        const host = d.destination?.host;
        if (!host) return;
        const svc = findService(host, ns, snap.serviceByHost, snap.serviceByAlias, snap.domains);
        if (live && !svc && !host.includes('*')) out.push(finding('IST0101', vs, `destination host "${host}" is not a service the mesh knows (no registered workload or ServiceEntry)`, [...path, 'host']));
        const subset = d.destination.subset;
        if (subset) {
          const resolved = svc?.hostname ?? resolveHost(host, ns, snap.domains);
          const defined = subsets.get(resolved);
          if (!defined?.has(subset)) out.push(finding('IST0101', vs, `subset "${subset}" of ${host} is not defined by any DestinationRule${defined ? ` (defined: ${[...defined].join(', ') || 'none'})` : ''}`, [...path, 'subset']));
        }
        if (dests.length > 1 && !(d.weight! > 0)) out.push(finding('BOWLINE_W_ANALYZE_ZERO_WEIGHT', vs, `this destination has weight ${d.weight ?? '(none)'} next to others: it receives no requests`, ['spec', section, i, 'route', j, 'weight']));
      });
    });
  }
}

function checkRules(vs: VS, out: AnalysisFinding[]): void {
  const http = vs.spec.http ?? [];
  let catchAll: number | undefined;
  const seen = new Map<string, number>();
  http.forEach((rule, i) => {
    if (catchAll !== undefined) {
      const noMatch = !rule.match || rule.match.length === 0;
      out.push(finding('IST0130', vs, noMatch ? `rule #${i} is never used: only the last rule may have no match, and rule #${catchAll} before it takes every request` : `rule #${i} is never used: rule #${catchAll} before it takes every request`, ['spec', 'http', i]));
      return;
    }
    (rule.match ?? []).forEach((m, j) => {
      const k = matchKey(m);
      const first = seen.get(k);
      if (first !== undefined) out.push(finding('IST0131', vs, `match #${j} of rule #${i} is never used: rule #${first} has the same match`, ['spec', 'http', i, 'match', j]));
      else seen.set(k, i);
    });
    if (isCatchAll(rule.match)) catchAll = i;
  });
  for (const section of ['tls', 'tcp'] as const) {
    const seenL4 = new Map<string, number>();
    (vs.spec[section] ?? []).forEach((rule, i) => {
      (rule.match ?? []).forEach((m, j) => {
        const k = matchKey(m);
        const first = seenL4.get(k);
        if (first !== undefined) out.push(finding('IST0131', vs, `${section} match #${j} of rule #${i} is never used: ${section} rule #${first} has the same match`, ['spec', section, i, 'match', j]));
        else seenL4.set(k, i);
      });
    });
  }
}

function checkGateways(snap: MeshSnapshot, vs: VS, out: AnalysisFinding[]): void {
  const ns = nsOf(vs);
  const gateways = new Map((snap.configs('Gateway') as Array<Resource<GatewaySpec>>).map((g) => [`${nsOf(g)}/${g.metadata.name}`, g]));
  (vs.spec.gateways ?? []).forEach((gw, i) => {
    if (gw === 'mesh') return;
    const key = gatewayKey(gw, ns);
    const g = gateways.get(key);
    if (!g) {
      out.push(finding('IST0101', vs, `gateway "${gw}" does not exist (looked for Gateway ${key})`, ['spec', 'gateways', i]));
      return;
    }
    const served = (g.spec.servers ?? []).flatMap((s) => s.hosts ?? []).map((h) => {
      const slash = h.indexOf('/');
      return { ns: slash < 0 ? '*' : h.slice(0, slash), host: (slash < 0 ? h : h.slice(slash + 1)).toLowerCase() };
    });
    const missing = (vs.spec.hosts ?? []).filter((h) => !served.some((s) => (s.ns === '*' || s.ns === ns || (s.ns === '.' && nsOf(g) === ns)) && (hostMatches(s.host, h.toLowerCase()) || (h.startsWith('*') && s.host === h.toLowerCase()))));
    if (missing.length) out.push(finding('IST0132', vs, `host(s) ${missing.join(', ')} are not served by Gateway ${key}: requests for them never reach this VirtualService through it`, ['spec', 'hosts']));
  });
}

function meshHosts(snap: MeshSnapshot, vs: VS): string[] {
  const gws = vs.spec.gateways;
  if (gws && gws.length && !gws.includes('mesh')) return [];
  return (vs.spec.hosts ?? []).map((h) => resolveHost(h, nsOf(vs), snap.domains));
}

/** Findings on every VirtualService of the snapshot (`live`: the registry is known, so hosts can be checked). */
export function analyzeVirtualServices(snap: MeshSnapshot, live: boolean): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  const vss = snap.configs('VirtualService') as VS[];
  const subsets = subsetsByHost(snap);
  const byHost = new Map<string, VS[]>();
  for (const vs of vss) {
    checkDestinations(snap, vs, live, subsets, out);
    checkRules(vs, out);
    checkGateways(snap, vs, out);
    for (const h of new Set(meshHosts(snap, vs))) byHost.set(h, [...(byHost.get(h) ?? []), vs]);
  }
  for (const [host, list] of byHost) {
    if (list.length < 2) continue;
    const names = list.map((v) => `${nsOf(v)}/${v.metadata.name}`).join(', ');
    for (const vs of list) out.push(finding('IST0109', vs, `VirtualServices ${names} all claim host ${host} for the mesh: only one of them is used for it`, ['spec', 'hosts']));
  }
  return out;
}
