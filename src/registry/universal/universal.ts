/**
 * Universal registry: a proxy announces its workload when its stream opens. Announcements live
 * in the store under `registry/universal/` with a TTL (an etcd lease / persisted expiry), renewed
 * while the stream lives, so every control-plane replica sees every workload and a restarted
 * control plane keeps endpoints until the lease runs out instead of pushing empty lists.
 */
import type { Store } from '../../store/store.js';
import { DEFAULT_DOMAINS, parseProtocol, serviceAliases, serviceHostname, type DomainSettings, type Endpoint, type Service, type Workload } from '../../model/service.js';
import { ChangeNotifier, type Registry, type RegistryView } from '../registry.js';
import { StoredPrefix } from '../stored-prefix.js';

/** Key prefix of universal announcements. */
export const UNIVERSAL_PREFIX = 'registry/universal/';

/** A workload as a proxy announces it (the same shape as the stream's WorkloadAnnouncement). */
export interface Announcement {
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  address: string;
  services: Array<{ service: string; port: number; protocol?: string; name?: string; targetPort?: number }>;
  portMap?: Record<string, number>;
  role?: 'sidecar' | 'gateway';
  locality?: string;
  /** `disabled`: the proxy has no workload certificate, so auto-mTLS must not pick ISTIO_MUTUAL toward it. Default `istio`. */
  tlsMode?: 'istio' | 'disabled';
  /** `platform`: a platform registry reports the endpoints; this announcement adds only its workload. */
  endpointsFrom?: 'hello' | 'platform';
}

interface Stored {
  proxyId: string;
  announcement: Announcement;
}

/** Options: lease length (the grace period after a stream closes) and host-name domains. */
export interface UniversalOptions {
  ttlMs?: number;
  domains?: DomainSettings;
  /** Timer functions for renewals (tests inject fakes). */
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (h: unknown) => void;
}

/** A live registration: renewed until `close()`, then kept until its lease runs out. */
export interface Registration {
  /** Replaces the announcement (e.g. labels changed). */
  update(a: Announcement): Promise<void>;
  /** Stops renewing; the key expires after the TTL (the grace period). */
  close(): void;
  /** The workload's probe result (protocol 8 `health`); absent: the registration keeps no health. */
  health?(healthy: boolean, message?: string): Promise<void>;
  /** Removes the registration now (protocol 8 `leave`); absent: it goes when the grace period ends. */
  remove?(): Promise<void>;
}

/** The store key of one proxy's announcement. */
export function universalKey(a: Announcement, proxyId: string): string {
  return `${UNIVERSAL_PREFIX}${encodeURIComponent(a.namespace)}/${encodeURIComponent(a.name)}/${encodeURIComponent(proxyId)}`;
}

/** Converts announcements into services, endpoints and workloads. */
export function announcementsView(entries: Iterable<Stored>, domains: DomainSettings = DEFAULT_DOMAINS): RegistryView {
  const services = new Map<string, Service>();
  const endpoints: Endpoint[] = [];
  const workloads: Workload[] = [];
  for (const { proxyId, announcement: a } of entries) {
    workloads.push({ id: `universal/${a.namespace}/${a.name}/${proxyId}`, name: a.name, namespace: a.namespace, labels: a.labels, address: a.address, serviceAccount: a.serviceAccount, hasProxy: true, source: 'universal', ...(a.portMap ? { ports: a.portMap } : {}) });
    if (a.endpointsFrom === 'platform') continue; // the platform's registry (Marathon, ...) reports its service and endpoints
    for (const p of a.services ?? []) {
      const host = serviceHostname(p.service, a.namespace, domains);
      const protocol = parseProtocol(p.protocol);
      let svc = services.get(host);
      if (!svc) {
        svc = { hostname: host, name: p.service, namespace: a.namespace, ...serviceAliases(p.service, a.namespace, domains), ports: [], resolution: 'STATIC', location: 'MESH_INTERNAL', source: 'universal' };
        services.set(host, svc);
      }
      if (!svc.ports.some((x) => x.port === p.port)) {
        svc.ports.push({ name: p.name ?? `${protocol.toLowerCase()}-${p.port}`, port: p.port, protocol });
        svc.ports.sort((x, y) => x.port - y.port);
      }
      const ep: Endpoint = { service: host, servicePort: p.port, address: a.address, port: a.portMap?.[String(p.port)] ?? p.port, labels: a.labels, workload: a.name, namespace: a.namespace, serviceAccount: a.serviceAccount, tlsMode: a.tlsMode === 'disabled' ? 'disabled' : 'istio' };
      if (a.locality) ep.locality = a.locality;
      endpoints.push(ep);
    }
  }
  return { services: [...services.values()], endpoints, workloads };
}

/** The universal registry over a store. */
export class UniversalRegistry implements Registry {
  readonly name = 'universal';
  private notifier = new ChangeNotifier();
  private readonly announcements: StoredPrefix<Stored>;
  private readonly ttlMs: number;
  private readonly domains: DomainSettings;

  constructor(private readonly store: Store, private readonly opts: UniversalOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.domains = opts.domains ?? DEFAULT_DOMAINS;
    this.announcements = new StoredPrefix(store, UNIVERSAL_PREFIX, (value) => {
      const v = JSON.parse(value) as Stored;
      return v && v.announcement && typeof v.proxyId === 'string' ? v : undefined;
    }, () => this.notifier.emit());
  }

  /** Lists current announcements and watches for more. */
  async start(): Promise<void> {
    await this.announcements.start();
  }

  /** Services, endpoints and workloads of every live announcement. */
  view(): RegistryView {
    return announcementsView(this.announcements.entries.values(), this.domains);
  }

  /** Subscribes to changes. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }

  /** Stops watching (announcements stay in the store until their leases run out). */
  async stop(): Promise<void> {
    this.announcements.stop();
  }

  /** Registers a proxy's workload with a lease renewed every TTL/3 until `close()`. */
  async register(proxyId: string, a: Announcement): Promise<Registration> {
    let key = universalKey(a, proxyId);
    const write = async (ann: Announcement) => {
      await this.store.putRaw(key, JSON.stringify({ proxyId, announcement: ann } satisfies Stored), { ttlMs: this.ttlMs });
    };
    await write(a);
    let current = a;
    const si = this.opts.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms).unref());
    const ci = this.opts.clearInterval ?? ((h: unknown) => clearInterval(h as NodeJS.Timeout));
    const timer = si(() => {
      this.store.keepAlive(key).catch(() => write(current).catch(() => {}));
    }, Math.max(100, Math.floor(this.ttlMs / 3)));
    return {
      update: async (next) => {
        const nextKey = universalKey(next, proxyId);
        if (nextKey !== key) await this.store.deleteRaw(key).catch(() => false);
        key = nextKey;
        current = next;
        await write(next);
      },
      close: () => ci(timer),
    };
  }
}
