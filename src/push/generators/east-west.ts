/**
 * East-west gateways (Istio's multi-network pattern): a Gateway server with `tls.mode:
 * AUTO_PASSTHROUGH` (port 15443, `protocol: TLS`, hosts `*.local`) forwards a client's mTLS
 * connection, still encrypted, to a local endpoint of the service its SNI names
 * (`outbound_.PORT_.SUBSET_.HOST`, what sidecars send on ISTIO_MUTUAL). The proxy derives the
 * cluster from the SNI; the chain's server names are the server's hosts, so an SNI outside them
 * matches no chain. Istio's legacy `.global` names (`outbound_.PORT_._.NAME.NS.global`, the seed's
 * hand-written ServiceEntries) are routed as the local `NAME.NS.svc.DOMAIN` when a host of the
 * server matches the `.global` name (the old multicluster gateway's `*.global`).
 */
import { hostMatches } from '../../model/hosts.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { FilterChain, TcpRoute } from '../../proxy-config/types.js';
import type { BoundServer } from './gateways.js';
import type { ProxyInfo } from './generator.js';
import { outboundCluster } from './http-route.js';
import { destinationRuleFor, visibleServices } from './scope.js';
import { istioMtlsSni } from '../security/mtls.js';

/** True for a Gateway server that passes mTLS through by SNI. */
export function isAutoPassthrough(b: BoundServer): boolean {
  return b.server.tls?.mode === 'AUTO_PASSTHROUGH';
}

/** `.global` routes: for each local service `NAME.NS.svc.DOMAIN` whose `NAME.NS.global` matches a server host, its ports and subsets. */
function legacyGlobalRoutes(snap: MeshSnapshot, proxy: ProxyInfo, hosts: string[]): TcpRoute[] {
  const routes: TcpRoute[] = [];
  const local = `.svc.${snap.domains.clusterDomain}`;
  for (const svc of visibleServices(snap, proxy)) {
    if (!svc.hostname.endsWith(local) || svc.location !== 'MESH_INTERNAL') continue;
    const global = `${svc.name}.${svc.namespace}.global`;
    if (!hosts.some((h) => hostMatches(h, global))) continue;
    const subsets = [undefined, ...(destinationRuleFor(snap, svc, proxy.node.namespace)?.spec.subsets ?? []).map((s) => s.name)];
    for (const port of svc.ports) {
      for (const subset of subsets) {
        routes.push({ match: { sniHosts: [istioMtlsSni(port.port, subset, global)] }, destinations: [{ cluster: outboundCluster(port.port, subset, svc.hostname), weight: 100 }] });
      }
    }
  }
  return routes;
}

/** The filter chain of an AUTO_PASSTHROUGH server. */
export function autoPassthroughChain(snap: MeshSnapshot, proxy: ProxyInfo, b: BoundServer): FilterChain {
  const hosts = b.hosts;
  const chain: FilterChain = {
    name: `auto-passthrough.${b.server.port.number}.${b.index}.${b.gateway}`,
    // The SNI is `outbound_.PORT_.SUBSET_.HOST`: a host matches as its suffix (`*.local` as is, `a.b` as `*.a.b`).
    match: hosts.includes('*') ? { transportProtocol: 'tls' } : { transportProtocol: 'tls', serverNames: hosts.map((h) => (h.startsWith('*.') ? h : `*.${h}`)) },
    tcp: { routes: legacyGlobalRoutes(snap, proxy, hosts), autoPassthrough: true, statPrefix: `auto-passthrough.${b.server.port.number}` },
  };
  return chain;
}
