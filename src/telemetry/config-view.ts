/**
 * The parts of a ProxyConfig telemetry reads, indexed once per config version: this node's
 * identity, and per cluster its service and its endpoints' workload facts.
 */
import type { Cluster, NodeInfo, ProxyConfig } from '../proxy-config/index.js';
import { canonicalOf, meshIdOf, nodePeerMetadata, type PeerMetadata } from './peer.js';

/** What a cluster contributes to labels and span names. */
export interface ClusterInfo {
  name: string;
  /** `reviews.default.svc.cluster.local`, or the cluster name when it stands for no service. */
  serviceHost: string;
  serviceName: string;
  serviceNamespace: string;
  port: number | undefined;
  /** Upstream speaks mutual TLS. */
  mtls: boolean;
  /** Endpoints are mesh workloads (EDS), so peer metadata may be sent to them. */
  mesh: boolean;
  /** Endpoint workloads by `address:port`, for destinations that send no peer metadata. */
  endpoints: Map<string, PeerMetadata>;
}

/** The indexed view; rebuilt when the proxy applies a new config. */
export class ConfigView {
  /** This proxy's own workload metadata, with its mesh id (`mesh.meshId`, else its trust domain). */
  readonly self: PeerMetadata;
  /** The service this proxy's workload serves (first of node.services), for inbound destination_service. */
  readonly selfService: { host: string; name: string; namespace: string };
  private readonly clusters = new Map<string, ClusterInfo>();
  /** Listener name -> direction. */
  private readonly directions = new Map<string, 'inbound' | 'outbound' | 'gateway'>();

  constructor(readonly node: NodeInfo, config?: Pick<ProxyConfig, 'clusters' | 'endpoints'> & { listeners?: ProxyConfig['listeners']; mesh?: Pick<ProxyConfig['mesh'], 'meshId'> }) {
    for (const l of config?.listeners ?? []) this.directions.set(l.name, l.direction);
    this.self = nodePeerMetadata(node, meshIdOf(node, config?.mesh));
    const svc = node.services?.[0];
    const host = svc ? svc.replace(/:\d+$/, '') : `${this.self.app}.${node.namespace}.svc.cluster.local`;
    this.selfService = { host, name: host.split('.')[0]!, namespace: host.split('.')[1] ?? node.namespace };
    for (const c of config?.clusters ?? []) this.clusters.set(c.name, clusterInfo(c));
    for (const cla of config?.endpoints ?? []) {
      const ci = this.clusters.get(cla.cluster);
      if (!ci) continue;
      for (const e of cla.endpoints) {
        if (!e.workload && !e.labels) continue;
        const labels = e.labels ?? {};
        ci.endpoints.set(`${e.address}:${e.port}`, {
          workload: e.workload ?? 'unknown',
          namespace: e.namespace ?? ci.serviceNamespace,
          app: labels['app'] ?? 'unknown',
          version: labels['version'] ?? 'unknown',
          ...canonicalOf(labels, e.workload ?? 'unknown'),
          cluster: 'unknown',
          serviceAccount: 'unknown',
          principal: e.identity,
        });
      }
    }
  }

  /** The direction of a listener by name (gateway proxies default to `gateway`, sidecars to `outbound`). */
  direction(listener: string): 'inbound' | 'outbound' | 'gateway' {
    return this.directions.get(listener) ?? (this.node.role === 'gateway' ? 'gateway' : 'outbound');
  }

  /** Info for a cluster name; unknown clusters get a stand-in named after the cluster. */
  cluster(name: string | undefined): ClusterInfo {
    const key = name ?? 'unknown';
    let ci = this.clusters.get(key);
    if (!ci) {
      ci = { name: key, serviceHost: key, serviceName: key, serviceNamespace: 'unknown', port: undefined, mtls: false, mesh: false, endpoints: new Map() };
      if (this.clusters.size < 10_000) this.clusters.set(key, ci);
    }
    return ci;
  }
}

function clusterInfo(c: Cluster): ClusterInfo {
  const s = c.service;
  const mtls = c.tls?.mode === 'ISTIO_MUTUAL' || c.tls?.mode === 'MUTUAL';
  const mesh = c.discovery === 'eds';
  if (s) return { name: c.name, serviceHost: s.host, serviceName: s.name, serviceNamespace: s.namespace, port: s.port, mtls, mesh, endpoints: new Map() };
  // Istio-style names carry the host: outbound|9080|v1|reviews.default.svc.cluster.local
  const parts = c.name.split('|');
  if (parts.length === 4 && parts[3]) {
    const host = parts[3];
    const port = Number(parts[1]) || undefined;
    return { name: c.name, serviceHost: host, serviceName: host.split('.')[0]!, serviceNamespace: host.split('.')[1] ?? 'unknown', port, mtls, mesh, endpoints: new Map() };
  }
  return { name: c.name, serviceHost: c.name, serviceName: c.name, serviceNamespace: 'unknown', port: undefined, mtls, mesh, endpoints: new Map() };
}
