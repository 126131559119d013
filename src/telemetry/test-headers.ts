/** A tiny header list for tests (the proxy's own Headers class has the same get/set/remove shape). */
import type { HeaderAccess } from './tracing/context.js';

/** Map-backed HeaderAccess for tests. */
export class TestHeaders implements HeaderAccess {
  readonly map = new Map<string, string>();
  constructor(init: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(init)) this.map.set(k, v);
  }
  get(name: string): string | undefined {
    return this.map.get(name);
  }
  set(name: string, value: string): void {
    this.map.set(name, value);
  }
  remove(name: string): void {
    this.map.delete(name);
  }
}
