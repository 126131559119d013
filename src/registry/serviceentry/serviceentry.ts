/**
 * ServiceEntry and WorkloadEntry registry: services for hosts outside (MESH_EXTERNAL) or inside
 * (MESH_INTERNAL) the mesh, with resolution STATIC (endpoints listed or selected from
 * WorkloadEntries by workloadSelector), DNS (the proxy resolves: a `dns` cluster) or NONE.
 */
import type { Resource } from '../../api/types/meta.js';
import type { ServiceEntrySpec, WorkloadEntrySpec } from '../../api/types/networking.js';
import { parseProtocol, type Endpoint, type Service, type Workload } from '../../model/service.js';
import { startInformer } from '../../store/informer.js';
import type { Store, Watch } from '../../store/store.js';
import { ChangeNotifier, type Registry, type RegistryView } from '../registry.js';

const ISTIO_TLS_LABEL = 'security.istio.io/tlsMode';
const HEALTH_CHECKS_ANNOTATION = 'proxy.istio.io/health-checks-enabled';

/**
 * Istio's rule: a WorkloadEntry whose health comes from a probe (annotation
 * `proxy.istio.io/health-checks-enabled: "true"`) is healthy only while its `Healthy` condition is
 * True -- before the first report it is not; any other entry is healthy.
 */
export function entryHealthy(r: Resource): boolean {
  if (r.metadata.annotations?.[HEALTH_CHECKS_ANNOTATION] !== 'true') return true;
  const conditions = (r as { status?: { conditions?: Array<{ type?: string; status?: string }> } }).status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Healthy' && c.status === 'True');
}

function protocolOf(p: { protocol?: string; name: string }) {
  return parseProtocol(p.protocol ?? p.name.split('-')[0]);
}

/** Converts ServiceEntries (and the WorkloadEntries they select) into services and endpoints. */
export function serviceEntryView(serviceEntries: Resource[], workloadEntries: Resource[]): RegistryView {
  const services: Service[] = [];
  const endpoints: Endpoint[] = [];
  const workloads: Workload[] = workloadEntries.map((r) => {
    const we = r.spec as WorkloadEntrySpec;
    const w: Workload = { id: `workloadentry/${r.metadata.namespace}/${r.metadata.name}`, name: r.metadata.name, namespace: r.metadata.namespace ?? 'default', labels: we.labels ?? {}, address: we.address ?? '', hasProxy: we.labels?.[ISTIO_TLS_LABEL] === 'istio', source: 'serviceentry' };
    if (we.serviceAccount) w.serviceAccount = we.serviceAccount;
    return w;
  });
  for (const r of serviceEntries) {
    const se = r.spec as ServiceEntrySpec;
    const ns = r.metadata.namespace ?? 'default';
    const resolution = se.resolution === 'DNS' || se.resolution === 'DNS_ROUND_ROBIN' ? 'DNS' : se.resolution === 'NONE' ? 'NONE' : 'STATIC';
    const ports = (se.ports ?? []).map((p) => ({ name: p.name, port: p.number, protocol: protocolOf(p) }));
    const sources: Array<{ spec: WorkloadEntrySpec; name: string; healthy?: boolean }> = (se.endpoints ?? []).map((e, i) => ({ spec: e, name: `${r.metadata.name}-${i}` }));
    if (se.workloadSelector?.labels) {
      const sel = se.workloadSelector.labels;
      for (const we of workloadEntries) {
        const spec = we.spec as WorkloadEntrySpec;
        if ((we.metadata.namespace ?? 'default') === ns && Object.entries(sel).every(([k, v]) => spec.labels?.[k] === v)) sources.push({ spec, name: we.metadata.name, healthy: entryHealthy(we) });
      }
    }
    for (const host of se.hosts ?? []) {
      const hostname = host.toLowerCase();
      const svc: Service = { hostname, name: hostname, namespace: ns, aliases: [hostname], localAliases: [], ports, resolution, location: se.location ?? 'MESH_EXTERNAL', source: 'serviceentry' };
      if (se.exportTo) svc.exportTo = se.exportTo;
      if (se.addresses) svc.addresses = se.addresses;
      services.push(svc);
      for (const { spec, name, healthy } of sources) {
        if (!spec.address) continue;
        for (const p of se.ports ?? []) {
          const ep: Endpoint = {
            service: hostname,
            servicePort: p.number,
            address: spec.address,
            port: spec.ports?.[p.name] ?? p.targetPort ?? p.number,
            labels: spec.labels ?? {},
            workload: name,
            namespace: ns,
            tlsMode: spec.labels?.[ISTIO_TLS_LABEL] === 'istio' ? 'istio' : 'disabled',
          };
          if (spec.serviceAccount) ep.serviceAccount = spec.serviceAccount;
          if (spec.weight !== undefined) ep.weight = spec.weight;
          if (spec.locality) ep.locality = spec.locality;
          if (spec.network) ep.network = spec.network;
          if (healthy === false) ep.health = 'unhealthy';
          endpoints.push(ep);
        }
      }
    }
  }
  return { services, endpoints, workloads };
}

/** The ServiceEntry/WorkloadEntry registry, watching both kinds in the store. */
export class ServiceEntryRegistry implements Registry {
  readonly name = 'serviceentry';
  private se = new Map<string, Resource>();
  private we = new Map<string, Resource>();
  private notifier = new ChangeNotifier();
  private watches: Watch[] = [];
  constructor(private readonly store: Store) {}

  /** Lists both kinds and watches them. */
  async start(): Promise<void> {
    for (const [kind, map] of [['ServiceEntry', this.se], ['WorkloadEntry', this.we]] as const) {
      // Listed again whenever the watch expires (startInformer).
      let listed = false;
      this.watches.push(await startInformer(this.store, {
        kinds: [kind],
        onList: (items) => {
          map.clear();
          for (const o of items) map.set(`${o.metadata.namespace}/${o.metadata.name}`, o as unknown as Resource);
          if (listed) this.notifier.emit();
          listed = true;
        },
        onEvent: (ev) => {
          const k = `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
          if (ev.type === 'DELETED') map.delete(k);
          else map.set(k, ev.object as unknown as Resource);
          this.notifier.emit();
        },
      }));
    }
  }

  /** The current services and endpoints. */
  view(): RegistryView {
    return serviceEntryView([...this.se.values()], [...this.we.values()]);
  }

  /** Subscribes to changes. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    for (const w of this.watches) w.close();
  }
}
