/**
 * The store: ONE interface for Bowline's configuration and its generic key space, with two
 * backends (store/embedded/ and store/etcd/) that pass one shared suite (store.suite.ts).
 *
 * Every write gets a store-wide, strictly increasing revision (the embedded store's own counter,
 * etcd's mod revision). A resource's `metadata.resourceVersion` is the revision of its last write,
 * as a decimal string, exactly like Kubernetes. Watches deliver events in revision order.
 *
 * Two layers share one revision sequence:
 * - resources (`get/list/create/update/delete/watch`): Kubernetes-shaped objects keyed by
 *   (kind, namespace, name). The store stamps uid, creationTimestamp, generation (bumped when
 *   anything but metadata changes) and resourceVersion.
 * - raw keys (`putRaw/getRaw/listRaw/deleteRaw/watchRaw/keepAlive`): strings under any key that
 *   does not start with `resources/`, optionally with a TTL (an etcd lease; a persisted expiry in
 *   the embedded store). The registry keeps workload announcements there, the CA its state.
 */
import type { ObjectMeta } from '../api/types/meta.js';

/** Stable reasons a store call fails; the API maps them to HTTP codes (404, 409, 409, 503, 410). */
/** `Corrupt`: the store's files are damaged in a way that would lose acknowledged data; it refuses to start (docs/store.md). */
export type StoreErrorReason = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Unavailable' | 'Expired' | 'Invalid' | 'Corrupt';

const CODES: Record<StoreErrorReason, string> = {
  NotFound: 'BOWLINE_E_STORE_NOT_FOUND',
  AlreadyExists: 'BOWLINE_E_STORE_ALREADY_EXISTS',
  Conflict: 'BOWLINE_E_STORE_CONFLICT',
  Unavailable: 'BOWLINE_E_STORE_UNAVAILABLE',
  Expired: 'BOWLINE_E_STORE_EXPIRED',
  Invalid: 'BOWLINE_E_STORE_INVALID',
  Corrupt: 'BOWLINE_E_STORE_CORRUPT',
};

/** A failed store call: `reason` says what kind of failure, `code` is the documented BOWLINE_E_STORE_* code. */
export class StoreError extends Error {
  override name = 'StoreError';
  /** The stable BOWLINE_E_STORE_* code (docs/errors.md). */
  readonly code: string;
  constructor(readonly reason: StoreErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = CODES[reason];
  }
}

/** True when `err` is a StoreError with the given reason. */
export function isStoreError(err: unknown, reason?: StoreErrorReason): err is StoreError {
  return err instanceof StoreError && (reason === undefined || err.reason === reason);
}

/** The API's object metadata (api/types/meta.ts) as stored: the namespace always set, unknown fields kept; the store
 *  fills uid, creationTimestamp, generation and resourceVersion. */
export interface StoredMeta extends ObjectMeta {
  namespace: string;
  [k: string]: unknown;
}

/** One stored resource: any Kubernetes-shaped object (Istio kinds, the istio ConfigMap). */
export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: StoredMeta;
  [k: string]: unknown;
}

/** A change seen by a watch. For DELETED the object is its last state with the deletion's resourceVersion. */
export interface WatchEvent<T = StoredObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
  /** The revision of the write that caused the event. */
  revision: number;
}

/** One raw key's value and revisions. */
export interface RawEntry {
  key: string;
  value: string;
  /** Revision of the write that last changed the key. */
  modRevision: number;
  /** Revision of the write that created the key. */
  createRevision: number;
  /** For TTL keys, the lease length in milliseconds. */
  ttlMs?: number;
}

/** A running watch; `close()` stops delivery. */
export interface Watch {
  close(): void;
}

/** Where a watch starts: events with revision > `fromRevision` (default: only future changes). */
export interface WatchOptions {
  fromRevision?: number;
  /** Called once if the watch cannot continue (e.g. `Expired`: the start revision was compacted). */
  onError?: (err: StoreError) => void;
}

/** The store used by the control plane, the registry and the CA. */
export interface Store {
  /** Which backend: 'embedded' or 'etcd'. */
  readonly backend: string;
  /** The current store-wide revision. */
  revision(): Promise<number>;
  /** One resource; throws StoreError NotFound. */
  get(kind: string, namespace: string, name: string): Promise<StoredObject>;
  /** Resources of one kind in one namespace (or all namespaces when `namespace` is undefined), sorted by namespace/name, with the revision they were read at. */
  list(kind: string, namespace?: string): Promise<{ items: StoredObject[]; revision: number }>;
  /** Creates a resource; throws AlreadyExists. */
  create(obj: StoredObject): Promise<StoredObject>;
  /** Replaces a resource. With `metadata.resourceVersion` set, it must equal the stored one (else Conflict). Throws NotFound. */
  update(obj: StoredObject): Promise<StoredObject>;
  /** Deletes a resource and returns its last state; with `expectedResourceVersion`, Conflict if it changed. */
  delete(kind: string, namespace: string, name: string, expectedResourceVersion?: string): Promise<StoredObject>;
  /** Watches resources of one kind (or every kind when undefined) in one namespace (or all). */
  watch(filter: { kind?: string; namespace?: string }, onEvent: (ev: WatchEvent) => void, opts?: WatchOptions): Watch;

  /** Writes a raw key (not under `resources/`); with `ttlMs`, the key is deleted when its lease runs out. Returns the write's revision. */
  putRaw(key: string, value: string, opts?: { ttlMs?: number; expectedModRevision?: number }): Promise<number>;
  /** One raw key, or undefined. */
  getRaw(key: string): Promise<RawEntry | undefined>;
  /** Raw keys starting with `prefix`, sorted by key, with the revision they were read at. */
  listRaw(prefix: string): Promise<{ entries: RawEntry[]; revision: number }>;
  /** Deletes a raw key; resolves to false if it did not exist. */
  deleteRaw(key: string): Promise<boolean>;
  /** Renews a TTL key's lease for its full TTL; throws NotFound if the key is gone (expired). */
  keepAlive(key: string): Promise<void>;
  /** Watches raw keys under `prefix`; DELETED events carry the last value (also for expiry). */
  watchRaw(prefix: string, onEvent: (ev: WatchEvent<RawEntry>) => void, opts?: WatchOptions): Watch;

  /** Resolves true when the backend is reachable (used by /readyz). */
  healthy(): Promise<boolean>;
  /** A consistent copy of every key at one revision (embedded store; `bowline store backup`). Absent or throwing Invalid: not supported (etcd: use etcd's snapshots). */
  backup?(): Promise<{ format: 'bowline-store-backup'; version: 1; revision: number; createdAt: string; entries: Array<{ k: string; v: string; r: number; c: number; ttl?: number; exp?: number }> }>;
  /** How many keys the store holds (resources and raw keys). */
  countKeys?(): Promise<number>;
  /** Flushes and releases files and connections. */
  close(): Promise<void>;
}

/** The key under which a resource is kept (shared by both backends). */
export function resourceKey(kind: string, namespace: string, name: string): string {
  return `resources/${kind}/${namespace}/${name}`;
}

/** The prefix of the resources of one kind (and namespace). */
export function resourcePrefix(kind?: string, namespace?: string): string {
  if (kind === undefined) return 'resources/';
  return namespace === undefined ? `resources/${kind}/` : `resources/${kind}/${namespace}/`;
}

/** The time source the store uses for TTLs, injectable in tests (see clock.ts). */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
