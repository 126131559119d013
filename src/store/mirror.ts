import type { KvEvent } from './kv.js';
import { StoreError, type RawEntry, type Watch } from './store.js';

interface Watcher {
  prefix: string;
  /** Only events after this revision are delivered. */
  after: number;
  onEvents: (events: KvEvent[]) => void;
  onError: (err: Error) => void;
  queue: KvEvent[];
  scheduled: boolean;
  closed: boolean;
}

/**
 * The in-memory view of the key space that both backends serve reads and watches from: the
 * embedded store's authoritative state, or the etcd store's watch-driven cache. Keeps a bounded
 * history of recent events so watches can start from a past revision.
 */
export class Mirror {
  /** Current value of every key. */
  readonly entries = new Map<string, RawEntry>();
  /** Revision of the last published event. */
  revision = 0;
  /** Watches from a revision below this fail with Expired (history no longer holds it). */
  compacted = 0;
  private history: KvEvent[] = [];
  private watchers = new Set<Watcher>();
  private waiters: Array<{ rev: number; resolve: () => void }> = [];

  constructor(private readonly historyLimit = 20_000) {}

  /** Applies one change to the current state (without telling watchers). */
  apply(ev: KvEvent): void {
    if (ev.type === 'put') {
      const entry: RawEntry = { key: ev.key, value: ev.value, modRevision: ev.revision, createRevision: ev.createRevision };
      if (ev.ttlMs !== undefined) entry.ttlMs = ev.ttlMs;
      this.entries.set(ev.key, entry);
    } else {
      this.entries.delete(ev.key);
    }
  }

  /** Records already-applied events in the history, advances the revision and tells watchers. */
  publish(events: KvEvent[]): void {
    if (events.length === 0) return;
    for (const ev of events) this.history.push(ev);
    if (this.history.length > this.historyLimit) {
      const drop = this.history.length - this.historyLimit;
      this.compacted = this.history[drop - 1]!.revision;
      this.history.splice(0, drop);
    }
    this.revision = Math.max(this.revision, events[events.length - 1]!.revision);
    for (const w of this.watchers) this.enqueue(w, events);
    const due = this.waiters.filter((x) => x.rev <= this.revision);
    this.waiters = this.waiters.filter((x) => x.rev > this.revision);
    for (const x of due) x.resolve();
  }

  /** Applies and publishes in one step (the etcd cache's path). */
  applyAndPublish(events: KvEvent[]): void {
    for (const ev of events) this.apply(ev);
    this.publish(events);
  }

  /** Resolves once events up to `rev` have been published. */
  waitFor(rev: number): Promise<void> {
    if (this.revision >= rev) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ rev, resolve }));
  }

  /** Current entries under `prefix`, sorted by key. */
  range(prefix: string): RawEntry[] {
    const out: RawEntry[] = [];
    for (const [k, v] of this.entries) if (k.startsWith(prefix)) out.push(v);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Starts a watch: past events after `fromRevision` first, then live ones, always in order. */
  watch(prefix: string, fromRevision: number | undefined, onEvents: (events: KvEvent[]) => void, onError: (err: Error) => void): Watch {
    const w: Watcher = { prefix, after: fromRevision ?? this.revision, onEvents, onError, queue: [], scheduled: false, closed: false };
    if (fromRevision !== undefined && fromRevision < this.revision) {
      if (fromRevision < this.compacted) {
        queueMicrotask(() => {
          if (!w.closed) onError(new StoreError('Expired', `revision ${fromRevision} is too old (oldest available: ${this.compacted}); list again and watch from the list's revision`));
        });
        return { close: () => { w.closed = true; } };
      }
      this.enqueue(w, this.history.filter((e) => e.revision > fromRevision));
    }
    this.watchers.add(w);
    return { close: () => { w.closed = true; this.watchers.delete(w); } };
  }

  /** Fails every watch (e.g. the etcd cache lost history it cannot recover); they must restart. */
  failWatchers(err: Error): void {
    for (const w of this.watchers) {
      w.closed = true;
      queueMicrotask(() => w.onError(err));
    }
    this.watchers.clear();
  }

  private enqueue(w: Watcher, events: KvEvent[]): void {
    for (const ev of events) {
      if (ev.revision > w.after && ev.key.startsWith(w.prefix)) {
        w.queue.push(ev);
        w.after = ev.revision;
      }
    }
    if (w.queue.length === 0 || w.scheduled) return;
    w.scheduled = true;
    queueMicrotask(() => {
      w.scheduled = false;
      if (w.closed) return;
      const batch = w.queue;
      w.queue = [];
      try {
        w.onEvents(batch);
      } catch (err) {
        process.emitWarning(`store watch callback threw: ${String(err)}`);
      }
    });
  }
}
