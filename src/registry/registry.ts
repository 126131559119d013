/**
 * A registry reports services, endpoints and workloads from one source (universal
 * self-registration, ServiceEntry/WorkloadEntry, manual registration, later Kubernetes and
 * Marathon). It never decides routing: that is the generators' job.
 */
import type { Endpoint, Service, Workload } from '../model/service.js';
import { withTopology, type Topology } from './topology.js';

/** What one registry knows right now. */
export interface RegistryView {
  services: Service[];
  endpoints: Endpoint[];
  workloads: Workload[];
}

/** How a registry's source answers: reported by /debug/registryz and `bowline_registry_up`. */
export interface RegistryStatus {
  registry: string;
  /** What it reads (a URL, a store prefix). */
  target: string;
  /** The last call to the source worked. */
  healthy: boolean;
  /** Why the last call failed (the last known state is kept meanwhile). */
  error?: string;
  /** Failed calls so far. */
  errors?: number;
  /** When the state was last read in full or in part (ISO time). */
  lastSync?: string;
  /** Each part of the source that cannot be read right now (a Kubernetes resource RBAC forbids ...). */
  failures?: RegistryFailure[];
}

/** One part of a registry's source that cannot be read, by name. */
export interface RegistryFailure {
  /** What could not be read (`pods`, `endpointslices.discovery.k8s.io`). */
  resource: string;
  /** Its namespace (`*` for all); absent for cluster-wide resources. */
  namespace?: string;
  /** The source's short reason (`Forbidden`, `ECONNREFUSED`). */
  reason: string;
  message: string;
}

/** One source of services and workloads. */
export interface Registry {
  /** Short source name: `universal`, `serviceentry`, `manual`. */
  readonly name: string;
  /** Loads the initial state and starts watching; resolves when `view()` is complete. */
  start(): Promise<void>;
  /** The current state (a fresh object each call; callers may keep it). */
  view(): RegistryView;
  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  stop(): Promise<void>;
  /** Whether the source answers (registries that read a remote system). */
  status?(): RegistryStatus;
  /** One status per source, for a registry made of several (remote clusters); wins over `status`. */
  statuses?(): RegistryStatus[];
}

/** Merges several registries' views: services with the same hostname get the union of their ports. */
export function mergeViews(views: RegistryView[]): RegistryView {
  const services = new Map<string, Service>();
  for (const v of views) {
    for (const s of v.services) {
      const have = services.get(s.hostname);
      if (!have) {
        services.set(s.hostname, { ...s, ports: [...s.ports] });
        continue;
      }
      for (const p of s.ports) if (!have.ports.some((q) => q.port === p.port)) have.ports.push(p);
      have.ports.sort((a, b) => a.port - b.port);
    }
  }
  return { services: [...services.values()], endpoints: views.flatMap((v) => v.endpoints), workloads: views.flatMap((v) => v.workloads) };
}

/** A small listener list for registries. */
export class ChangeNotifier {
  private listeners = new Set<() => void>();
  /** Adds a listener; returns its removal. */
  on(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  /** Calls every listener (a throwing listener does not stop the others). */
  emit(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {}
    }
  }
}

/** Several registries seen as one. */
export class AggregateRegistry implements Registry {
  readonly name = 'aggregate';
  private notifier = new ChangeNotifier();
  private unsubs: Array<() => void> = [];
  /** `topology`: this control plane's cluster and network, stamped on endpoints that do not say theirs (topology.ts). */
  constructor(readonly registries: Registry[], private readonly topology?: Topology) {}
  /** Starts every registry. */
  async start(): Promise<void> {
    await Promise.all(this.registries.map((r) => r.start()));
    this.unsubs = this.registries.map((r) => r.onChange(() => this.notifier.emit()));
  }
  /** The merged view. */
  view(): RegistryView {
    const merged = mergeViews(this.registries.map((r) => r.view()));
    return this.topology ? withTopology(merged, this.topology) : merged;
  }
  /** Subscribes to any registry's changes. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }
  /** The status of every registry that reports one. */
  statuses(): RegistryStatus[] {
    return this.registries.flatMap((r) => (r.statuses ? r.statuses() : r.status ? [r.status()] : []));
  }
  /** Stops every registry. */
  async stop(): Promise<void> {
    for (const u of this.unsubs) u();
    await Promise.all(this.registries.map((r) => r.stop()));
  }
}
