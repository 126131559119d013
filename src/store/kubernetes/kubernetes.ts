/**
 * The store on a Kubernetes apiserver (`bowline up --config-source kubernetes`; docs/store.md,
 * docs/platforms/kubernetes.md): Istio resources are Istio's CRDs in their namespaces, the
 * `istio` ConfigMap and credential Secrets are core objects, and Bowline's raw keys are
 * Secrets, ConfigMaps and Leases of the root namespace (raw-keys.ts). Revisions are the
 * apiserver's resourceVersions (etcd's revisions: one store-wide, increasing sequence).
 *
 * A watch without `fromRevision` starts at the newest revision this store has seen (its own
 * writes and reads), so it may replay a change another writer made just before; a watch of
 * every kind merges one watch per kind, ordered within a kind. TTL keys are deleted by every
 * replica's sweeper once renewTime + TTL has passed (a conditional delete: one wins).
 */
import { systemClock } from '../clock.js';
import { isStoreError, StoreError, type Clock, type RawEntry, type Store, type StoredObject, type Watch, type WatchEvent, type WatchOptions } from '../store.js';
import { Follow, type FollowHandlers } from './follow.js';
import { CLUSTER_SCOPE, collectionPath, kubeKind, objectPath, watchedKinds, type KubeKind } from './kinds.js';
import { AREA_LABEL, areaOf, expiresAt, microTime, RAW_KINDS, RAW_LABEL, rawEntryOf, rawKindOf, rawName, rawObject } from './raw-keys.js';
import { KubeCallError, KubeRest } from './rest.js';

/** One collection a Watch follows: its path, label selector and what each of its events becomes. */
interface Collection {
  path: string;
  selector: string | undefined;
  onEvent: FollowHandlers['onEvent'];
}

/** How to open the store. */
export interface KubernetesStoreOptions {
  /** Kubeconfig file; absent: the pod's service account. */
  kubeconfig?: string;
  /** Namespace of Bowline's own state (default istio-system). */
  rootNamespace?: string;
  /** CustomResourceDefinitions to install when missing (the Istio kinds': src/platform/kubernetes/install.ts installCrds). */
  crds?: Array<Record<string, unknown>>;
  clock?: Clock;
  /** Where progress of the start-up goes (CRDs installed). */
  log?: (line: string) => void;
}

/** The data key of a Secret holding Bowline's sealed data (src/ca/secrets.ts SEALED_FIELD). */
const SEALED_KEY = 'bowline-sealed';
const SEALED_FIELD = 'sealedData';
/** ConfigMaps and Secrets the config API sees: not Bowline's raw keys. */
const NOT_RAW = `!${RAW_LABEL}`;

/** A KubeCallError as the store's error. */
function storeError(err: unknown): unknown {
  if (!(err instanceof KubeCallError)) return err;
  const s = err.status;
  if (s === 404) return new StoreError('NotFound', err.message);
  if (s === 409) return new StoreError(err.reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict', err.message);
  if (s === 400 || s === 422) return new StoreError('Invalid', err.message);
  if (s === 410) return new StoreError('Expired', err.message);
  return new StoreError('Unavailable', `kubernetes: ${err.message}`);
}

async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw storeError(err);
  }
}

/** Opens the store: checks the apiserver, creates the root namespace and installs missing CRDs. */
export async function openKubernetesStore(o: KubernetesStoreOptions = {}): Promise<Store> {
  const store = new KubernetesStore(new KubeRest(o.kubeconfig), o.rootNamespace ?? 'istio-system', o.clock ?? systemClock);
  const installed = await store.init(o.crds ?? []);
  o.log?.(`store: kubernetes apiserver ${store.server}, root namespace ${o.rootNamespace ?? 'istio-system'}${installed ? `; ${installed} CRDs installed` : ''}`);
  return store;
}

class KubernetesStore implements Store {
  readonly backend = 'kubernetes';
  /** The newest revision this store has seen. */
  private seen = 0;
  private readonly follows = new Set<Follow>();
  private readonly namespaces = new Set<string>();
  private sweeper: { follow: Follow; leases: Map<string, { rv: string; at: number }>; timer?: unknown } | undefined;

  constructor(private readonly rest: KubeRest, private readonly root: string, private readonly clock: Clock) {}

  /** The apiserver's URL. */
  get server(): string {
    return this.rest.server;
  }

  /** Creates the root namespace and the missing CRDs (in parallel); resolves with how many CRDs it created. */
  async init(crds: Array<Record<string, unknown>>): Promise<number> {
    await this.ensureNamespace(this.root);
    const created = await Promise.all(crds.map((crd) => this.installCrd(crd)));
    await this.revision();
    await this.startSweeper();
    return created.filter(Boolean).length;
  }

  private note(rv: unknown): number {
    const n = Number(rv);
    if (Number.isFinite(n) && n > this.seen) this.seen = n;
    return n;
  }

  private kind(kind: string): KubeKind {
    const k = kubeKind(kind);
    if (!k) throw new StoreError('Invalid', `kind ${kind} has no place in a Kubernetes apiserver`);
    return k;
  }

  private async ensureNamespace(ns: string): Promise<void> {
    if (ns === CLUSTER_SCOPE || this.namespaces.has(ns)) return;
    try {
      await this.rest.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    } catch (err) {
      if (!(err instanceof KubeCallError && err.status === 409)) throw storeError(err);
    }
    this.namespaces.add(ns);
  }

  private async installCrd(crd: Record<string, unknown>): Promise<boolean> {
    const name = String((crd.metadata as { name: string }).name);
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    try {
      await this.rest.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    } catch (err) {
      if (!(err instanceof KubeCallError && err.status === 409)) throw storeError(err);
      return false;
    }
    // Usable once Established (names accepted, served).
    for (let i = 0; i < 600; i++) {
      const got = await call(this.rest.call('GET', path));
      if ((got?.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True')) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new StoreError('Unavailable', `CRD ${name} was not established within 60 s`);
  }

  // Resources.

  private toKube(obj: StoredObject, k: KubeKind, create: boolean): Record<string, any> {
    const out: Record<string, any> = structuredClone(obj);
    out.apiVersion = k.apiVersion;
    const m = out.metadata;
    delete m.managedFields;
    if (create) delete m.resourceVersion;
    if (!k.namespaced) delete m.namespace;
    if (k.kind === 'Secret' && out[SEALED_FIELD] !== undefined) {
      out.data = { [SEALED_KEY]: Buffer.from(JSON.stringify(out[SEALED_FIELD])).toString('base64') };
      delete out[SEALED_FIELD];
    }
    return out;
  }

  private fromKube(o: Record<string, any>, k: KubeKind): StoredObject {
    delete o.metadata.managedFields;
    if (!k.namespaced) o.metadata.namespace = CLUSTER_SCOPE;
    if (k.kind === 'Secret' && o.data?.[SEALED_KEY] !== undefined) {
      o[SEALED_FIELD] = JSON.parse(Buffer.from(String(o.data[SEALED_KEY]), 'base64').toString('utf8'));
      delete o.data;
    }
    o.kind ??= k.kind;
    o.apiVersion ??= k.apiVersion;
    this.note(o.metadata.resourceVersion);
    return o as StoredObject;
  }

  async revision(): Promise<number> {
    const list = await call(this.rest.call('GET', `/api/v1/namespaces/${encodeURIComponent(this.root)}/configmaps?limit=1`));
    return this.note(list?.metadata?.resourceVersion);
  }

  async get(kind: string, namespace: string, name: string): Promise<StoredObject> {
    const k = this.kind(kind);
    return this.fromKube(await call(this.rest.call('GET', objectPath(k, namespace, name))), k);
  }

  async list(kind: string, namespace?: string): Promise<{ items: StoredObject[]; revision: number }> {
    const k = this.kind(kind);
    const q = k.kind === 'ConfigMap' || k.kind === 'Secret' ? `?labelSelector=${encodeURIComponent(NOT_RAW)}` : '';
    const list = await call(this.rest.call('GET', collectionPath(k, namespace) + q));
    const items = (list.items as Array<Record<string, any>>).map((o) => this.fromKube({ ...o, kind: k.kind, apiVersion: k.apiVersion }, k));
    items.sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
    return { items, revision: this.note(list.metadata?.resourceVersion) };
  }

  async create(obj: StoredObject): Promise<StoredObject> {
    const k = this.kind(obj.kind);
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(obj.metadata.name)) throw new StoreError('Invalid', `name "${obj.metadata.name}" is not a DNS subdomain`);
    if (k.namespaced) await this.ensureNamespace(obj.metadata.namespace);
    return this.fromKube(await call(this.rest.call('POST', collectionPath(k, obj.metadata.namespace), this.toKube(obj, k, true))), k);
  }

  async update(obj: StoredObject): Promise<StoredObject> {
    const k = this.kind(obj.kind);
    const path = objectPath(k, obj.metadata.namespace, obj.metadata.name);
    if (obj.metadata.resourceVersion) return this.fromKube(await call(this.rest.call('PUT', path, this.toKube(obj, k, false))), k);
    // An unconditional update: the current version, retried while others write.
    for (;;) {
      const cur = await this.get(obj.kind, obj.metadata.namespace, obj.metadata.name);
      try {
        return await this.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: cur.metadata.resourceVersion! } });
      } catch (err) {
        if (!isStoreError(err, 'Conflict')) throw err;
      }
    }
  }

  async delete(kind: string, namespace: string, name: string, expectedResourceVersion?: string): Promise<StoredObject> {
    const k = this.kind(kind);
    // The last state is the one read just before a delete conditional on it (an apiserver may answer a delete with a Status).
    for (;;) {
      const cur = await this.get(kind, namespace, name);
      if (expectedResourceVersion !== undefined && cur.metadata.resourceVersion !== expectedResourceVersion) throw new StoreError('Conflict', `${kind} ${namespace}/${name} is at resourceVersion ${cur.metadata.resourceVersion}, not ${expectedResourceVersion}`);
      const body = { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: cur.metadata.resourceVersion } };
      let res: Record<string, any>;
      try {
        res = await call(this.rest.call('DELETE', objectPath(k, namespace, name), body));
      } catch (err) {
        if (isStoreError(err, 'Conflict') && expectedResourceVersion === undefined) continue;
        throw err;
      }
      if (res?.kind === k.kind && res.metadata?.resourceVersion && Number(res.metadata.resourceVersion) > Number(cur.metadata.resourceVersion)) return this.fromKube(res, k);
      return { ...cur, metadata: { ...cur.metadata, resourceVersion: String(await this.revision()) } };
    }
  }

  watch(filter: { kind?: string; namespace?: string }, onEvent: (ev: WatchEvent) => void, opts: WatchOptions = {}): Watch {
    const kinds = filter.kind !== undefined ? [this.kind(filter.kind)] : watchedKinds();
    const collections: Collection[] = [];
    for (const k of kinds) {
      if (!k.namespaced && filter.namespace !== undefined && filter.namespace !== CLUSTER_SCOPE) continue;
      collections.push({
        path: collectionPath(k, filter.namespace),
        selector: k.kind === 'ConfigMap' || k.kind === 'Secret' ? NOT_RAW : undefined,
        onEvent: (ev) => onEvent({ type: ev.type, object: this.fromKube({ ...ev.object, kind: k.kind, apiVersion: k.apiVersion }, k), revision: ev.revision }),
      });
    }
    return this.followAll(collections, opts.fromRevision ?? this.seen, opts.onError);
  }

  /** Follows `collections` from revision `from` as one Watch: the first error closes them all and is reported once. */
  private followAll(collections: readonly Collection[], from: number, onError: ((err: StoreError) => void) | undefined): Watch {
    const follows: Follow[] = [];
    let failed = false;
    const close = (): void => { for (const f of follows) this.unfollow(f); };
    for (const c of collections) {
      follows.push(this.follow(c.path, c.selector, from, {
        onEvent: c.onEvent,
        onError: (err) => {
          if (failed) return;
          failed = true;
          close();
          onError?.(err);
        },
      }));
    }
    return { close };
  }

  private follow(path: string, selector: string | undefined, from: number, h: FollowHandlers): Follow {
    const f = new Follow(this.rest, path, selector, from, h);
    this.follows.add(f);
    return f;
  }

  private unfollow(f: Follow): void {
    f.close();
    this.follows.delete(f);
  }

  // Raw keys.

  private rawPath(k: KubeKind, key?: string): string {
    return key === undefined ? collectionPath(k, this.root) : objectPath(k, this.root, rawName(key));
  }

  /** The object keeping `key` (in any of the three kinds), or undefined. */
  private async findRaw(key: string): Promise<{ k: KubeKind; obj: Record<string, any>; entry: RawEntry } | undefined> {
    const found = await Promise.all(Object.values(RAW_KINDS).map(async (k) => {
      try {
        const obj = await this.rest.call('GET', this.rawPath(k, key));
        this.note(obj.metadata.resourceVersion);
        const entry = rawEntryOf(obj);
        return entry && entry.key === key ? { k, obj, entry } : undefined;
      } catch (err) {
        if (err instanceof KubeCallError && err.status === 404) return undefined;
        throw storeError(err);
      }
    }));
    return found.find((f) => f !== undefined);
  }

  private expired(k: KubeKind, obj: Record<string, any>): boolean {
    return k.kind === 'Lease' && expiresAt(obj) <= this.clock.now();
  }

  async putRaw(key: string, value: string, opts: { ttlMs?: number; expectedModRevision?: number } = {}): Promise<number> {
    if (key.startsWith('resources/') || key === '') throw new StoreError('Invalid', `raw key "${key}" is empty or under resources/`);
    const k = rawKindOf(key, opts.ttlMs);
    for (;;) {
      const cur = await this.findRaw(key);
      const live = cur && !this.expired(cur.k, cur.obj) ? cur : undefined;
      if (opts.expectedModRevision === 0 && live) throw new StoreError('AlreadyExists', `raw key ${key} exists`);
      if (opts.expectedModRevision !== undefined && opts.expectedModRevision > 0 && live?.entry.modRevision !== opts.expectedModRevision) throw new StoreError('Conflict', `raw key ${key} is at revision ${live?.entry.modRevision ?? 'none'}, not ${opts.expectedModRevision}`);
      const now = this.clock.now();
      try {
        let rv: string;
        if (cur && cur.k === k) {
          const obj = rawObject(k, this.root, key, value, { ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}), ...(live ? { createRevision: live.entry.createRevision } : {}), resourceVersion: cur.obj.metadata.resourceVersion, now });
          rv = (await this.rest.call('PUT', this.rawPath(k, key), obj)).metadata.resourceVersion;
        } else {
          const obj = rawObject(k, this.root, key, value, { ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}), ...(live ? { createRevision: live.entry.createRevision } : {}), now });
          rv = (await this.rest.call('POST', this.rawPath(k), obj)).metadata.resourceVersion;
          if (cur) await this.rest.call('DELETE', this.rawPath(cur.k, key), { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: cur.obj.metadata.resourceVersion } }).catch(() => {});
        }
        return this.note(rv);
      } catch (err) {
        // Another writer got there between the read and the write: a CAS write fails, a plain one reads again.
        if (!(err instanceof KubeCallError && err.status === 409)) throw storeError(err);
        if (opts.expectedModRevision !== undefined) throw new StoreError(opts.expectedModRevision === 0 ? 'AlreadyExists' : 'Conflict', `raw key ${key} changed concurrently`);
      }
    }
  }

  async getRaw(key: string): Promise<RawEntry | undefined> {
    const cur = await this.findRaw(key);
    return cur && !this.expired(cur.k, cur.obj) ? cur.entry : undefined;
  }

  async listRaw(prefix: string): Promise<{ entries: RawEntry[]; revision: number }> {
    const area = areaOf(prefix);
    const selector = encodeURIComponent(area ? `${RAW_LABEL},${AREA_LABEL}=${area}` : RAW_LABEL);
    const lists = await Promise.all(Object.values(RAW_KINDS).map((k) => call(this.rest.call('GET', `${this.rawPath(k)}?labelSelector=${selector}`)).then((l) => ({ k, l }))));
    const entries: RawEntry[] = [];
    let revision = 0;
    for (const { k, l } of lists) {
      revision = Math.max(revision, this.note(l.metadata?.resourceVersion));
      for (const obj of l.items as Array<Record<string, any>>) {
        const e = rawEntryOf(obj);
        if (e && e.key.startsWith(prefix) && !this.expired(k, obj)) entries.push(e);
      }
    }
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { entries, revision };
  }

  async deleteRaw(key: string): Promise<boolean> {
    const cur = await this.findRaw(key);
    if (!cur) return false;
    try {
      await this.rest.call('DELETE', this.rawPath(cur.k, key), { apiVersion: 'v1', kind: 'DeleteOptions' });
      return !this.expired(cur.k, cur.obj);
    } catch (err) {
      if (err instanceof KubeCallError && err.status === 404) return false;
      throw storeError(err);
    }
  }

  async keepAlive(key: string): Promise<void> {
    for (;;) {
      const cur = await this.findRaw(key);
      if (!cur || cur.k.kind !== 'Lease' || this.expired(cur.k, cur.obj)) throw new StoreError('NotFound', `raw key ${key} has no live lease`);
      const obj = { ...cur.obj, spec: { ...cur.obj.spec, renewTime: microTime(this.clock.now()) } };
      try {
        this.note((await this.rest.call('PUT', this.rawPath(cur.k, key), obj)).metadata.resourceVersion);
        return;
      } catch (err) {
        if (!(err instanceof KubeCallError && err.status === 409)) throw storeError(err);
      }
    }
  }

  watchRaw(prefix: string, onEvent: (ev: WatchEvent<RawEntry>) => void, opts: WatchOptions = {}): Watch {
    const area = areaOf(prefix);
    const selector = area ? `${RAW_LABEL},${AREA_LABEL}=${area}` : RAW_LABEL;
    // A renewal rewrites a Lease's renewTime only: not a change of the key.
    const last = new Map<string, string>();
    const collections = Object.values(RAW_KINDS).map((k): Collection => ({
      path: this.rawPath(k),
      selector,
      onEvent: (ev) => {
        const e = rawEntryOf(ev.object);
        if (!e || !e.key.startsWith(prefix)) return;
        const sig = `${e.value}\u0000${e.ttlMs ?? ''}`;
        if (ev.type === 'MODIFIED' && last.get(e.key) === sig) return;
        if (ev.type === 'DELETED') last.delete(e.key);
        else last.set(e.key, sig);
        onEvent({ type: ev.type, object: { ...e, modRevision: ev.revision }, revision: ev.revision });
      },
    }));
    return this.followAll(collections, opts.fromRevision ?? this.seen, opts.onError);
  }

  /** Deletes Lease-kept keys once their TTL has passed since the last renewal. */
  private async startSweeper(): Promise<void> {
    const k = RAW_KINDS.Lease;
    const list = await call(this.rest.call('GET', `${this.rawPath(k)}?labelSelector=${encodeURIComponent(RAW_LABEL)}`));
    const leases = new Map<string, { rv: string; at: number }>();
    for (const o of list.items as Array<Record<string, any>>) leases.set(o.metadata.name, { rv: o.metadata.resourceVersion, at: expiresAt(o) });
    const follow = new Follow(this.rest, this.rawPath(k), RAW_LABEL, Number(list.metadata.resourceVersion), {
      onEvent: (ev) => {
        if (ev.type === 'DELETED') leases.delete(ev.object.metadata.name);
        else leases.set(ev.object.metadata.name, { rv: ev.object.metadata.resourceVersion, at: expiresAt(ev.object) });
        this.schedule();
      },
      onError: () => { void this.restartSweeper(); },
    });
    this.sweeper = { follow, leases };
    this.schedule();
  }

  private async restartSweeper(): Promise<void> {
    this.stopSweeper();
    try { await this.startSweeper(); } catch { this.sweeper = undefined; }
  }

  private stopSweeper(): void {
    if (!this.sweeper) return;
    this.sweeper.follow.close();
    if (this.sweeper.timer !== undefined) this.clock.clearTimeout(this.sweeper.timer);
    this.sweeper = undefined;
  }

  private schedule(): void {
    const s = this.sweeper;
    if (!s) return;
    if (s.timer !== undefined) this.clock.clearTimeout(s.timer);
    s.timer = undefined;
    let next = Infinity;
    for (const l of s.leases.values()) next = Math.min(next, l.at);
    if (next === Infinity) return;
    s.timer = this.clock.setTimeout(() => void this.sweep(), Math.max(0, next - this.clock.now()) + 50);
  }

  private async sweep(): Promise<void> {
    const s = this.sweeper;
    if (!s) return;
    s.timer = undefined;
    const now = this.clock.now();
    for (const [name, l] of [...s.leases]) {
      if (l.at > now) continue;
      s.leases.delete(name);
      await this.rest.call('DELETE', `${this.rawPath(RAW_KINDS.Lease)}/${encodeURIComponent(name)}`, { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: l.rv } }).catch(() => {}); // renewed or deleted meanwhile: nothing to do
    }
    this.schedule();
  }

  async healthy(): Promise<boolean> {
    try {
      await this.rest.call('GET', `/api/v1/namespaces/${encodeURIComponent(this.root)}`);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Bowline's own keys only: a cluster always holds objects of its own (kube-root-ca.crt
   * ConfigMaps, service-account Secrets) and may hold Istio resources applied before Bowline's
   * first start; neither says that Bowline ran here and lost its CA state.
   */
  async countKeys(): Promise<number> {
    return (await this.listRaw('')).entries.length;
  }

  async close(): Promise<void> {
    this.stopSweeper();
    for (const f of [...this.follows]) this.unfollow(f);
  }
}

