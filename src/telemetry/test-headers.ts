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

/** A header list shaped like the proxy's (src/proxy/http/head.ts Headers): parallel arrays, first match wins, `set` drops later duplicates. */
export class ListHeaders implements HeaderAccess {
  names: string[] = [];
  values: string[] = [];
  constructor(init: Array<[string, string]> = []) {
    for (const [k, v] of init) this.add(k, v);
  }
  get(name: string): string | undefined {
    const i = this.names.indexOf(name);
    return i < 0 ? undefined : this.values[i];
  }
  set(name: string, value: string): void {
    const i = this.names.indexOf(name);
    if (i < 0) return this.add(name, value);
    this.values[i] = value;
    for (let j = this.names.length - 1; j > i; j--) if (this.names[j] === name) { this.names.splice(j, 1); this.values.splice(j, 1); }
  }
  remove(name: string): void {
    for (let i = this.names.length - 1; i >= 0; i--) if (this.names[i] === name) { this.names.splice(i, 1); this.values.splice(i, 1); }
  }
  add(name: string, value: string): void {
    this.names.push(name);
    this.values.push(value);
  }
  /** `name: value` lines in order (what would go on the wire). */
  lines(): string[] {
    return this.names.map((n, i) => `${n}: ${this.values[i]}`);
  }
}
