import { randomUUID } from 'node:crypto';
import type { Kv, KvEvent } from './kv.js';
import {
  StoreError, resourceKey, resourcePrefix,
  type RawEntry, type Store, type StoredObject, type Watch, type WatchEvent, type WatchOptions,
} from './store.js';

/** Options shared by both backends' resource layer. */
export interface ResourceLayerOptions {
  /** Wall clock for creationTimestamp (default Date.now). */
  now?: () => number;
  /** uid source (default crypto.randomUUID). */
  uid?: () => string;
}

function decode(entry: { value: string; modRevision?: number; revision?: number }, rev: number): StoredObject {
  const obj = JSON.parse(entry.value) as StoredObject;
  obj.metadata.resourceVersion = String(rev);
  return obj;
}

function encode(obj: StoredObject): string {
  const copy = { ...obj, metadata: { ...obj.metadata } };
  delete copy.metadata.resourceVersion;
  return JSON.stringify(copy);
}

/** Everything but metadata (and status), for the generation rule: generation bumps when this changes. */
function specOf(obj: StoredObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return JSON.stringify(rest);
}

function checkRawKey(key: string): void {
  if (key.startsWith('resources/')) throw new StoreError('Invalid', `raw key "${key}" is reserved for resources`);
  if (key === '') throw new StoreError('Invalid', 'raw key must not be empty');
}

function checkIdentity(obj: StoredObject): void {
  const m = obj?.metadata;
  if (!obj || typeof obj.kind !== 'string' || !m || typeof m.name !== 'string' || !m.name || typeof m.namespace !== 'string' || !m.namespace) {
    throw new StoreError('Invalid', 'a stored object needs kind, metadata.name and metadata.namespace');
  }
  if (/[/\s]/.test(m.name) || /[/\s]/.test(m.namespace) || /[/\s]/.test(obj.kind)) {
    throw new StoreError('Invalid', 'kind, name and namespace must not contain "/" or spaces');
  }
}

/** Implements the Store interface on a backend's Kv, so every resource rule lives in one place. */
export class KvStore implements Store {
  readonly backend: string;
  private readonly now: () => number;
  private readonly uid: () => string;

  constructor(private readonly kv: Kv, opts: ResourceLayerOptions = {}) {
    this.backend = kv.backend;
    this.now = opts.now ?? Date.now;
    this.uid = opts.uid ?? randomUUID;
  }

  revision(): Promise<number> { return this.kv.revision(); }

  async get(kind: string, namespace: string, name: string): Promise<StoredObject> {
    const e = await this.kv.get(resourceKey(kind, namespace, name));
    if (!e) throw new StoreError('NotFound', `${kind} ${namespace}/${name} not found`);
    return decode(e, e.modRevision);
  }

  async list(kind: string, namespace?: string): Promise<{ items: StoredObject[]; revision: number }> {
    const { entries, revision } = await this.kv.range(resourcePrefix(kind, namespace));
    return { items: entries.map((e) => decode(e, e.modRevision)), revision };
  }

  async create(obj: StoredObject): Promise<StoredObject> {
    checkIdentity(obj);
    const { kind, metadata: { namespace, name } } = obj;
    const stored: StoredObject = {
      ...obj,
      metadata: { ...obj.metadata, uid: this.uid(), creationTimestamp: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'), generation: 1 },
    };
    const r = await this.kv.put(resourceKey(kind, namespace, name), encode(stored), { expectedModRevision: 0 });
    if (!r.ok) throw new StoreError('AlreadyExists', `${kind} ${namespace}/${name} already exists`);
    stored.metadata.resourceVersion = String(r.revision);
    return stored;
  }

  async update(obj: StoredObject): Promise<StoredObject> {
    checkIdentity(obj);
    const { kind, metadata: { namespace, name } } = obj;
    const key = resourceKey(kind, namespace, name);
    const expected = obj.metadata.resourceVersion;
    if (expected !== undefined && expected !== '' && !/^\d+$/.test(expected)) {
      throw new StoreError('Invalid', `metadata.resourceVersion "${expected}" is not a revision number`);
    }
    for (let attempt = 0; ; attempt++) {
      const cur = await this.kv.get(key);
      if (!cur) throw new StoreError('NotFound', `${kind} ${namespace}/${name} not found`);
      if (expected && Number(expected) !== cur.modRevision) {
        throw new StoreError('Conflict', `${kind} ${namespace}/${name} was modified (resourceVersion ${cur.modRevision}, you sent ${expected}): read it again and reapply your change`);
      }
      const old = JSON.parse(cur.value) as StoredObject;
      const stored: StoredObject = {
        ...obj,
        metadata: {
          ...obj.metadata,
          uid: old.metadata.uid,
          creationTimestamp: old.metadata.creationTimestamp,
          generation: (old.metadata.generation ?? 1) + (specOf(old) === specOf(obj) ? 0 : 1),
        },
      };
      const r = await this.kv.put(key, encode(stored), { expectedModRevision: cur.modRevision });
      if (r.ok) {
        stored.metadata.resourceVersion = String(r.revision);
        return stored;
      }
      if (expected) throw new StoreError('Conflict', `${kind} ${namespace}/${name} was modified concurrently: read it again and reapply your change`);
      if (attempt > 20) throw new StoreError('Conflict', `${kind} ${namespace}/${name} keeps changing; gave up after ${attempt} attempts`);
    }
  }

  async delete(kind: string, namespace: string, name: string, expectedResourceVersion?: string): Promise<StoredObject> {
    const key = resourceKey(kind, namespace, name);
    const expectedModRevision = expectedResourceVersion ? Number(expectedResourceVersion) : undefined;
    const r = await this.kv.delete(key, expectedModRevision === undefined ? {} : { expectedModRevision });
    if (!r.ok) {
      if (!r.current) throw new StoreError('NotFound', `${kind} ${namespace}/${name} not found`);
      throw new StoreError('Conflict', `${kind} ${namespace}/${name} was modified (resourceVersion ${r.current.modRevision}, you sent ${expectedResourceVersion})`);
    }
    return decode(r.prev!, r.revision);
  }

  watch(filter: { kind?: string; namespace?: string }, onEvent: (ev: WatchEvent) => void, opts: WatchOptions = {}): Watch {
    const prefix = filter.kind === undefined ? resourcePrefix() : resourcePrefix(filter.kind);
    const ns = filter.namespace;
    return this.kv.watch(prefix, opts.fromRevision, (events) => {
      for (const ev of events) {
        const obj = decode(ev, ev.revision);
        if (ns !== undefined && obj.metadata.namespace !== ns) continue;
        onEvent({ type: ev.type === 'delete' ? 'DELETED' : ev.existed ? 'MODIFIED' : 'ADDED', object: obj, revision: ev.revision });
      }
    }, (err) => opts.onError?.(err instanceof StoreError ? err : new StoreError('Unavailable', String(err), { cause: err })));
  }

  async putRaw(key: string, value: string, opts: { ttlMs?: number; expectedModRevision?: number } = {}): Promise<number> {
    checkRawKey(key);
    if (typeof value !== 'string') throw new StoreError('Invalid', 'raw values are strings');
    if (opts.ttlMs !== undefined && !(opts.ttlMs > 0)) throw new StoreError('Invalid', 'ttlMs must be positive');
    const r = await this.kv.put(key, value, opts);
    if (!r.ok) {
      if (opts.expectedModRevision === 0) throw new StoreError('AlreadyExists', `key ${key} already exists`);
      throw new StoreError('Conflict', `key ${key} was modified (mod revision ${r.current?.modRevision ?? 'none'})`);
    }
    return r.revision;
  }

  getRaw(key: string): Promise<RawEntry | undefined> { checkRawKey(key); return this.kv.get(key); }

  async listRaw(prefix: string): Promise<{ entries: RawEntry[]; revision: number }> {
    const r = await this.kv.range(prefix);
    return { entries: r.entries.filter((e) => !e.key.startsWith('resources/')), revision: r.revision };
  }

  async deleteRaw(key: string): Promise<boolean> {
    checkRawKey(key);
    return (await this.kv.delete(key, {})).ok;
  }

  keepAlive(key: string): Promise<void> { checkRawKey(key); return this.kv.keepAlive(key); }

  watchRaw(prefix: string, onEvent: (ev: WatchEvent<RawEntry>) => void, opts: WatchOptions = {}): Watch {
    return this.kv.watch(prefix, opts.fromRevision, (events: KvEvent[]) => {
      for (const ev of events) {
        if (ev.key.startsWith('resources/')) continue;
        const object: RawEntry = { key: ev.key, value: ev.value, modRevision: ev.revision, createRevision: ev.createRevision };
        if (ev.ttlMs !== undefined) object.ttlMs = ev.ttlMs;
        onEvent({ type: ev.type === 'delete' ? 'DELETED' : ev.existed ? 'MODIFIED' : 'ADDED', object, revision: ev.revision });
      }
    }, (err) => opts.onError?.(err instanceof StoreError ? err : new StoreError('Unavailable', String(err), { cause: err })));
  }

  healthy(): Promise<boolean> { return this.kv.healthy(); }

  /** See Store.backup: the embedded store's whole key space at one revision. */
  async backup(): Promise<{ format: 'bowline-store-backup'; version: 1; revision: number; createdAt: string; entries: Array<{ k: string; v: string; r: number; c: number; ttl?: number; exp?: number }> }> {
    if (!this.kv.dump) throw new StoreError('Invalid', `the ${this.kv.backend} store has no built-in backup; use its own snapshots (etcd: etcdctl snapshot save)`);
    const d = this.kv.dump();
    return { format: 'bowline-store-backup', version: 1, revision: d.revision, createdAt: new Date().toISOString(), entries: d.entries };
  }

  /** See Store.countKeys. */
  async countKeys(): Promise<number> {
    return (await this.kv.range('')).entries.length;
  }
  close(): Promise<void> { return this.kv.close(); }
}
