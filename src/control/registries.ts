/**
 * The registries `bowline up` reads services and workloads from: universal (proxies'
 * announcements), ServiceEntry/WorkloadEntry, manual (`bowline register`), each `--marathon`
 * and each Kubernetes cluster, behind one AggregateRegistry with this cluster's topology.
 */
import type { MeshConfig } from '../api/types/mesh.js';
import type { DomainSettings } from '../model/service.js';
import { KubernetesRegistry } from '../registry/kubernetes/kubernetes.js';
import type { LabelSelector } from '../registry/kubernetes/label-selector.js';
import { ManualRegistry } from '../registry/manual/manual.js';
import { MarathonRegistry } from '../registry/marathon/marathon.js';
import { AggregateRegistry, mergeViews, type Registry, type RegistryStatus } from '../registry/registry.js';
import { RemoteClusters } from '../registry/remote/clusters.js';
import { ServiceEntryRegistry } from '../registry/serviceentry/serviceentry.js';
import { DEFAULT_CLUSTER, withTopology } from '../registry/topology.js';
import { UniversalRegistry } from '../registry/universal/universal.js';
import type { Store, StoredObject } from '../store/store.js';
import type { Registry as MetricsRegistry } from '../telemetry/metrics/registry.js';

/** One Marathon to discover services from (`bowline up --marathon URL`). */
export interface MarathonSource {
  url: string;
  tokenFile?: string;
  /** Label holding the service name (default `istio`; `''`: the app id's last segment). */
  serviceLabel?: string;
  /** Mesos-DNS domains (default marathon.mesos, marathon.slave.mesos). */
  mesosDomains?: string[];
}

/** One Kubernetes cluster to discover services from (`bowline up --kubeconfig FILE`, or its in-cluster account). */
export interface KubernetesSource {
  /** Kubeconfig file; absent: the in-cluster service account. */
  kubeconfig?: string;
  /** Only these namespaces (default all). */
  namespaces?: string[];
  /** The cluster's DNS domain for its hosts `name.ns.svc.DOMAIN` (default the control plane's cluster domain). */
  clusterDomain?: string;
}

/** What the registries are built from. */
export interface RegistrySettings {
  store: Store;
  domains: DomainSettings;
  /** The mesh config at start: the root namespace and `discoverySelectors` of the Kubernetes registries. */
  mesh: MeshConfig;
  /** Lease of a universal registration (how long a workload outlives its stream). */
  registrationTtlMs: number;
  cluster?: string;
  network?: string;
  marathon?: MarathonSource[];
  kubernetes?: KubernetesSource[];
  /** Unseals a stored Secret's data (remote cluster Secrets). */
  openSecret(obj: StoredObject): Record<string, string>;
  /** The roots this mesh trusts (PEM; empty without a CA): a remote cluster under another root is refused. */
  localRoots(): string;
  /** This control plane's mesh id (the mesh config's, src/control/mesh.ts): a remote Bowline of another mesh is refused. */
  localMeshId(): string;
  /** How long a remote cluster that stopped answering keeps its endpoints (default 5 minutes). */
  remoteEndpointGraceMs?: number;
  log(line: string): void;
}

/** The built registries: the aggregate the mesh controller reads, and the universal one the push server feeds. */
export interface Registries {
  registry: AggregateRegistry;
  universal: UniversalRegistry;
  /** Passes a new mesh config's `discoverySelectors` to the Kubernetes registries. */
  meshChanged(m: MeshConfig): void;
  /** This cluster's own view, what GET /v1/registry serves: no remote clusters, no ServiceEntries (config stays per cluster, as in Istio). */
  served: Pick<Registry, 'view' | 'onChange'>;
  /** The remote clusters (remote cluster Secrets, `bowline cluster add`). */
  clusters: RemoteClusters;
  topology: { cluster: string; network: string };
}

/** MeshConfig `discoverySelectors` (validated by the mesh config's schema), or undefined. */
function discoverySelectorsOf(m: MeshConfig): LabelSelector[] | undefined {
  return Array.isArray(m['discoverySelectors']) ? (m['discoverySelectors'] as LabelSelector[]) : undefined;
}

/** Lease of a universal registration: how long a workload outlives its stream (env BOWLINE_REGISTRATION_TTL_MS, default 30 s). */
export function registrationTtl(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.BOWLINE_REGISTRATION_TTL_MS);
  return Number.isFinite(v) && v > 0 ? v : 30_000;
}

/** Builds every registry (not started: the mesh controller starts the aggregate). */
export function buildRegistries(s: RegistrySettings): Registries {
  const { domains } = s;
  const sourceLog = (level: string, line: string) => { if (level !== 'debug' || process.env.BOWLINE_DEBUG) s.log(line); };
  const universal = new UniversalRegistry(s.store, { domains, ttlMs: s.registrationTtlMs });
  const marathons = (s.marathon ?? []).map((m, i, all) => new MarathonRegistry({
    url: m.url,
    name: all.length > 1 ? `marathon-${i + 1}` : 'marathon',
    domains,
    ...(m.tokenFile ? { tokenFile: m.tokenFile } : {}),
    ...(m.serviceLabel !== undefined ? { serviceLabel: m.serviceLabel } : {}),
    ...(m.mesosDomains ? { mesosDomains: m.mesosDomains } : {}),
    log: sourceLog,
  }));
  const kubernetes = (s.kubernetes ?? []).map((k, i, all) => new KubernetesRegistry({
    name: all.length > 1 ? `kubernetes-${i + 1}` : 'kubernetes',
    ...(k.kubeconfig ? { kubeconfig: k.kubeconfig } : {}),
    ...(k.namespaces && k.namespaces.length > 0 ? { namespaces: k.namespaces } : {}),
    domains: k.clusterDomain ? { ...domains, clusterDomain: k.clusterDomain } : domains,
    rootNamespace: s.mesh.rootNamespace,
    ...(discoverySelectorsOf(s.mesh) ? { discoverySelectors: discoverySelectorsOf(s.mesh)! } : {}),
    log: sourceLog,
  }));
  const topology = { cluster: s.cluster || DEFAULT_CLUSTER, network: s.network ?? '' };
  const own = [universal, new ManualRegistry(s.store, domains), ...marathons, ...kubernetes];
  const local = new AggregateRegistry([...own, new ServiceEntryRegistry(s.store)], topology);
  const served = { view: () => withTopology(mergeViews(own.map((r) => r.view())), topology), onChange: (fn: () => void) => local.onChange(fn) };
  const clusters = new RemoteClusters({ store: s.store, namespace: s.mesh.rootNamespace, ownCluster: topology.cluster, openSecret: s.openSecret, localRoots: s.localRoots, localMeshId: s.localMeshId, domains,
    ...(s.remoteEndpointGraceMs !== undefined ? { graceMs: s.remoteEndpointGraceMs } : {}), log: s.log });
  const registry = new AggregateRegistry([local, clusters]);
  return { registry, universal, served, clusters, topology, meshChanged: (m) => { for (const k of kubernetes) k.setDiscoverySelectors(discoverySelectorsOf(m)); } };
}

/** `bowline_registry_up` and `bowline_registry_errors_total` for registries that read remote systems (Marathon ...). */
export function registryHealthMetrics(metrics: MetricsRegistry, statuses: () => RegistryStatus[]): void {
  const up = metrics.gauge({ name: 'bowline_registry_up', help: "1 when the registry's source answered its last call.", labelNames: ['registry'] });
  const errors = metrics.counter({ name: 'bowline_registry_errors_total', help: "Failed calls to a registry's source.", labelNames: ['registry'] });
  metrics.onCollect(() => {
    for (const st of statuses()) {
      up.labels(st.registry).set(st.healthy ? 1 : 0);
      errors.labels(st.registry).value = st.errors ?? 0;
    }
  });
}
