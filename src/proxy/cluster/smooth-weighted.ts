/**
 * Smooth weighted round robin (the nginx algorithm): deterministic, and over any window of
 * `sum(weights)` picks each item is chosen exactly `weight` times, spread out rather than in
 * bursts. Used for route destination splits and weighted endpoint round robin.
 */

/** A deterministic weighted picker over fixed items. */
export class SmoothWeighted<T> {
  private readonly items: T[];
  private readonly weights: number[];
  private readonly current: number[];
  private readonly total: number;

  /** Items with weight <= 0 are never picked; at least one positive weight is expected. */
  constructor(entries: Array<{ item: T; weight: number }>) {
    const live = entries.filter((e) => e.weight > 0);
    this.items = live.map((e) => e.item);
    this.weights = live.map((e) => e.weight);
    this.current = live.map(() => 0);
    this.total = this.weights.reduce((a, b) => a + b, 0);
  }

  /** Number of pickable items. */
  get size(): number {
    return this.items.length;
  }

  /** The next item; undefined only when no weight is positive. */
  next(): T | undefined {
    const n = this.items.length;
    if (n <= 1) return this.items[0];
    let best = 0;
    for (let i = 0; i < n; i++) {
      this.current[i]! += this.weights[i]!;
      if (this.current[i]! > this.current[best]!) best = i;
    }
    this.current[best]! -= this.total;
    return this.items[best];
  }
}
