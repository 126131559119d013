/**
 * What the mesh knows about services and workloads, as the registries report them. Plain,
 * frozen data: registries produce it, the snapshot indexes it, generators read it.
 */

/** Istio protocols of a service port, upper case. */
export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'HTTPS' | 'TLS' | 'TCP' | 'GRPC-WEB' | 'MONGO' | 'UDP';

/** One port of a service. */
export interface ServicePort {
  /** Port name (`http`, `grpc`, ...). */
  name: string;
  /** The port clients call. */
  port: number;
  protocol: Protocol;
}

/** A service: a host name with ports, wherever it came from. */
export interface Service {
  /** Fully qualified host, e.g. `reviews.default.svc.cluster.local` or a ServiceEntry host. */
  hostname: string;
  /** Short name (`reviews`); for ServiceEntry hosts the host itself. */
  name: string;
  namespace: string;
  /** Every host name the service answers to, `hostname` first; short forms valid only in `namespace` are in `localAliases`. */
  aliases: string[];
  /** Names that resolve only from inside `namespace` (`reviews`). */
  localAliases: string[];
  ports: ServicePort[];
  /** STATIC: endpoint addresses; DNS: the proxy resolves; NONE: pass-through to the original destination. */
  resolution: 'STATIC' | 'DNS' | 'NONE';
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** Which registry reported it: `universal`, `serviceentry`, `manual`. */
  source: string;
  /** Namespaces that may see the service (`*` all, `.` own). Default all. */
  exportTo?: string[];
  /** Virtual IPs / CIDRs (ServiceEntry addresses). */
  addresses?: string[];
  /** The virtual IP the control plane allocated for a service without `addresses` (Istio's auto-allocation; src/mesh/vips.ts). */
  vip?: string;
}

/** One endpoint of one service port. */
export interface Endpoint {
  /** The service's `hostname`. */
  service: string;
  /** The service port this endpoint serves. */
  servicePort: number;
  /** IP address, or a DNS name for DNS-resolved services. */
  address: string;
  /** Port to dial: the destination proxy's inbound port, or the app's port when it has no proxy. */
  port: number;
  labels: Record<string, string>;
  /** Workload name and namespace (telemetry, authorization). */
  workload: string;
  namespace: string;
  serviceAccount?: string;
  /** `istio` when a Bowline proxy terminates traffic for the endpoint. */
  tlsMode: 'istio' | 'disabled';
  weight?: number;
  locality?: string;
  health?: 'healthy' | 'unhealthy' | 'draining';
  /** The cluster that reported the endpoint (`bowline up --cluster`, or a remote cluster's name). */
  cluster?: string;
  /** The network the endpoint's address is reachable on (`topology.istio.io/network`); absent: every network. */
  network?: string;
}

/** A workload (a proxy's app, a WorkloadEntry, a manual registration). */
export interface Workload {
  /** Unique id within the registries (`universal/default/reviews-v1/proxy-id`). */
  id: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  address: string;
  serviceAccount?: string;
  /** Has a Bowline proxy (sidecar or gateway). */
  hasProxy: boolean;
  source: string;
  /** Logical port -> port bound where it differs (a gateway's `--bind-port 15443=0`): where peers dial it. */
  ports?: Record<string, number>;
  /** The cluster that reported the workload (remote clusters' east-west gateways). */
  cluster?: string;
}

/** Host-name domains: the cluster domain (default cluster.local) and any extra ones (e.g. marathon.slave.mesos). */
export interface DomainSettings {
  clusterDomain: string;
  extraDomains: string[];
}

/** The default domains: `cluster.local` and no extras. */
export const DEFAULT_DOMAINS: DomainSettings = { clusterDomain: 'cluster.local', extraDomains: [] };

/** The fully qualified host of service `name` in `namespace`. */
export function serviceHostname(name: string, namespace: string, domains: DomainSettings = DEFAULT_DOMAINS): string {
  return `${name}.${namespace}.svc.${domains.clusterDomain}`;
}

/** The host names of a registry service: global aliases (FQDN first) and names valid only in its namespace. */
export function serviceAliases(name: string, namespace: string, domains: DomainSettings = DEFAULT_DOMAINS): { aliases: string[]; localAliases: string[] } {
  const aliases = [serviceHostname(name, namespace, domains)];
  for (const d of domains.extraDomains) aliases.push(`${name}.${namespace}.svc.${d}`);
  aliases.push(`${name}.${namespace}.svc`, `${name}.${namespace}`);
  return { aliases, localAliases: [name] };
}

/** Normalises a protocol name (any case, `grpc-web`) to an Istio protocol; unknown names are TCP. */
export function parseProtocol(p: string | undefined): Protocol {
  const u = (p ?? 'HTTP').toUpperCase();
  const known: Protocol[] = ['HTTP', 'HTTP2', 'GRPC', 'HTTPS', 'TLS', 'TCP', 'GRPC-WEB', 'MONGO', 'UDP'];
  return (known as string[]).includes(u) ? (u as Protocol) : 'TCP';
}

/** True for protocols a proxy routes as HTTP (VirtualService `http` rules). */
export function isHttpProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB';
}
