/**
 * Connection drain with a deadline, as Envoy drains a listener for its drain time (`--drain-time-s`, Istio's
 * drainDuration): when a listener goes away or moves, when its filter chains change (PERMISSIVE -> STRICT) and when
 * the proxy shuts down, every connection concerned is asked to finish (HTTP/1.1: `connection: close` on the response in
 * flight or the next one; HTTP/2: GOAWAY). One `DrainBatch` per drain, with three timers for all its connections
 * (none per connection), unref'd and cleared as soon as its last connection closes:
 * - the idle grace (min(1 s, drain time)): an HTTP/1.1 connection with no request in flight and no head begun is
 *   closed. A request the client had already sent when the drain started arrives within it and is answered (with
 *   `connection: close`), instead of meeting a closed connection; a keep-alive connection idle in a client's pool does
 *   not hold a shutdown for the whole drain time.
 * - the deadline (the drain time): what is still open is closed (`drainDeadlineClosed`): a TCP proxy session with a
 *   FIN both ways, an HTTP/2 connection with its open streams reset and a final GOAWAY before its FIN (h2/server.ts),
 *   every other connection (a request in flight, a WebSocket, one still in protocol detection or its TLS handshake)
 *   at once. HTTP connections the drain closed before the deadline count in `drainClosed`.
 * - the close grace (min(1 s, drain time) after the deadline): a socket whose peer did not finish after the FIN is
 *   destroyed.
 */
import type { Socket } from 'node:net';
import type { ProxyStats } from './stats.js';
import { realTimers, type ProxyTimers } from './timers.js';

/** The longest an idle HTTP/1.1 connection stays open in a drain, and a FIN'd TCP session after the deadline. */
export const DRAIN_GRACE_MS = 1000;

/** A connection the listener tracks for drain and shutdown. */
export interface TrackedConnection {
  readonly socket: Socket;
  /** Asks the connection to finish what is in flight and close; false: it takes no part in this drain (it was re-matched instead). */
  drain(): boolean | void;
  /** The drain's idle grace ended: close if nothing is in flight (HTTP/1.1). */
  drainIdle?(): void;
  /** The drain's deadline: start closing (a TCP session ends both sides, HTTP/2 resets its streams and sends a final GOAWAY); false when it was closing already. Absent: the socket is destroyed. */
  closeAtDeadline?(): boolean;
}

/** Where the dispatcher registers connections (the listener's set). */
export interface ConnectionTracker {
  add(c: TrackedConnection): void;
  delete(c: TrackedConnection): void;
  /** `c` takes over from `old` (detection handed the socket to a codec); true when `old` was draining (then so is `c`: call its drain()). */
  replace(old: TrackedConnection, c: TrackedConnection): boolean;
}

/** How a drain runs: its duration (the deadline), the timers and the counters. */
export interface DrainOptions {
  durationMs: number;
  timers?: ProxyTimers | undefined;
  stats: ProxyStats;
}

/** One listener's open connections and the drains under way among them. */
export class ConnectionSet implements ConnectionTracker {
  private readonly all = new Set<TrackedConnection>();
  /** Drains under way (usually none). */
  private readonly batches = new Set<DrainBatch>();

  get size(): number { return this.all.size; }

  [Symbol.iterator](): Iterator<TrackedConnection> { return this.all[Symbol.iterator](); }

  add(c: TrackedConnection): void { this.all.add(c); }

  delete(c: TrackedConnection): void {
    if (!this.all.delete(c) || this.batches.size === 0) return;
    for (const b of this.batches) b.gone(c);
  }

  replace(old: TrackedConnection, c: TrackedConnection): boolean {
    this.all.delete(old);
    this.all.add(c);
    let draining = false;
    for (const b of this.batches) if (b.swap(old, c)) draining = true;
    return draining;
  }

  /** Drains every connection of the set; `done` resolves once they are all closed (at the latest after the deadline's close grace). */
  drain(opts: DrainOptions): DrainBatch {
    const b = new DrainBatch(opts, (x) => this.batches.delete(x));
    for (const c of this.all) if (c.drain() !== false) b.members.add(c);
    this.batches.add(b);
    b.start();
    return b;
  }
}

/** One drain of some connections: its timers and the connections still open. */
export class DrainBatch {
  /** Connections of this drain still open. */
  readonly members = new Set<TrackedConnection>();
  /** Resolves when every member closed, or after the close grace (everything left destroyed). */
  readonly done: Promise<void>;
  private resolve!: () => void;
  private timer: unknown = null;
  private readonly timers: ProxyTimers;
  private finished = false;

  constructor(private readonly opts: DrainOptions, private readonly onFinish: (b: DrainBatch) => void) {
    this.timers = opts.timers ?? realTimers;
    this.done = new Promise<void>((r) => { this.resolve = r; });
  }

  /** Arms the idle grace (then the deadline, then the close grace), or finishes at once when nothing is draining. */
  start(): void {
    if (this.members.size === 0) { this.finish(); return; }
    const d = Math.max(0, this.opts.durationMs);
    const grace = Math.min(DRAIN_GRACE_MS, d);
    this.arm(grace, () => {
      for (const c of [...this.members]) c.drainIdle?.();
      this.arm(d - grace, () => {
        this.deadline();
        this.arm(Math.min(DRAIN_GRACE_MS, d), () => {
          for (const c of this.members) c.socket.destroy();
          this.finish();
        });
      });
    });
  }

  /** `c` closed. */
  gone(c: TrackedConnection): void {
    if (this.members.delete(c) && this.members.size === 0) this.finish();
  }

  /** `c` replaces `old` if `old` is a member; true when it was. */
  swap(old: TrackedConnection, c: TrackedConnection): boolean {
    if (!this.members.delete(old)) return false;
    this.members.add(c);
    return true;
  }

  /** The deadline: every member still open starts closing (TCP: FIN both ways) or is closed. */
  private deadline(): void {
    const stats = this.opts.stats;
    for (const c of [...this.members]) {
      if (c.closeAtDeadline !== undefined) {
        if (c.closeAtDeadline()) stats.drainDeadlineClosed++;
      } else if (!c.socket.destroyed) {
        stats.drainDeadlineClosed++;
        c.socket.destroy();
      }
    }
  }

  private arm(ms: number, fn: () => void): void {
    const t = this.timers.setTimeout(() => { this.timer = null; if (!this.finished) fn(); }, ms);
    (t as { unref?: () => void } | null)?.unref?.();
    this.timer = t;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) { this.timers.clearTimeout(this.timer); this.timer = null; }
    this.onFinish(this);
    this.resolve();
  }
}
