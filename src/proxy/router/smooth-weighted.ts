/**
 * A route's split between its weighted destinations: HTTP routes (compile.ts) and TCP/TLS routes
 * (tcp/route.ts). Smooth weighted round robin (cluster/smooth-rotation.ts): deterministic, and
 * over any window of `sum(weights)` picks each item is chosen exactly `weight` times, spread out
 * rather than in bursts.
 */
import { SmoothRotation } from '../cluster/smooth-rotation.js';

/** A deterministic weighted picker over fixed items. */
export class SmoothWeighted<T> {
  private readonly items: T[];
  private readonly weights: number[];
  private readonly rotation: SmoothRotation;

  /** Items with weight <= 0 are never picked; at least one positive weight is expected. */
  constructor(entries: Array<{ item: T; weight: number }>) {
    const live = entries.filter((e) => e.weight > 0);
    this.items = live.map((e) => e.item);
    this.weights = live.map((e) => e.weight);
    this.rotation = new SmoothRotation(live);
  }

  /** Number of pickable items. */
  get size(): number {
    return this.items.length;
  }

  /** The next item; undefined only when no weight is positive. */
  next(): T | undefined {
    const n = this.items.length;
    if (n <= 1) return this.items[0];
    const weights = this.weights;
    for (let i = 0; i < n; i++) this.rotation.offer(i, weights[i]!);
    return this.items[this.rotation.take()];
  }
}
