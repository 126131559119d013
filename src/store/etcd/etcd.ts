import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { castGrpcError, Etcd3, isRecoverableError, type IKeyValue, type ITxnResponse, type Namespace, type Watcher } from 'etcd3';
import type { Kv, KvEvent, KvWriteResult } from '../kv.js';
import { Mirror } from '../mirror.js';
import { KvStore, type ResourceLayerOptions } from '../resources.js';
import { StoreError, type RawEntry, type Store, type Watch } from '../store.js';

class KeepAliveTimeout extends Error {
  constructor() { super('lease keepalive timed out'); }
}

/** Options of the etcd store. */
export interface EtcdOptions extends ResourceLayerOptions {
  /** `etcd://HOST:PORT[,HOST:PORT...]` or a list of `http://HOST:PORT`. */
  endpoints: string | string[];
  /** Key prefix for everything Bowline keeps (default `/bowline/`). */
  prefix?: string;
  /** Deadline of one etcd call in ms (default 2000): past it the call fails with Unavailable. */
  callTimeoutMs?: number;
}

/** Parses `etcd://h1:p1,h2:p2` into etcd3 host URLs. */
export function parseEtcdUrl(url: string): string[] {
  const m = /^etcd:\/\/(.+)$/.exec(url.trim());
  if (!m) throw new StoreError('Invalid', `store "${url}" is not etcd://HOST:PORT[,HOST:PORT...]`);
  const hosts = m[1]!.replace(/\/+$/, '').split(',').map((h) => h.trim()).filter(Boolean);
  if (hosts.length === 0 || hosts.some((h) => !/^[^\s/:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(h))) {
    throw new StoreError('Invalid', `store "${url}": each endpoint must be HOST:PORT`);
  }
  return hosts.map((h) => `http://${h}`);
}

// TTL keys keep their lease length next to the value, so every replica's cache knows it.
const TTL_MARK = '\u0000ttl:';
function wrap(value: string, ttlMs?: number): string {
  return ttlMs === undefined ? value : `${TTL_MARK}${ttlMs}\u0000${value}`;
}
function unwrap(raw: string): { value: string; ttlMs?: number } {
  if (!raw.startsWith(TTL_MARK)) return { value: raw };
  const end = raw.indexOf('\u0000', TTL_MARK.length);
  return { value: raw.slice(end + 1), ttlMs: Number(raw.slice(TTL_MARK.length, end)) };
}

/**
 * The etcd store's key space: writes go to etcd as transactions on mod revision; reads and
 * watches are served from a cache that one etcd watch keeps current (the Mirror).
 */
class EtcdKv implements Kv {
  readonly backend = 'etcd';
  private readonly mirror = new Mirror();
  private readonly leases = new Map<string, string>();
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private watcher: Watcher | undefined;
  private connected = false;
  private closed = false;
  private readonly hosts: string[];
  /** The endpoints as users wrote them (HOST:PORT,...), for messages. */
  private readonly where: string;

  constructor(private readonly opts: EtcdOptions) {
    this.hosts = typeof opts.endpoints === 'string' ? parseEtcdUrl(opts.endpoints) : opts.endpoints;
    this.where = this.hosts.map((h) => h.replace(/^https?:\/\//, '')).join(',');
    const timeout = opts.callTimeoutMs ?? 2000;
    this.client = new Etcd3({
      hosts: this.hosts,
      dialTimeout: timeout,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      faultHandling: {
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(2) }),
        global: retry(handleWhen(isRecoverableError), { maxAttempts: Math.max(2, this.hosts.length) }),
        // etcd3 calls next() on it like a backoff factory; cockatiel's class is one.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as never,
      },
    });
    this.ns = this.client.namespace(opts.prefix ?? '/bowline/');
  }

  private unavailable(err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    return new StoreError('Unavailable', `etcd at ${this.where} is unreachable: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  /** Loads the key space and starts the watch that keeps the cache current. */
  async open(): Promise<void> {
    let res;
    try {
      res = await this.ns.getAll().prefix('').exec();
    } catch (err) {
      this.client.close();
      throw this.unavailable(err);
    }
    for (const kv of res.kvs) this.mirror.apply(this.toEvent('put', kv));
    const rev = Number(res.header.revision);
    this.mirror.revision = rev;
    this.mirror.compacted = rev;
    const watcher = await this.ns.watch().prefix('').startRevision(String(rev + 1)).withPreviousKV().create();
    this.watcher = watcher;
    this.connected = true;
    watcher.on('connected', () => { this.connected = true; });
    watcher.on('disconnected', () => { this.connected = false; });
    watcher.on('error', () => { this.connected = false; });
    watcher.on('data', (r) => {
      const events = r.events.map((e) => this.toEvent(e.type === 'Delete' ? 'delete' : 'put', e.kv, e.prev_kv));
      this.mirror.applyAndPublish(events);
    });
  }

  private toEvent(type: 'put' | 'delete', kv: IKeyValue, prev?: IKeyValue): KvEvent {
    const key = kv.key.toString();
    const src = type === 'delete' ? prev : kv;
    const cached = this.mirror.entries.get(key);
    const raw = src ? unwrap(src.value.toString()) : { value: cached?.value ?? '', ...(cached?.ttlMs !== undefined ? { ttlMs: cached.ttlMs } : {}) };
    const ev: KvEvent = {
      type, key, value: raw.value,
      revision: Number(kv.mod_revision),
      createRevision: Number(src?.create_revision ?? cached?.createRevision ?? kv.create_revision),
    };
    if (raw.ttlMs !== undefined) ev.ttlMs = raw.ttlMs;
    if (type === 'put') {
      ev.existed = Number(kv.version) > 1;
      if (kv.lease && kv.lease !== '0') this.leases.set(key, kv.lease);
      else this.leases.delete(key);
    } else {
      this.leases.delete(key);
    }
    return ev;
  }

  private checkUp(): void {
    if (this.closed) throw new StoreError('Unavailable', 'the store is closed');
    if (!this.connected) throw new StoreError('Unavailable', `etcd at ${this.where} is unreachable (watch disconnected); retrying in the background`);
  }

  /** Waits (bounded) until the cache has seen revision `rev`, so a caller reads its own write. */
  private async caughtUp(rev: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.mirror.waitFor(rev), new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
  }

  async revision(): Promise<number> { this.checkUp(); return this.mirror.revision; }

  async get(key: string): Promise<RawEntry | undefined> {
    this.checkUp();
    const e = this.mirror.entries.get(key);
    return e ? { ...e } : undefined;
  }

  async range(prefix: string): Promise<{ entries: RawEntry[]; revision: number }> {
    this.checkUp();
    return { entries: this.mirror.range(prefix).map((e) => ({ ...e })), revision: this.mirror.revision };
  }

  private async txn(key: string, expectedModRevision: number | undefined, op: Parameters<ReturnType<Namespace['if']>['then']>[0]): Promise<ITxnResponse> {
    try {
      const cmp = expectedModRevision === undefined ? this.ns.if(key, 'Mod', '>', -1) : this.ns.if(key, 'Mod', '==', expectedModRevision);
      return await cmp.then(op).commit();
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async put(key: string, value: string, opts: { expectedModRevision?: number; ttlMs?: number }): Promise<KvWriteResult> {
    if (this.closed) throw new StoreError('Unavailable', 'the store is closed');
    const before = this.mirror.entries.get(key);
    let builder = this.ns.put(key).value(wrap(value, opts.ttlMs));
    if (opts.ttlMs !== undefined) {
      try {
        const grant = await this.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(opts.ttlMs / 1000)), ID: 0 });
        builder = builder.lease(grant.ID);
      } catch (err) {
        throw this.unavailable(err);
      }
    }
    const res = await this.txn(key, opts.expectedModRevision, builder);
    const revision = Number(res.header.revision);
    await this.caughtUp(revision);
    if (!res.succeeded) {
      const cur = this.mirror.entries.get(key);
      return cur ? { ok: false, current: { ...cur } } : { ok: false };
    }
    return before ? { ok: true, revision, prev: { ...before } } : { ok: true, revision };
  }

  async delete(key: string, opts: { expectedModRevision?: number }): Promise<KvWriteResult> {
    if (this.closed) throw new StoreError('Unavailable', 'the store is closed');
    const cmp = opts.expectedModRevision === undefined ? this.ns.if(key, 'Mod', '>', 0) : this.ns.if(key, 'Mod', '==', opts.expectedModRevision);
    let res: ITxnResponse;
    try {
      res = await cmp.then(this.ns.get(key), this.ns.delete().key(key)).else(this.ns.get(key)).commit();
    } catch (err) {
      throw this.unavailable(err);
    }
    const revision = Number(res.header.revision);
    await this.caughtUp(revision);
    const kv = res.responses[0]?.response_range?.kvs?.[0];
    if (!res.succeeded || !kv) {
      if (!kv) return { ok: false };
      const cur = this.mirror.entries.get(key);
      return cur ? { ok: false, current: { ...cur } } : { ok: false };
    }
    const raw = unwrap(kv.value.toString());
    const prev: RawEntry = { key, value: raw.value, modRevision: Number(kv.mod_revision), createRevision: Number(kv.create_revision) };
    if (raw.ttlMs !== undefined) prev.ttlMs = raw.ttlMs;
    return { ok: true, revision, prev };
  }

  /**
   * Renews the lease of `key`. The renewal is a stream, which etcd3's retry policy does not cover
   * (and opening a stream counts as a success in the member's breaker, so a dead member keeps being
   * picked at random), so the store goes around a dead or hung member itself: a failed attempt is
   * tried again on the pool's next pick until twice the call deadline has passed. A refused
   * connection fails in milliseconds, so with any member alive the renewal gets through.
   */
  async keepAlive(key: string): Promise<void> {
    if (this.closed) throw new StoreError('Unavailable', 'the store is closed');
    const id = this.leases.get(key);
    if (!id) throw new StoreError('NotFound', `lease of key ${key} not found (expired or never set with a TTL)`);
    const timeout = this.opts.callTimeoutMs ?? 2000;
    const giveUpAt = Date.now() + 2 * timeout;
    let ttl: string | undefined;
    for (let attempt = 1; ttl === undefined; attempt++) {
      try {
        ttl = await this.keepAliveOnce(id, Math.max(1, Math.min(timeout, giveUpAt - Date.now())));
      } catch (err) {
        const retriable = err instanceof KeepAliveTimeout || isRecoverableError(castGrpcError(err as Error));
        const pause = Math.min(10 * attempt, 100);
        if (!retriable || this.closed || Date.now() + pause >= giveUpAt) throw this.unavailable(err);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    if (Number(ttl) <= 0) throw new StoreError('NotFound', `lease of key ${key} has expired`);
  }

  private async keepAliveOnce(id: string, timeout: number): Promise<string> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new KeepAliveTimeout()), timeout);
        stream.on('data', (r: { TTL: string }) => { clearTimeout(timer); resolve(r.TTL); });
        stream.on('error', (e: Error) => { clearTimeout(timer); reject(e); });
        stream.write({ ID: id });
      });
    } finally {
      stream.end();
    }
  }

  watch(prefix: string, fromRevision: number | undefined, onEvents: (events: KvEvent[]) => void, onError: (err: Error) => void): Watch {
    return this.mirror.watch(prefix, fromRevision, onEvents, onError);
  }

  async healthy(): Promise<boolean> {
    if (this.closed || !this.connected) return false;
    try {
      await this.client.maintenance.status();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try { await this.watcher?.cancel(); } catch {}
    this.client.close();
  }
}

/** Connects to etcd, loads Bowline's keys into the cache and starts watching; throws Unavailable if etcd cannot be reached. */
export async function openEtcdStore(opts: EtcdOptions): Promise<Store> {
  const kv = new EtcdKv(opts);
  await kv.open();
  return new KvStore(kv, opts);
}
