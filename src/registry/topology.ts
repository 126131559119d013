/**
 * Where endpoints run: cluster, network and locality, as Istio derives them. A registry of this
 * control plane reports its own workloads; the endpoints it leaves unstamped are in this control
 * plane's cluster (`bowline up --cluster`) and on the network named by the workload's
 * `topology.istio.io/network` label, else this cluster's network (`--network`). Locality comes from
 * the registry (`bowline proxy --locality`, WorkloadEntry `locality`), else from the labels
 * `topology.kubernetes.io/region`, `topology.kubernetes.io/zone` and `topology.istio.io/subzone`.
 * Endpoints a remote cluster reports keep the cluster and network they came with.
 */
import type { Endpoint, Workload } from '../model/service.js';
import type { RegistryView } from './registry.js';

/** The label naming a workload's (or a gateway's) network. */
export const NETWORK_LABEL = 'topology.istio.io/network';
/** Kubernetes' well-known region and zone labels, and Istio's subzone label. */
export const REGION_LABEL = 'topology.kubernetes.io/region';
/** See REGION_LABEL. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** See REGION_LABEL. */
export const SUBZONE_LABEL = 'topology.istio.io/subzone';

/**
 * This control plane's place in a multi-cluster mesh (`bowline up --cluster --network`). The mesh id
 * (`--mesh-id`) is not a place: it follows the mesh config, and peers must share it (remote/view.ts meshIdMismatch).
 */
export interface Topology {
  /** Cluster id (Istio's `multiCluster.clusterName`; default `Kubernetes`, as Istio). */
  cluster: string;
  /** Default network of this cluster's workloads (Istio's `global.network`); empty: one flat network. */
  network: string;
}

/** Istio's default cluster id. */
export const DEFAULT_CLUSTER = 'Kubernetes';

/** `REGION/ZONE/SUBZONE` from the well-known labels, or undefined when there is no region. */
export function localityFromLabels(labels: Record<string, string>): string | undefined {
  const region = labels[REGION_LABEL];
  if (!region) return undefined;
  const parts = [region, labels[ZONE_LABEL] ?? '', labels[SUBZONE_LABEL] ?? ''];
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('/');
}

/** The network of a workload with these labels in this cluster. */
export function networkOf(labels: Record<string, string>, topology: Topology): string {
  return labels[NETWORK_LABEL] ?? topology.network;
}

/** Stamps cluster, network and locality on endpoints that do not carry them yet. */
export function withTopology(view: RegistryView, topology: Topology): RegistryView {
  const endpoints = view.endpoints.map((e): Endpoint => {
    if (e.cluster !== undefined && e.network !== undefined && e.locality !== undefined) return e;
    const out: Endpoint = { ...e, cluster: e.cluster ?? topology.cluster };
    const network = e.network ?? networkOf(e.labels, topology);
    if (network !== '') out.network = network;
    const locality = e.locality ?? localityFromLabels(e.labels);
    if (locality !== undefined) out.locality = locality;
    return out;
  });
  return { ...view, endpoints };
}

/** Istio's east-west gateway port: cross-network mTLS enters a network here (AUTO_PASSTHROUGH by SNI). */
export const EAST_WEST_PORT = 15443;

/** Where traffic for endpoints on `network` enters it: an east-west gateway's address and its 15443. */
export interface NetworkGateway {
  network: string;
  address: string;
  port: number;
  /** The cluster that reported the gateway (absent: this control plane's own). */
  cluster?: string;
}

/** True for a workload that is its network's east-west gateway: labels `istio=eastwestgateway` and `topology.istio.io/network`. */
export function isNetworkGateway(w: Workload): boolean {
  return w.labels.istio === 'eastwestgateway' && !!w.labels[NETWORK_LABEL] && w.hasProxy;
}

/** The east-west gateways among `workloads`, by network (15443, or the port a gateway bound for it). */
export function networkGateways(workloads: readonly Workload[]): Map<string, NetworkGateway[]> {
  const out = new Map<string, NetworkGateway[]>();
  for (const w of workloads) {
    if (!isNetworkGateway(w)) continue;
    const network = w.labels[NETWORK_LABEL]!;
    const gw: NetworkGateway = { network, address: w.address, port: w.ports?.[String(EAST_WEST_PORT)] ?? EAST_WEST_PORT, ...(w.cluster ? { cluster: w.cluster } : {}) };
    const list = out.get(network) ?? [];
    if (!list.some((g) => g.address === gw.address && g.port === gw.port)) list.push(gw);
    out.set(network, list);
  }
  return out;
}
