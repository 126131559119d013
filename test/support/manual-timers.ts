/** Timers a test moves by hand (the proxy's injectable ProxyTimers): no wall-clock waits in unit tests. */
import type { ProxyTimers } from '../../src/proxy/timers.js';

/** Timers that fire only when the test calls `advance` (in due order). */
export class ManualTimers implements ProxyTimers {
  private t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  /** Timers set and not yet fired or cleared. */
  get pending(): number { return this.due.size; }
  setTimeout(fn: () => void, ms: number): unknown { this.due.set(++this.seq, { at: this.t + ms, fn }); return this.seq; }
  clearTimeout(h: unknown): void { this.due.delete(h as number); }
  /** Moves time forward by `ms`, running every timer that falls due. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.due].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.due.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}
