import { mkdirSync, readFileSync, writeFileSync, unlinkSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../clock.js';
import type { Kv, KvEvent, KvWriteResult } from '../kv.js';
import { Mirror } from '../mirror.js';
import { KvStore, type ResourceLayerOptions } from '../resources.js';
import { StoreError, type Clock, type RawEntry, type Store, type Watch } from '../store.js';
import { AppendLog, readLog, recoveryHint, type LogOp } from './log.js';
import { readSnapshot, writeSnapshot, type Snapshot } from './snapshot.js';

/** Options of the embedded store. */
export interface EmbeddedOptions extends ResourceLayerOptions {
  /** Directory of the store's files (`$BOWLINE_HOME/store`). */
  dir: string;
  /** Clock for TTL expiry (default: the system clock). */
  clock?: Clock;
  /** Take a snapshot and empty the log after this many records (default 10000). */
  snapshotEvery?: number;
  /** How often TTL keys are checked for expiry (default 250 ms). */
  sweepMs?: number;
  /** Snapshot on close so the next start replays nothing (default true). */
  snapshotOnClose?: boolean;
  /** Where a repaired torn tail is reported (default stderr). */
  log?: (line: string) => void;
}

/**
 * The embedded store's key space: an in-memory map made durable by an fsync'd append-only log
 * (group commit) and periodic snapshots. Writes resolve only once on disk; watchers see them then.
 */
class EmbeddedKv implements Kv {
  readonly backend = 'embedded';
  private readonly mirror = new Mirror();
  private readonly expires = new Map<string, number>();
  private rev = 0;
  private log!: AppendLog;
  private sweepTimer: unknown;
  private closed = false;
  private readonly clock: Clock;
  private readonly snapPath: string;
  private readonly lockPath: string;

  constructor(private readonly opts: EmbeddedOptions) {
    this.clock = opts.clock ?? systemClock;
    this.snapPath = join(opts.dir, 'snapshot.json');
    this.lockPath = join(opts.dir, 'LOCK');
  }

  async open(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    this.lock();
    try {
      await this.replay();
    } catch (err) {
      try { unlinkSync(this.lockPath); } catch {}
      throw err;
    }
  }

  /** Loads the snapshot and the log (refusing damage that would lose acknowledged writes), then opens the log for appends. */
  private async replay(): Promise<void> {
    const walPath = join(this.opts.dir, 'wal.log');
    const { ops, marker } = readLog(walPath, this.opts.log ?? ((l) => process.stderr.write(`${l}\n`)));
    const snap = readSnapshot(this.snapPath);
    if (marker !== undefined && marker > 0 && (!snap || snap.revision < marker)) {
      throw new StoreError('Corrupt', `store ${this.opts.dir}: the log follows a snapshot at revision ${marker}, but ${snap ? `${this.snapPath} is at revision ${snap.revision}` : `${this.snapPath} is missing`}: refusing to start with ${snap ? 'older' : 'no'} data. ${recoveryHint(this.opts.dir)}`);
    }
    if (snap) {
      for (const e of snap.entries) this.load({ t: 'p', k: e.k, v: e.v, r: e.r, c: e.c, ...(e.ttl ? { ttl: e.ttl, exp: e.exp } : {}) });
      this.rev = snap.revision;
    }
    for (const op of ops) {
      if (op.t === 'k') {
        if (this.mirror.entries.has(op.k)) this.expires.set(op.k, op.exp);
      } else if (op.r > this.rev) {
        this.load(op);
        this.rev = op.r;
      }
    }
    this.mirror.revision = this.rev;
    this.mirror.compacted = this.rev;
    const dirFd = openSync(this.opts.dir, 'r');
    fsyncSync(dirFd);
    closeSync(dirFd);
    this.log = await AppendLog.open(walPath, () => this.maybeSnapshot());
    this.scheduleSweep();
  }

  private lock(): void {
    try {
      const pid = Number(readFileSync(this.lockPath, 'utf8'));
      if (pid && pid !== process.pid) {
        let alive = false;
        try { process.kill(pid, 0); alive = true; } catch { alive = false; }
        if (alive) throw new StoreError('Unavailable', `the store in ${this.opts.dir} is in use by process ${pid}; stop it or use another --home`);
      }
    } catch (err) {
      if (err instanceof StoreError) throw err;
    }
    writeFileSync(this.lockPath, String(process.pid));
  }

  private load(op: LogOp): void {
    if (op.t === 'p') {
      this.mirror.apply({ type: 'put', key: op.k, value: op.v, revision: op.r, createRevision: op.c, ...(op.ttl ? { ttlMs: op.ttl } : {}) });
      if (op.exp !== undefined) this.expires.set(op.k, op.exp);
      else this.expires.delete(op.k);
    } else if (op.t === 'd') {
      this.mirror.apply({ type: 'delete', key: op.k, value: '', revision: op.r, createRevision: 0 });
      this.expires.delete(op.k);
    }
  }

  private check(): void {
    if (this.closed) throw new StoreError('Unavailable', 'the store is closed');
  }

  async revision(): Promise<number> { return this.rev; }

  async get(key: string): Promise<RawEntry | undefined> {
    this.check();
    const e = this.mirror.entries.get(key);
    return e ? { ...e } : undefined;
  }

  async range(prefix: string): Promise<{ entries: RawEntry[]; revision: number }> {
    this.check();
    return { entries: this.mirror.range(prefix).map((e) => ({ ...e })), revision: this.rev };
  }

  /** Applies one change now (so later conditions see it), logs it, publishes it once durable. */
  private async commit(ev: KvEvent, op: LogOp): Promise<void> {
    this.mirror.apply(ev);
    try {
      await this.log.append(op);
    } catch (err) {
      throw new StoreError('Unavailable', String((err as Error).message), { cause: err });
    }
    this.mirror.publish([ev]);
  }

  async put(key: string, value: string, opts: { expectedModRevision?: number; ttlMs?: number }): Promise<KvWriteResult> {
    this.check();
    const cur = this.mirror.entries.get(key);
    if (opts.expectedModRevision !== undefined && (cur?.modRevision ?? 0) !== opts.expectedModRevision) {
      return cur ? { ok: false, current: { ...cur } } : { ok: false };
    }
    const revision = ++this.rev;
    const createRevision = cur?.createRevision ?? revision;
    const ev: KvEvent = { type: 'put', key, value, revision, createRevision, existed: !!cur };
    const op: LogOp = { t: 'p', k: key, v: value, r: revision, c: createRevision };
    if (opts.ttlMs !== undefined) {
      const exp = this.clock.now() + opts.ttlMs;
      ev.ttlMs = op.ttl = opts.ttlMs;
      op.exp = exp;
      this.expires.set(key, exp);
    } else {
      this.expires.delete(key);
    }
    await this.commit(ev, op);
    return cur ? { ok: true, revision, prev: { ...cur } } : { ok: true, revision };
  }

  async delete(key: string, opts: { expectedModRevision?: number }): Promise<KvWriteResult> {
    this.check();
    const cur = this.mirror.entries.get(key);
    if (!cur) return { ok: false };
    if (opts.expectedModRevision !== undefined && cur.modRevision !== opts.expectedModRevision) return { ok: false, current: { ...cur } };
    const revision = ++this.rev;
    this.expires.delete(key);
    const ev: KvEvent = { type: 'delete', key, value: cur.value, revision, createRevision: cur.createRevision };
    if (cur.ttlMs !== undefined) ev.ttlMs = cur.ttlMs;
    await this.commit(ev, { t: 'd', k: key, r: revision });
    return { ok: true, revision, prev: { ...cur } };
  }

  async keepAlive(key: string): Promise<void> {
    this.check();
    const cur = this.mirror.entries.get(key);
    if (!cur || cur.ttlMs === undefined) throw new StoreError('NotFound', `lease of key ${key} not found (expired or never set with a TTL)`);
    const exp = this.clock.now() + cur.ttlMs;
    this.expires.set(key, exp);
    await this.log.append({ t: 'k', k: key, exp });
  }

  watch(prefix: string, fromRevision: number | undefined, onEvents: (events: KvEvent[]) => void, onError: (err: Error) => void): Watch {
    return this.mirror.watch(prefix, fromRevision, onEvents, onError);
  }

  async healthy(): Promise<boolean> { return !this.closed; }

  private scheduleSweep(): void {
    if (this.closed) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweep();
      this.scheduleSweep();
    }, this.opts.sweepMs ?? 250);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, exp] of this.expires) {
      if (exp <= now) {
        const cur = this.mirror.entries.get(key);
        if (cur) void this.delete(key, { expectedModRevision: cur.modRevision }).catch(() => {});
        this.expires.delete(key);
      }
    }
  }

  /** Every key at the current revision, captured synchronously (a consistent copy; snapshots and backups). */
  dump(): Snapshot {
    return {
      revision: this.rev,
      entries: [...this.mirror.entries.values()].map((e) => {
        const exp = this.expires.get(e.key);
        return { k: e.key, v: e.value, r: e.modRevision, c: e.createRevision, ...(e.ttlMs !== undefined && exp !== undefined ? { ttl: e.ttlMs, exp } : {}) };
      }),
    };
  }

  private async maybeSnapshot(force = false): Promise<void> {
    if (!force && this.log.records < (this.opts.snapshotEvery ?? 10_000)) return;
    // Captured synchronously: exactly the state of every record logged so far.
    const snap = this.dump();
    await writeSnapshot(this.snapPath, snap);
    await this.log.reset(snap.revision);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.sweepTimer);
    await this.log.drain();
    // A clean shutdown leaves a snapshot and an empty log, so the next start replays nothing.
    if (this.log.records > 0 && this.opts.snapshotOnClose !== false) {
      try {
        await this.maybeSnapshot(true);
      } catch (err) {
        process.emitWarning(`store snapshot at close failed (the log still has every write): ${String(err)}`);
      }
    }
    await this.log.close();
    try { unlinkSync(this.lockPath); } catch {}
  }
}

/** Opens (creating if needed) the embedded store in `opts.dir`, replaying its snapshot and log. */
export async function openEmbeddedStore(opts: EmbeddedOptions): Promise<Store> {
  const kv = new EmbeddedKv(opts);
  await kv.open();
  return new KvStore(kv, opts);
}
