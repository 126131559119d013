/**
 * Manual registry: `bowline register SERVICE ADDRESS [PORTNAME:]PORT...` for services on machines
 * without a proxy (what `istioctl register` did). Registrations are raw store keys without a TTL
 * under `registry/manual/NS/SERVICE/ADDRESS`, removed by `bowline register --remove`.
 */
import { DEFAULT_DOMAINS, parseProtocol, serviceAliases, serviceHostname, type DomainSettings, type Endpoint, type Service, type Workload } from '../../model/service.js';
import type { Store } from '../../store/store.js';
import { ChangeNotifier, type Registry, type RegistryView } from '../registry.js';
import { StoredPrefix } from '../stored-prefix.js';

/** Key prefix of manual registrations. */
export const MANUAL_PREFIX = 'registry/manual/';

/** One manual registration: a service instance at an address. */
export interface ManualRegistration {
  service: string;
  namespace: string;
  address: string;
  ports: Array<{ name: string; port: number }>;
  labels?: Record<string, string>;
}

/** Parses `[PORTNAME:]PORT` arguments; an unnamed port is `http` (HTTP), as istioctl register did. Throws on bad input. */
export function parsePorts(args: string[]): Array<{ name: string; port: number }> {
  if (args.length === 0) throw new Error('at least one [PORTNAME:]PORT is required');
  return args.map((a) => {
    const i = a.lastIndexOf(':');
    const name = i < 0 ? 'http' : a.slice(0, i);
    const port = Number(i < 0 ? a : a.slice(i + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${a}": port must be an integer 1-65535`);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(name)) throw new Error(`"${a}": port name must be alphanumeric with dashes`);
    return { name, port };
  });
}

/** The store key of a registration. */
export function manualKey(r: Pick<ManualRegistration, 'namespace' | 'service' | 'address'>): string {
  return `${MANUAL_PREFIX}${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.service)}/${encodeURIComponent(r.address)}`;
}

/** Converts registrations into services and endpoints (no proxy: plaintext endpoints). */
export function manualView(regs: Iterable<ManualRegistration>, domains: DomainSettings = DEFAULT_DOMAINS): RegistryView {
  const services = new Map<string, Service>();
  const endpoints: Endpoint[] = [];
  const workloads: Workload[] = [];
  for (const r of regs) {
    const host = serviceHostname(r.service, r.namespace, domains);
    let svc = services.get(host);
    if (!svc) {
      svc = { hostname: host, name: r.service, namespace: r.namespace, ...serviceAliases(r.service, r.namespace, domains), ports: [], resolution: 'STATIC', location: 'MESH_INTERNAL', source: 'manual' };
      services.set(host, svc);
    }
    workloads.push({ id: `manual/${r.namespace}/${r.service}/${r.address}`, name: `${r.service}-${r.address}`, namespace: r.namespace, labels: r.labels ?? {}, address: r.address, hasProxy: false, source: 'manual' });
    for (const p of r.ports) {
      if (!svc.ports.some((x) => x.port === p.port)) svc.ports.push({ name: p.name, port: p.port, protocol: parseProtocol(p.name.split('-')[0]) });
      endpoints.push({ service: host, servicePort: p.port, address: r.address, port: p.port, labels: r.labels ?? {}, workload: `${r.service}-${r.address}`, namespace: r.namespace, tlsMode: 'disabled' });
    }
    svc.ports.sort((a, b) => a.port - b.port);
  }
  return { services: [...services.values()], endpoints, workloads };
}

/** Writes a registration. */
export async function registerManual(store: Store, r: ManualRegistration): Promise<void> {
  await store.putRaw(manualKey(r), JSON.stringify(r));
}

/** Removes a registration; false when there was none. */
export async function unregisterManual(store: Store, r: Pick<ManualRegistration, 'namespace' | 'service' | 'address'>): Promise<boolean> {
  return store.deleteRaw(manualKey(r));
}

/** The manual registry over a store. */
export class ManualRegistry implements Registry {
  readonly name = 'manual';
  private notifier = new ChangeNotifier();
  private readonly regs: StoredPrefix<ManualRegistration>;
  constructor(store: Store, private readonly domains: DomainSettings = DEFAULT_DOMAINS) {
    this.regs = new StoredPrefix(store, MANUAL_PREFIX, (value) => {
      const r = JSON.parse(value) as ManualRegistration;
      return r && typeof r.service === 'string' && Array.isArray(r.ports) ? r : undefined;
    }, () => this.notifier.emit());
  }

  /** Lists registrations and watches for more. */
  async start(): Promise<void> {
    await this.regs.start();
  }

  /** The current services and endpoints. */
  view(): RegistryView {
    return manualView(this.regs.entries.values(), this.domains);
  }

  /** Subscribes to changes. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    this.regs.stop();
  }
}
