/**
 * Generation cache: a generator's output parts, serialized once per snapshot and shared by every
 * proxy of the same scope (bytes and all), and deltas between two parts computed once for all
 * proxies that move between them. A part whose content did not change keeps its identity across
 * snapshots, so an unchanged part costs nothing to diff.
 */
import { createHash } from 'node:crypto';
import type { MeshSnapshot } from '../model/snapshot.js';
import type { ResourceType } from '../proxy-config/types.js';
import { splitResources } from '../proxy-config/wire.js';
import { generators, type ProxyInfo } from './generators/index.js';

/** One wire resource, serialized once. */
export interface Item {
  name: string;
  hash: string;
  /** JSON of the WireResource `{name, body}`. */
  json: string;
}

/** A serialized generator part. */
export interface Part {
  id: number;
  type: ResourceType;
  scope: string;
  items: ReadonlyMap<string, Item>;
  /** Content hash of the part. */
  version: string;
  /** All items' JSON joined by commas, encoded once (full pushes write these bytes to every proxy). */
  fullBytes(): Buffer;
}

/** A proxy's output for one type: its parts and the type's version. */
export interface TypeSet {
  type: ResourceType;
  parts: readonly Part[];
  version: string;
}

/** The changes between two type sets, ready to write: JSON fragments of changed resources and removed names. */
export interface Delta {
  /** Byte chunks that, joined by commas, form the `resources` array's content. */
  chunks: Buffer[];
  removed: string[];
  full: boolean;
}

const hash = (s: string) => createHash('sha1').update(s).digest('base64url').slice(0, 16);
let nextPartId = 1;

/** One empty part per type, shared by every proxy whose own output for the type is empty (most simulated and many real ones). */
const EMPTY_VERSION = hash('');
const emptyParts = new Map<ResourceType, Part>();
function emptyPart(type: ResourceType): Part {
  let p = emptyParts.get(type);
  if (!p) {
    const bytes = Buffer.alloc(0);
    emptyParts.set(type, (p = { id: nextPartId++, type, scope: 'own:', items: new Map(), version: EMPTY_VERSION, fullBytes: () => bytes }));
  }
  return p;
}

/** Serialized items by the resource object they came from (a resource object reused by a generator is not serialized again). */
const itemCache = new WeakMap<object, Item>();

function makePart(type: ResourceType, scope: string, value: unknown[]): Part {
  const wire = type === 'mesh' || type === 'authorization' ? splitResources(type, value[0]) : splitResources(type, value);
  const items = new Map<string, Item>();
  for (const w of wire) {
    const body = w.body as { virtualHost?: object } | null;
    const source = (type === 'routes' ? body?.virtualHost : undefined) ?? (typeof body === 'object' && body !== null ? body : undefined);
    let item = source ? itemCache.get(source) : undefined;
    if (!item || item.name !== w.name) {
      const json = JSON.stringify(w);
      item = { name: w.name, hash: hash(json), json };
      if (source && Object.isFrozen(source)) itemCache.set(source, item);
    }
    items.set(w.name, item);
  }
  const names = [...items.keys()].sort();
  const version = hash(names.map((n) => items.get(n)!.hash).join(','));
  let bytes: Buffer | undefined;
  return { id: nextPartId++, type, scope, items, version, fullBytes: () => (bytes ??= Buffer.from([...items.values()].map((i) => i.json).join(','))) };
}

/** Caches parts per (type, scope) for the current snapshot, carrying unaffected ones over from the previous. */
export class GenerationCache {
  private parts = new Map<string, Part>();
  private previous = new Map<string, Part>();
  private deltas = new Map<string, { chunks: Buffer[]; removed: string[] }>();
  /** Keys of each proxy's own parts, so `forget` does not scan every part. */
  private ownKeys = new Map<string, Set<string>>();
  private snap?: MeshSnapshot;
  /** Types whose output may differ from the previous snapshot's. */
  private affected = new Set<ResourceType>();
  /** Per change kind, the snapshot version that last changed it. */
  private readonly kindChangedAt = new Map<string, number>();

  /** Moves to a new snapshot: drops parts of the types its changes can affect. */
  advance(snap: MeshSnapshot): ReadonlySet<ResourceType> {
    this.affected = new Set();
    for (const [type, gen] of Object.entries(generators) as Array<[ResourceType, (typeof generators)[ResourceType]]>) {
      if (!this.snap || gen.kinds.some((k) => snap.changed.has(k))) this.affected.add(type);
    }
    for (const k of snap.changed) this.kindChangedAt.set(k, snap.version);
    this.previous = this.parts;
    const kept = new Map<string, Part>();
    for (const [k, p] of this.parts) if (!this.affected.has(p.type)) kept.set(k, p);
    this.parts = kept;
    this.deltas.clear();
    this.snap = snap;
    return this.affected;
  }

  /** The current snapshot. */
  snapshot(): MeshSnapshot {
    return this.snap!;
  }

  /** True when a change after snapshot version `since` may have changed this proxy's output of `type`. */
  needsCheck(type: ResourceType, proxy: ProxyInfo, since: number): boolean {
    const gen = generators[type];
    const kinds = gen.kindsFor ? gen.kindsFor(proxy) : gen.kinds;
    return kinds.some((k) => (this.kindChangedAt.get(k) ?? 0) > since);
  }

  /** True when `type`'s output may have changed with the last `advance`. */
  isAffected(type: ResourceType): boolean {
    return this.affected.has(type);
  }

  /** The proxy's output for one type (parts built once per scope and snapshot). */
  typeSet(type: ResourceType, proxy: ProxyInfo): TypeSet {
    const snap = this.snap!;
    const parts = generators[type].parts(snap, proxy).map((spec) => {
      const key = `${type}|${spec.scope}`;
      let part = this.parts.get(key);
      if (!part) {
        const value = spec.build();
        if (value.length === 0 && spec.scope.startsWith('own:')) return emptyPart(type);
        part = makePart(type, spec.scope, value);
        const prev = this.previous.get(key);
        if (prev && prev.version === part.version) part = prev;
        // Own (per-proxy) parts are cheap and numerous: memoize them too, they are dropped on the next change of their type.
        this.parts.set(key, part);
        if (spec.scope.startsWith('own:')) {
          const id = spec.scope.slice(4);
          let keys = this.ownKeys.get(id);
          if (!keys) this.ownKeys.set(id, (keys = new Set()));
          keys.add(key);
        }
      }
      return part;
    });
    const nonEmpty = parts.filter((p) => p.items.size > 0);
    const version = nonEmpty.length === 0 ? EMPTY_VERSION : nonEmpty.length === 1 ? nonEmpty[0]!.version : hash(nonEmpty.map((p) => p.version).join(','));
    return { type, parts, version };
  }

  /** Forgets a proxy's own parts (its stream closed). */
  forget(proxyId: string): void {
    for (const k of this.ownKeys.get(proxyId) ?? []) {
      this.parts.delete(k);
      this.previous.delete(k);
    }
    this.ownKeys.delete(proxyId);
  }

  /** The delta from `from` (what the proxy runs; undefined: nothing known) to `to`. */
  delta(from: TypeSet | undefined, to: TypeSet): Delta {
    if (!from) return { chunks: to.parts.filter((p) => p.items.size).map((p) => p.fullBytes()), removed: [], full: true };
    const chunks: Buffer[] = [];
    const removed: string[] = [];
    const oldByScope = new Map(from.parts.map((p) => [p.scope, p]));
    for (const p of to.parts) {
      const old = oldByScope.get(p.scope);
      oldByScope.delete(p.scope);
      if (old === p) continue;
      if (!old) {
        if (p.items.size) chunks.push(p.fullBytes());
        continue;
      }
      const key = `${old.id}>${p.id}`;
      let d = this.deltas.get(key);
      if (!d) {
        const changed: string[] = [];
        const gone: string[] = [];
        for (const it of p.items.values()) if (old.items.get(it.name)?.hash !== it.hash) changed.push(it.json);
        for (const name of old.items.keys()) if (!p.items.has(name)) gone.push(name);
        d = { chunks: changed.length ? [Buffer.from(changed.join(','))] : [], removed: gone };
        if (!p.scope.startsWith('own:')) this.deltas.set(key, d);
      }
      chunks.push(...d.chunks);
      removed.push(...d.removed);
    }
    for (const old of oldByScope.values()) removed.push(...old.items.keys());
    return { chunks, removed, full: false };
  }
}
