/**
 * Kubernetes objects as mesh services, endpoints and workloads. Pure: the registry feeds it the
 * objects its informers hold and gets a view back.
 *
 * - A Service is `name.ns.svc.DOMAIN` (plus the short aliases); its ClusterIPs are its VIPs
 *   (headless: pass-through, no VIP); an ExternalName Service resolves its external name by DNS.
 * - A port's protocol is its `appProtocol`, else Istio's port-name convention (`http`,
 *   `grpc-web-x`, `tcp-db` ...), else UDP for UDP ports, else TCP.
 * - Endpoints come from EndpointSlices (labelled with their Service): ready ones are healthy,
 *   terminating-but-serving ones draining, the others unhealthy. A Service no EndpointSlice names
 *   takes its core/v1 Endpoints instead, when the registry reads them (the fallback where slices
 *   cannot be read): addresses healthy, notReadyAddresses unhealthy.
 * - MeshConfig `discoverySelectors` (any one selecting a namespace's labels) limit the Services,
 *   endpoints and Pods to the namespaces they select; the root namespace (gateways, the control
 *   plane) is always in. Until Namespaces have been read, nothing is filtered.
 * - The root namespace's `topology.istio.io/network` label is the network of every endpoint whose
 *   Pod names none (Istio's way to set a cluster's network). The Pod an endpoint points to
 *   gives labels, service account, workload name and whether a sidecar runs (Istio's
 *   `security.istio.io/tlsMode` label or `sidecar.istio.io/status` annotation); its Node's
 *   topology labels give the locality (region/zone/subzone; the slice's zone wins for the zone),
 *   unless the Pod's `istio-locality` label (`region.zone.subzone`) names it.
 */
import { isIP } from 'node:net';
import { serviceAliases, serviceHostname, type DomainSettings, type Endpoint, type Protocol, type Service, type Workload } from '../../model/service.js';
import type { RegistryView } from '../registry.js';
import { NETWORK_LABEL } from '../topology.js';
import { anySelectorMatches, type LabelSelector } from './label-selector.js';
import type { KubeEndpoints, KubeEndpointSlice, KubeNamespace, KubeNode, KubePod, KubeService, KubeServicePort } from './types.js';

/** What the translation reads. */
export interface KubeObjects {
  services: KubeService[];
  slices: KubeEndpointSlice[];
  pods: KubePod[];
  nodes: KubeNode[];
  /** Namespaces; undefined while they have not been read (nothing is filtered then). */
  namespaces?: KubeNamespace[];
  /** core/v1 Endpoints, for Services no EndpointSlice names (read only as a fallback). */
  endpoints?: KubeEndpoints[];
}

/** How objects become mesh names. */
export interface KubeNaming {
  domains: DomainSettings;
  /** The registry's name (`kubernetes`, `kubernetes-2` ...), the `source` of what it reports. */
  source: string;
  /** MeshConfig `discoverySelectors`: namespaces any of them selects are discovered; none: all. */
  discoverySelectors?: readonly LabelSelector[];
  /** The mesh's root namespace (always discovered; its network label is the cluster's network). */
  rootNamespace?: string;
}

/** Label EndpointSlices carry naming their Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';
const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';
const REGION_LABELS = ['topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/region'];
const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];
const SUBZONE_LABEL = 'topology.istio.io/subzone';
/** A Pod's own locality, `region.zone.subzone` (labels cannot hold `/`), overriding its Node's. */
const POD_LOCALITY_LABEL = 'istio-locality';

/** Istio's port-name prefixes, longest first (`grpc-web` before `grpc`). */
const NAME_PREFIXES: Array<[string, Protocol]> = [
  ['grpc-web', 'GRPC-WEB'], ['http2', 'HTTP2'], ['https', 'HTTPS'], ['http', 'HTTP'], ['grpc', 'GRPC'], ['mongo', 'MONGO'],
  ['tls', 'TLS'], ['tcp', 'TCP'], ['udp', 'UDP'], ['redis', 'TCP'], ['mysql', 'TCP'],
];

/** A Service port's protocol: `appProtocol`, else the name convention, else the transport (UDP or TCP). */
export function portProtocol(p: Pick<KubeServicePort, 'name' | 'protocol' | 'appProtocol'>): Protocol {
  if (p.protocol === 'UDP') return 'UDP';
  const app = p.appProtocol?.toLowerCase();
  if (app) {
    if (app === 'kubernetes.io/h2c') return 'HTTP2';
    if (app === 'kubernetes.io/ws') return 'HTTP';
    if (app === 'kubernetes.io/wss') return 'HTTPS';
    const known = NAME_PREFIXES.find(([n]) => n === app);
    if (known) return known[1];
  }
  const name = p.name?.toLowerCase() ?? '';
  for (const [prefix, proto] of NAME_PREFIXES) if (name === prefix || name.startsWith(`${prefix}-`)) return proto;
  return 'TCP';
}

/** The workload a Pod belongs to: its Deployment (the ReplicaSet's name without the template hash), else its controller, else itself. */
export function workloadName(pod: KubePod): string {
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller) ?? pod.metadata.ownerReferences?.[0];
  if (!owner) return pod.metadata.name;
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -hash.length - 1);
  return owner.name;
}

function first(labels: Record<string, string> | undefined, keys: string[]): string {
  for (const k of keys) if (labels?.[k]) return labels[k]!;
  return '';
}

/** `region/zone/subzone` from a Node's labels (the slice's zone, when given, is the zone); undefined when nothing is known. */
export function localityOf(node: KubeNode | undefined, sliceZone: string | undefined): string | undefined {
  const l = node?.metadata.labels;
  const parts = [first(l, REGION_LABELS), sliceZone || first(l, ZONE_LABELS), l?.[SUBZONE_LABEL] ?? ''];
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.length > 0 ? parts.join('/') : undefined;
}

function hasSidecar(pod: KubePod | undefined): boolean {
  return pod?.metadata.labels?.[TLS_MODE_LABEL] === 'istio' || pod?.metadata.annotations?.[SIDECAR_STATUS_ANNOTATION] !== undefined;
}

/** A core/v1 Endpoints object in the EndpointSlice shape (one slice per subset), for the fallback. */
export function slicesOfEndpoints(e: KubeEndpoints): KubeEndpointSlice[] {
  return (e.subsets ?? []).map((sub, i) => ({
    metadata: { name: `${e.metadata.name}-endpoints-${i}`, ...(e.metadata.namespace ? { namespace: e.metadata.namespace } : {}), labels: { [SERVICE_NAME_LABEL]: e.metadata.name } },
    addressType: 'IPv4',
    ports: (sub.ports ?? []).map((p) => ({ ...(p.name !== undefined ? { name: p.name } : {}), port: p.port })),
    endpoints: [
      ...(sub.addresses ?? []).map((a) => ({ addresses: [a.ip], conditions: { ready: true }, ...(a.nodeName ? { nodeName: a.nodeName } : {}), ...(a.targetRef ? { targetRef: a.targetRef } : {}) })),
      ...(sub.notReadyAddresses ?? []).map((a) => ({ addresses: [a.ip], conditions: { ready: false }, ...(a.nodeName ? { nodeName: a.nodeName } : {}), ...(a.targetRef ? { targetRef: a.targetRef } : {}) })),
    ],
  }));
}

/** Builds the mesh view of the objects. */
export function kubernetesView(all: KubeObjects, naming: KubeNaming): RegistryView {
  const key = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;
  const nsLabels = all.namespaces ? new Map(all.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}])) : undefined;
  const discovered = (ns: string | undefined): boolean => !nsLabels || !naming.discoverySelectors?.length || (ns ?? 'default') === naming.rootNamespace
    || anySelectorMatches(naming.discoverySelectors, nsLabels.get(ns ?? 'default'));
  const objs = {
    services: all.services.filter((o) => discovered(o.metadata.namespace)),
    slices: all.slices.filter((o) => discovered(o.metadata.namespace)),
    pods: all.pods.filter((o) => discovered(o.metadata.namespace)),
    endpoints: (all.endpoints ?? []).filter((o) => discovered(o.metadata.namespace)),
    nodes: all.nodes,
  };
  const clusterNetwork = naming.rootNamespace ? nsLabels?.get(naming.rootNamespace)?.[NETWORK_LABEL] : undefined;
  const pods = new Map(objs.pods.map((p) => [key(p.metadata.namespace, p.metadata.name), p]));
  const nodes = new Map(objs.nodes.map((n) => [n.metadata.name, n]));
  const services: Service[] = [];
  const byKey = new Map<string, { svc: Service; spec: KubeService }>();

  for (const s of [...objs.services].sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)))) {
    const ns = s.metadata.namespace ?? 'default';
    const { aliases, localAliases } = serviceAliases(s.metadata.name, ns, naming.domains);
    const external = s.spec?.type === 'ExternalName';
    const headless = !external && (s.spec?.clusterIP === 'None' || s.spec?.clusterIP === undefined);
    const svc: Service = {
      hostname: serviceHostname(s.metadata.name, ns, naming.domains), name: s.metadata.name, namespace: ns, aliases, localAliases,
      ports: (s.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: portProtocol(p) })).sort((a, b) => a.port - b.port),
      resolution: external ? 'DNS' : headless ? 'NONE' : 'STATIC',
      location: external ? 'MESH_EXTERNAL' : 'MESH_INTERNAL',
      source: naming.source,
    };
    const vips = (s.spec?.clusterIPs ?? (s.spec?.clusterIP ? [s.spec.clusterIP] : [])).filter((a) => a !== 'None' && isIP(a));
    if (!external && vips.length > 0) svc.addresses = vips;
    const exportTo = s.metadata.annotations?.[EXPORT_TO_ANNOTATION];
    if (exportTo) svc.exportTo = exportTo.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
    services.push(svc);
    byKey.set(key(ns, s.metadata.name), { svc, spec: s });
  }

  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  for (const { svc, spec } of byKey.values()) {
    if (spec.spec?.type !== 'ExternalName' || !spec.spec.externalName) continue;
    for (const p of svc.ports) {
      endpoints.push({ service: svc.hostname, servicePort: p.port, address: spec.spec.externalName, port: p.port, labels: {}, workload: svc.name, namespace: svc.namespace, tlsMode: 'disabled', health: 'healthy' });
    }
  }
  // Services no EndpointSlice names take their Endpoints (when the registry reads them).
  const sliced = new Set(objs.slices.map((sl) => key(sl.metadata.namespace, sl.metadata.labels?.[SERVICE_NAME_LABEL] ?? '')));
  const fallback = objs.endpoints.filter((e) => !sliced.has(key(e.metadata.namespace, e.metadata.name))).flatMap(slicesOfEndpoints);
  const slices = [...objs.slices, ...fallback].sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)));
  for (const slice of slices) {
    const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    const owner = svcName ? byKey.get(key(slice.metadata.namespace, svcName)) : undefined;
    if (!owner || owner.spec.spec?.type === 'ExternalName' || slice.addressType === 'FQDN') continue;
    for (const sp of slice.ports ?? []) {
      if (sp.port === undefined) continue;
      const servicePort = (owner.spec.spec?.ports ?? []).find((p) => (p.name ?? '') === (sp.name ?? ''));
      if (!servicePort) continue;
      for (const e of slice.endpoints ?? []) {
        const address = e.addresses?.[0];
        if (!address) continue;
        const id = `${owner.svc.hostname}|${servicePort.port}|${address}|${sp.port}`;
        if (seen.has(id)) continue; // the same endpoint in two slices while the controller moves it
        seen.add(id);
        const c = e.conditions ?? {};
        const pod = e.targetRef?.kind === 'Pod' && e.targetRef.name ? pods.get(key(e.targetRef.namespace ?? slice.metadata.namespace, e.targetRef.name)) : undefined;
        const ep: Endpoint = {
          service: owner.svc.hostname, servicePort: servicePort.port, address, port: sp.port,
          labels: { ...(pod?.metadata.labels ?? {}) },
          workload: pod ? workloadName(pod) : e.targetRef?.name ?? address,
          namespace: owner.svc.namespace,
          tlsMode: hasSidecar(pod) ? 'istio' : 'disabled',
          // `ready` unset means unknown, which consumers read as ready (the API's documented meaning).
          health: c.ready !== false ? 'healthy' : c.terminating && c.serving ? 'draining' : 'unhealthy',
        };
        if (pod) ep.serviceAccount = pod.spec?.serviceAccountName || 'default';
        if (clusterNetwork && !ep.labels[NETWORK_LABEL]) ep.network = clusterNetwork;
        const own = pod?.metadata.labels?.[POD_LOCALITY_LABEL];
        const loc = own ? own.split('.').filter((x) => x !== '').join('/') || undefined : localityOf(nodes.get(e.nodeName ?? pod?.spec?.nodeName ?? ''), e.zone);
        if (loc) ep.locality = loc;
        endpoints.push(ep);
      }
    }
  }

  const workloads: Workload[] = [];
  for (const pod of [...pods.values()].sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)))) {
    const address = pod.status?.podIP;
    if (!address || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const ns = pod.metadata.namespace ?? 'default';
    workloads.push({
      id: `${naming.source}/${ns}/${pod.metadata.name}`, name: workloadName(pod), namespace: ns, labels: { ...(pod.metadata.labels ?? {}) },
      address, serviceAccount: pod.spec?.serviceAccountName || 'default', hasProxy: hasSidecar(pod), source: naming.source,
    });
  }
  return { services, endpoints, workloads };
}
