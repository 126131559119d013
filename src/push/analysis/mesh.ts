/**
 * Analyzers that read the registry and the policies: Gateway ports and selectors against the
 * gateway workloads, service port names, client TLS that does not verify the server, mTLS
 * conflicts (the `authn check` rows), subsets without endpoints, policies that select nothing.
 */
import type { Kind, Resource } from '../../api/types/meta.js';
import type { ClientTLSSettings, DestinationRuleSpec, GatewaySpec } from '../../api/types/networking.js';
import { resolveHost } from '../../model/hosts.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { labelsMatch } from '../generators/scope.js';
import { authnReport } from '../security/authn-check.js';
import { finding, type AnalysisFinding } from './findings.js';

const PORT_NAME = /^(http|http2|https|grpc|grpc-web|tcp|tls|mongo|mysql|redis|udp)(-.*)?$/i;

function nsOf(r: Resource): string {
  return r.metadata.namespace ?? 'default';
}

function gateways(snap: MeshSnapshot, live: boolean, out: AnalysisFinding[]): void {
  for (const g of snap.configs('Gateway') as Array<Resource<GatewaySpec>>) {
    const sel = g.spec.selector ?? {};
    if (Object.keys(sel).length === 0) continue;
    const selected = snap.workloads.filter((w) => labelsMatch(sel, w.labels));
    if (live && selected.length === 0) {
      out.push(finding('IST0101', g, `no workload has the selector's labels ${Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',')}: no gateway serves this Gateway`, ['spec', 'selector']));
      continue;
    }
    // The ports of the services in front of the selected workloads (a gateway reached through a service).
    const names = new Set(selected.map((w) => `${w.name}.${w.namespace}`));
    const ports = new Set<number>();
    for (const svc of snap.services) {
      const eps = snap.endpointsByService.get(svc.hostname) ?? [];
      for (const e of eps) {
        if (!names.has(`${e.workload}.${e.namespace}`)) continue;
        ports.add(e.servicePort);
        ports.add(e.port);
      }
    }
    if (ports.size === 0) continue;
    (g.spec.servers ?? []).forEach((s, i) => {
      if (!ports.has(s.port.number)) out.push(finding('IST0104', g, `port ${s.port.number} is not a port of the gateway workloads' services (${[...ports].sort((a, b) => a - b).join(', ')}): nothing reaches it`, ['spec', 'servers', i, 'port', 'number']));
    });
  }
}

function portNames(snap: MeshSnapshot, out: AnalysisFinding[]): void {
  for (const svc of snap.services) {
    if (svc.source === 'serviceentry') continue; // ServiceEntry ports carry their protocol explicitly
    for (const p of svc.ports) {
      if (PORT_NAME.test(p.name)) continue;
      out.push({ ...finding('IST0118', { kind: 'Service', metadata: { name: svc.name, namespace: svc.namespace } }, `port ${p.port} is named "${p.name}", not <protocol>[-<suffix>] (e.g. http-web): its protocol is ${p.protocol} only because it was given another way`) });
    }
  }
}

function unverified(tls: ClientTLSSettings | undefined): string | undefined {
  if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL')) return undefined;
  if (tls.insecureSkipVerify) return `tls.mode ${tls.mode} with insecureSkipVerify: the server's certificate is not verified at all`;
  if (!tls.caCertificates && !tls.credentialName) return `tls.mode ${tls.mode} without caCertificates (or credentialName): the server is checked only against the system's public roots, not a CA you chose`;
  return undefined;
}

function clientTls(snap: MeshSnapshot, out: AnalysisFinding[]): void {
  for (const dr of snap.configs('DestinationRule') as Array<Resource<DestinationRuleSpec>>) {
    const policies = [{ tp: dr.spec.trafficPolicy, path: ['spec', 'trafficPolicy'] as Array<string | number> }, ...(dr.spec.subsets ?? []).map((s, i) => ({ tp: s.trafficPolicy, path: ['spec', 'subsets', i, 'trafficPolicy'] as Array<string | number> }))];
    for (const { tp, path } of policies) {
      const why = unverified(tp?.tls);
      if (why) out.push(finding('IST0128', dr, `${why} (host ${dr.spec.host})`, [...path, 'tls']));
      (tp?.portLevelSettings ?? []).forEach((pl, i) => {
        const w = unverified(pl.tls);
        if (w) out.push(finding('IST0129', dr, `${w} (host ${dr.spec.host}, port ${pl.port?.number ?? '?'})`, [...path, 'portLevelSettings', i, 'tls']));
      });
    }
  }
}

/** `Kind ns/name` in an authn report source -> that resource, if it is one. */
function sourceResource(snap: MeshSnapshot, source: string): Resource | undefined {
  const m = /^(DestinationRule|PeerAuthentication) ([a-z0-9.-]+)\/([a-z0-9.-]+)/.exec(source);
  if (!m) return undefined;
  return (snap.configs(m[1] as Kind) as Resource[]).find((r) => nsOf(r) === m[2] && r.metadata.name === m[3]);
}

function mtlsConflicts(snap: MeshSnapshot, out: AnalysisFinding[]): void {
  const seen = new Set<string>();
  for (const row of authnReport(snap)) {
    if (row.status !== 'CONFLICT') continue;
    const r = sourceResource(snap, row.client.source) ?? sourceResource(snap, row.server.source);
    const on = r ?? { kind: 'Service', metadata: { name: row.host, namespace: row.clientNamespace } };
    const key = `${on.kind}/${on.metadata.namespace}/${on.metadata.name}/${row.host}:${row.port}/${row.clientNamespace}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(finding('BOWLINE_E_ANALYZE_MTLS_CONFLICT', on, `requests from namespace ${row.clientNamespace} to ${row.host}:${row.port} fail: ${row.message}`));
  }
}

function subsetsWithoutEndpoints(snap: MeshSnapshot, out: AnalysisFinding[]): void {
  for (const dr of snap.configs('DestinationRule') as Array<Resource<DestinationRuleSpec>>) {
    const host = resolveHost(dr.spec.host, nsOf(dr), snap.domains);
    const svc = snap.serviceByHost.get(host) ?? snap.serviceByAlias.get(host);
    if (!svc) continue;
    const eps = snap.endpointsByService.get(svc.hostname) ?? [];
    if (eps.length === 0) continue;
    (dr.spec.subsets ?? []).forEach((s, i) => {
      if (!eps.some((e) => labelsMatch(s.labels ?? {}, e.labels))) out.push(finding('BOWLINE_W_ANALYZE_SUBSET_NO_ENDPOINTS', dr, `subset ${s.name} (${Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')}) matches none of ${svc.hostname}'s ${eps.length} endpoint(s): requests routed to it get 503 (no healthy upstream)`, ['spec', 'subsets', i, 'labels']));
    });
  }
}

function selectors(snap: MeshSnapshot, out: AnalysisFinding[]): void {
  for (const kind of ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication'] as Kind[]) {
    for (const r of snap.configs(kind) as Resource[]) {
      const sel = (r.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels;
      if (!sel || Object.keys(sel).length === 0) continue;
      const ns = nsOf(r);
      const root = ns === snap.mesh.rootNamespace;
      if (!snap.workloads.some((w) => (root || w.namespace === ns) && labelsMatch(sel, w.labels))) {
        out.push(finding('BOWLINE_W_ANALYZE_SELECTS_NOTHING', r, `the selector ${Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',')} matches no workload${root ? '' : ` in namespace ${ns}`}: this ${kind} applies to nothing`, ['spec', 'selector', 'matchLabels']));
      }
    }
  }
}

/** Findings that need the registry (`live`) or read policies; offline only the ones the files alone decide. */
export function analyzeMeshPolicies(snap: MeshSnapshot, live: boolean): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  gateways(snap, live, out);
  clientTls(snap, out);
  if (live) {
    portNames(snap, out);
    mtlsConflicts(snap, out);
    subsetsWithoutEndpoints(snap, out);
    selectors(snap, out);
  }
  return out;
}
