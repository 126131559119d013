import type { RawEntry, Watch } from './store.js';

/** One change to one key, as both backends record it. */
export interface KvEvent {
  type: 'put' | 'delete';
  key: string;
  /** The new value (put) or the last value (delete). */
  value: string;
  /** The revision of this change. */
  revision: number;
  createRevision: number;
  ttlMs?: number;
  /** For put: whether the key existed before. */
  existed?: boolean;
}

/** The outcome of a conditional write: ok with the new revision, or the current entry that failed the condition. */
export type KvWriteResult = { ok: true; revision: number; prev?: RawEntry } | { ok: false; current?: RawEntry };

/**
 * The small key-value contract each backend implements; resources.ts builds the Store interface
 * on top of it, so both backends share every rule about resources.
 */
export interface Kv {
  readonly backend: string;
  revision(): Promise<number>;
  get(key: string): Promise<RawEntry | undefined>;
  range(prefix: string): Promise<{ entries: RawEntry[]; revision: number }>;
  /** Writes when `expectedModRevision` is undefined (always), 0 (key must not exist) or equals the key's mod revision. */
  put(key: string, value: string, opts: { expectedModRevision?: number; ttlMs?: number }): Promise<KvWriteResult>;
  /** Deletes under the same condition; `{ok: false}` without `current` when the key does not exist. */
  delete(key: string, opts: { expectedModRevision?: number }): Promise<KvWriteResult>;
  keepAlive(key: string): Promise<void>;
  /** Delivers events for keys under `prefix` with revision > fromRevision (default: now), in order, in batches. */
  watch(prefix: string, fromRevision: number | undefined, onEvents: (events: KvEvent[]) => void, onError: (err: Error) => void): Watch;
  healthy(): Promise<boolean>;
  /** Every key with its lease expiry, captured at one revision (the embedded store; absent elsewhere). */
  dump?(): { revision: number; entries: Array<{ k: string; v: string; r: number; c: number; ttl?: number; exp?: number }> };
  close(): Promise<void>;
}
