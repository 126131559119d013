/**
 * A frozen snapshot of the mesh: services, endpoints, workloads, every config resource by kind
 * and the mesh config. Generators read only this. Rebuilding is cheap and keeps the identity of
 * unchanged services and endpoint lists, so per-service caches downstream survive a rebuild.
 */
import type { MeshConfig } from '../api/types/mesh.js';
import type { Kind, Resource } from '../api/types/meta.js';
import { kindNames } from '../api/kinds.js';
import { credentialKey, type Credential } from './credential.js';
import { DEFAULT_DOMAINS, type DomainSettings, type Endpoint, type Service, type Workload } from './service.js';

/** What changed between two snapshots: a config kind, or one of the registry facts. */
export type ChangeKind = Kind | 'services' | 'endpoints' | 'workloads' | 'mesh' | 'credentials';

/** Everything a snapshot is built from. */
export interface SnapshotInput {
  configs: readonly Resource[];
  services: readonly Service[];
  endpoints: readonly Endpoint[];
  workloads: readonly Workload[];
  mesh: MeshConfig;
  domains?: DomainSettings;
  /** TLS credentials from Secrets by `NAMESPACE/NAME` (credentialName); the control plane decodes them. */
  credentials?: ReadonlyMap<string, Credential>;
  /** This control plane's network (`bowline up --network`): the network of proxies that do not name theirs. */
  network?: string;
}

/** The mesh as generators see it. Never mutated after build. */
export interface MeshSnapshot {
  /** Increases by one per rebuild. */
  readonly version: number;
  readonly mesh: MeshConfig;
  readonly domains: DomainSettings;
  /** Sorted by hostname. */
  readonly services: readonly Service[];
  readonly serviceByHost: ReadonlyMap<string, Service>;
  /** Every global alias (FQDN, `name.ns`, extra domains) -> service. */
  readonly serviceByAlias: ReadonlyMap<string, Service>;
  /** Increases whenever the set of services (or any service) changes; stable otherwise (per-service caches key on it). */
  readonly servicesVersion: number;
  /** hostname -> endpoints (identity kept while unchanged). */
  readonly endpointsByService: ReadonlyMap<string, readonly Endpoint[]>;
  readonly workloads: readonly Workload[];
  /** The TLS credential of Secret `namespace/name` (Gateway and DestinationRule `credentialName`), if any. */
  credential(namespace: string, name: string): Credential | undefined;
  /** Every credential by `NAMESPACE/NAME` (identity kept while unchanged). */
  readonly credentialMap: ReadonlyMap<string, Credential>;
  /** Config resources of one kind, sorted by namespace/name. */
  configs(kind: Kind): readonly Resource[];
  /** What differs from the previous snapshot (everything for the first). */
  readonly changed: ReadonlySet<ChangeKind>;
  /** When the change that produced this snapshot was first seen (ms since epoch), for convergence times. */
  readonly changedAt: number;
  /** This control plane's network (empty: one flat network); proxies without a network label are on it. */
  readonly network: string;
}

const ALL: ChangeKind[] = ['services', 'endpoints', 'workloads', 'mesh', 'credentials'];

/** Builds a frozen snapshot; with `previous`, reuses unchanged objects and records what changed. */
export function buildSnapshot(input: SnapshotInput, previous?: MeshSnapshot, changedAt = Date.now()): MeshSnapshot {
  const domains = input.domains ?? DEFAULT_DOMAINS;
  const changed = new Set<ChangeKind>();
  const prevServices = previous?.serviceByHost;
  const services = [...input.services].sort((a, b) => cmp(a.hostname, b.hostname)).map((s) => {
    const old = prevServices?.get(s.hostname);
    if (old && same(old, s)) return old;
    changed.add('services');
    return deepFreeze(s);
  });
  if (previous && previous.services.length !== services.length) changed.add('services');
  const serviceByHost = new Map(services.map((s) => [s.hostname, s]));
  const serviceByAlias = new Map<string, Service>();
  for (const s of services) for (const a of s.aliases) if (!serviceByAlias.has(a)) serviceByAlias.set(a, s);

  const grouped = new Map<string, Endpoint[]>();
  for (const e of input.endpoints) {
    let l = grouped.get(e.service);
    if (!l) grouped.set(e.service, (l = []));
    l.push(e);
  }
  const endpointsByService = new Map<string, readonly Endpoint[]>();
  for (const [host, list] of grouped) {
    list.sort((a, b) => cmp(`${a.address}:${a.port}:${a.servicePort}`, `${b.address}:${b.port}:${b.servicePort}`));
    const old = previous?.endpointsByService.get(host);
    if (old && same(old, list)) endpointsByService.set(host, old);
    else {
      changed.add('endpoints');
      endpointsByService.set(host, deepFreeze(list));
    }
  }
  if (previous && previous.endpointsByService.size !== endpointsByService.size) changed.add('endpoints');

  const byKind = new Map<Kind, Resource[]>();
  for (const r of input.configs) {
    let l = byKind.get(r.kind);
    if (!l) byKind.set(r.kind, (l = []));
    l.push(r);
  }
  const configs = new Map<Kind, readonly Resource[]>();
  for (const [kind, list] of byKind) {
    list.sort((a, b) => cmp(`${a.metadata.namespace ?? ''}/${a.metadata.name}`, `${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    const old = previous?.configs(kind);
    if (old && same(old, list)) configs.set(kind, old);
    else {
      changed.add(kind);
      configs.set(kind, deepFreeze(list));
    }
  }
  if (previous) for (const k of kindNames) {
    if (previous.configs(k).length && !configs.has(k)) changed.add(k);
  }

  const workloads = [...input.workloads].sort((a, b) => cmp(a.id, b.id));
  if (!previous || !same(previous.workloads, workloads)) changed.add('workloads');
  let mesh = input.mesh;
  if (previous && same(previous.mesh, mesh)) mesh = previous.mesh;
  else changed.add('mesh');
  let credentials = input.credentials ?? EMPTY_CREDENTIALS;
  if (previous && sameCredentials(previous.credentialMap, credentials)) credentials = previous.credentialMap;
  else changed.add('credentials');
  if (!previous) for (const k of ALL) changed.add(k);

  const empty: readonly Resource[] = Object.freeze([]);
  const snap: MeshSnapshot = {
    version: (previous?.version ?? 0) + 1,
    servicesVersion: (previous?.servicesVersion ?? 0) + (changed.has('services') || !previous ? 1 : 0),
    mesh: deepFreeze(mesh),
    domains,
    services: Object.freeze(services),
    serviceByHost,
    serviceByAlias,
    endpointsByService,
    workloads: deepFreeze(workloads),
    configs: (k) => configs.get(k) ?? empty,
    credentialMap: credentials,
    credential: (ns, name) => credentials.get(credentialKey(ns, name)),
    changed,
    changedAt,
    network: input.network ?? '',
  };
  return Object.freeze(snap);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Deep equality by JSON, with fast paths: identity, and arrays whose elements are identical. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    let identical = true;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { identical = false; break; }
    if (identical) return true;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

const EMPTY_CREDENTIALS: ReadonlyMap<string, Credential> = new Map();

/** Same keys with the same decoded objects (the controller keeps a Secret's decoding while it is unchanged). */
function sameCredentials(a: ReadonlyMap<string, Credential>, b: ReadonlyMap<string, Credential>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
