/**
 * What a proxy may see: services visible to its namespace (exportTo), narrowed by the Sidecar
 * resource's egress hosts; and which Sidecar, DestinationRule and VirtualService apply.
 */
import type { Resource } from '../../api/types/meta.js';
import type { DestinationRuleSpec, SidecarSpec, VirtualServiceSpec } from '../../api/types/networking.js';
import { hostMatches, hostSelectsService, resolveHost } from '../../model/hosts.js';
import type { Service } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyInfo } from './generator.js';

/** True when every label of `selector` is on `labels`. */
export function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** True when a resource exported to `exportTo` from `fromNs` is visible in `ns`. */
export function exportedTo(exportTo: readonly string[] | undefined, fromNs: string, ns: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || e === ns || (e === '.' && fromNs === ns));
}

/** The Sidecar resource that applies to the proxy: workload-selected, then namespace default, then root default. */
export function sidecarFor(snap: MeshSnapshot, proxy: ProxyInfo): Resource<SidecarSpec> | undefined {
  const all = snap.configs('Sidecar') as Resource<SidecarSpec>[];
  const ns = proxy.node.namespace;
  const inNs = all.filter((s) => s.metadata.namespace === ns);
  return (
    inNs.find((s) => s.spec.workloadSelector?.labels && labelsMatch(s.spec.workloadSelector.labels, proxy.node.labels)) ??
    inNs.find((s) => !s.spec.workloadSelector) ??
    all.find((s) => s.metadata.namespace === snap.mesh.rootNamespace && !s.spec.workloadSelector)
  );
}

/** The scope key of a sidecar's outbound output: its namespace and the Sidecar resource that applies. */
export function outboundScope(snap: MeshSnapshot, proxy: ProxyInfo): string {
  const sc = sidecarFor(snap, proxy);
  return `${proxy.node.namespace}|${sc ? `${sc.metadata.namespace}/${sc.metadata.name}` : ''}`;
}

/** Istio's outboundTrafficPolicy mode for this proxy: its Sidecar resource's, else the mesh's (default ALLOW_ANY).
 *  Gateways never pass through, so for them it is always REGISTRY_ONLY's answer where it matters. */
export function outboundMode(snap: MeshSnapshot, proxy: ProxyInfo): 'ALLOW_ANY' | 'REGISTRY_ONLY' {
  const sc = proxy.node.role === 'gateway' ? undefined : sidecarFor(snap, proxy);
  return sc?.spec.outboundTrafficPolicy?.mode ?? snap.mesh.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
}

/** Services the proxy may call: exported to its namespace and allowed by the Sidecar's egress hosts. */
export function visibleServices(snap: MeshSnapshot, proxy: ProxyInfo): Service[] {
  const ns = proxy.node.namespace;
  const sc = proxy.node.role === 'gateway' ? undefined : sidecarFor(snap, proxy);
  const egress = sc?.spec.egress?.flatMap((e) => e.hosts) ?? ['*/*'];
  const scNs = sc?.metadata.namespace ?? ns;
  return snap.services.filter((svc) => exportedTo(svc.exportTo, svc.namespace, ns) && egress.some((h) => egressAllows(h, scNs, svc)));
}

function egressAllows(entry: string, sidecarNs: string, svc: Service): boolean {
  const slash = entry.indexOf('/');
  const nsPart = slash < 0 ? '*' : entry.slice(0, slash);
  const host = (slash < 0 ? entry : entry.slice(slash + 1)).toLowerCase();
  if (nsPart === '~') return false;
  if (nsPart !== '*' && (nsPart === '.' ? sidecarNs : nsPart) !== svc.namespace) return false;
  return host === '*' || svc.aliases.some((a) => hostMatches(host, a)) || svc.localAliases.some((a) => hostMatches(host, a));
}

/** The DestinationRule for a service as seen from namespace `ns`: the proxy's namespace first, then the service's, then the root. */
export function destinationRuleFor(snap: MeshSnapshot, svc: Service, ns: string): Resource<DestinationRuleSpec> | undefined {
  const candidates = (snap.configs('DestinationRule') as Resource<DestinationRuleSpec>[]).filter((dr) => {
    const drNs = dr.metadata.namespace ?? 'default';
    if (!exportedTo(dr.spec.exportTo, drNs, ns)) return false;
    return hostSelectsService(resolveHost(dr.spec.host, drNs, snap.domains), drNs, svc);
  });
  if (candidates.length === 0) return undefined;
  const exact = (dr: Resource<DestinationRuleSpec>) => !dr.spec.host.startsWith('*');
  const rank = (dr: Resource<DestinationRuleSpec>) => {
    const drNs = dr.metadata.namespace;
    const nsRank = drNs === ns ? 0 : drNs === svc.namespace ? 1 : drNs === snap.mesh.rootNamespace ? 2 : 3;
    return nsRank * 2 + (exact(dr) ? 0 : 1);
  };
  return [...candidates].sort((a, b) => rank(a) - rank(b) || byAge(a, b))[0];
}

/** Orders resources oldest first (creationTimestamp, then namespace/name), as Istio resolves conflicts. */
export function byAge(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = `${a.metadata.namespace}/${a.metadata.name}`;
  const nb = `${b.metadata.namespace}/${b.metadata.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** VirtualServices bound to the mesh (sidecars) that name `svc`, visible from `ns`; exact hosts before wildcards, oldest first. */
export function meshVirtualServicesFor(snap: MeshSnapshot, svc: Service, ns: string): Resource<VirtualServiceSpec>[] {
  const out: Array<{ vs: Resource<VirtualServiceSpec>; wildcard: boolean }> = [];
  for (const vs of snap.configs('VirtualService') as Resource<VirtualServiceSpec>[]) {
    const vsNs = vs.metadata.namespace ?? 'default';
    const gws = vs.spec.gateways;
    if (gws && gws.length && !gws.includes('mesh')) continue;
    if (!exportedTo(vs.spec.exportTo, vsNs, ns)) continue;
    let hit = false;
    let wildcard = true;
    for (const h of vs.spec.hosts ?? []) {
      if (hostSelectsService(resolveHost(h, vsNs, snap.domains), vsNs, svc)) {
        hit = true;
        if (!h.includes('*')) wildcard = false;
      }
    }
    if (hit) out.push({ vs, wildcard });
  }
  return out.sort((a, b) => Number(a.wildcard) - Number(b.wildcard) || byAge(a.vs, b.vs)).map((x) => x.vs);
}
