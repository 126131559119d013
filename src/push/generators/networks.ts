/**
 * Split-horizon endpoints (Istio's multi-network model): a proxy dials endpoints on its own network
 * directly; endpoints on another network are reached through that network's east-west gateway on
 * 15443 (AUTO_PASSTHROUGH by the SNI the client sends), one gateway endpoint per locality, weighted
 * by the number of healthy endpoints behind it. An endpoint whose network has no known gateway, or
 * that takes no mTLS (the gateway only passes mTLS), is left out: a remote address is never dialled.
 */
import type { Endpoint } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { NETWORK_LABEL, networkGateways, type NetworkGateway } from '../../registry/topology.js';
import type { ProxyInfo } from './generator.js';

const gatewaysBySnapshot = new WeakMap<readonly unknown[], Map<string, NetworkGateway[]>>();

/** The east-west gateways of the snapshot's workloads, by network (computed once per workload list). */
export function gatewaysOf(snap: MeshSnapshot): Map<string, NetworkGateway[]> {
  let g = gatewaysBySnapshot.get(snap.workloads);
  if (!g) gatewaysBySnapshot.set(snap.workloads, (g = networkGateways(snap.workloads)));
  return g;
}

/** The network a proxy is on: its `topology.istio.io/network` label, else the control plane's network. */
export function proxyNetwork(snap: MeshSnapshot, proxy: ProxyInfo): string {
  return proxy.node.labels[NETWORK_LABEL] ?? snap.network;
}

/** True for an east-west gateway proxy: it forwards to its own network only (never through another gateway). */
export function isEastWest(proxy: ProxyInfo): boolean {
  return proxy.node.role === 'gateway' && proxy.node.labels.istio === 'eastwestgateway';
}

function sameNetwork(a: string, b: string | undefined): boolean {
  return a === '' || b === undefined || b === '' || a === b;
}

/** `eps` as a proxy on `network` reaches them (see the file comment). Keeps the list as is when all are local. */
export function splitHorizon(eps: readonly Endpoint[], network: string, gateways: Map<string, NetworkGateway[]>, proxy?: ProxyInfo): Endpoint[] {
  if (eps.every((e) => sameNetwork(network, e.network))) return eps as Endpoint[];
  const out: Endpoint[] = [];
  const groups = new Map<string, Endpoint[]>();
  for (const e of eps) {
    if (sameNetwork(network, e.network)) { out.push(e); continue; }
    if (e.tlsMode !== 'istio' || (proxy && isEastWest(proxy))) continue;
    const key = `${e.network}\u0000${e.locality ?? ''}`;
    const g = groups.get(key) ?? [];
    g.push(e);
    groups.set(key, g);
  }
  for (const group of groups.values()) {
    const first = group[0]!;
    const gws = gateways.get(first.network!) ?? [];
    if (gws.length === 0) continue;
    const live = group.filter((e) => e.health === undefined || e.health === 'healthy');
    const behind = live.reduce((n, e) => n + (e.weight ?? 1), 0);
    const one = <K extends keyof Endpoint>(k: K) => (group.every((e) => JSON.stringify(e[k]) === JSON.stringify(first[k])) ? first[k] : undefined);
    for (const gw of gws) {
      const ep: Endpoint = {
        service: first.service,
        servicePort: first.servicePort,
        address: gw.address,
        port: gw.port,
        labels: (one('labels') as Record<string, string> | undefined) ?? {},
        workload: (one('workload') as string | undefined) ?? first.service.split('.')[0]!,
        namespace: first.namespace,
        tlsMode: 'istio',
        weight: Math.max(1, behind),
        network: first.network!,
        ...(first.cluster && one('cluster') ? { cluster: first.cluster } : {}),
        ...(first.locality ? { locality: first.locality } : {}),
        ...(one('serviceAccount') ? { serviceAccount: first.serviceAccount! } : {}),
        ...(live.length === 0 ? { health: 'unhealthy' as const } : {}),
      };
      out.push(ep);
    }
  }
  return out;
}
