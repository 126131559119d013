/**
 * Idle keep-alive connections are closed by one coarse sweep per proxy (ProxyContext.idleSweep)
 * instead of a socket timer that every read and write would refresh (node re-inserts a socket's
 * timer on each event): reads and request ends only set a flag; every min(1 s, idleTimeoutMs / 4)
 * the sweep reads the clock once, starts the idle period of connections that were active since
 * the last sweep at this sweep (after their last activity), and closes those idle for their
 * timeout since. So a connection closes at most two sweep periods after its idle timeout, never
 * before it.
 */

/** A connection the sweep watches (http/downstream.ts Downstream). */
export interface Sweepable {
  /** The sweep at `now`: start the idle period if active since the last sweep, else close when idle long enough. */
  sweepIdle(now: number): void;
}

/** The sweep's clock and interval timer, injectable so tests move time by hand. */
export interface SweepClock {
  now(): number;
  every(fn: () => void, ms: number): unknown;
  cancel(handle: unknown): void;
}

/** Date.now and an unref'd setInterval. */
export const realSweepClock: SweepClock = {
  now: () => Date.now(),
  every: (fn, ms) => setInterval(fn, ms).unref(),
  cancel: (h) => clearInterval(h as NodeJS.Timeout),
};

/** One proxy's idle sweep: runs while it watches a connection, as often as the shortest timeout needs. */
export class IdleSweep {
  private readonly watched = new Set<Sweepable>();
  private timer: unknown = null;
  private every = 0;

  constructor(private readonly clock: SweepClock = realSweepClock) {}

  /** Watches `c`, whose idle timeout is `idleMs`: the sweep then runs at least every min(1 s, idleMs / 4). */
  add(c: Sweepable, idleMs: number): void {
    this.watched.add(c);
    const every = Math.max(10, Math.min(1000, Math.floor(idleMs / 4)));
    if (this.timer !== null && every >= this.every) return;
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.every = every;
    this.timer = this.clock.every(() => this.sweep(), every);
  }

  /** Stops watching `c` (it closed, or left HTTP for a tunnel). */
  delete(c: Sweepable): void {
    this.watched.delete(c);
  }

  /** Connections watched. */
  get size(): number {
    return this.watched.size;
  }

  /** One sweep at the clock's now; stops the timer when nothing is left to watch. */
  sweep(): void {
    const now = this.clock.now();
    for (const c of this.watched) c.sweepIdle(now);
    if (this.watched.size === 0 && this.timer !== null) { this.clock.cancel(this.timer); this.timer = null; this.every = 0; }
  }
}
