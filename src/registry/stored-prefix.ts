/**
 * A live, parsed copy of the raw store keys under one prefix: the manual and universal
 * registries both keep their registrations this way (list once, then watch from that revision).
 */
import type { Store, Watch } from '../store/store.js';

/** The entries under `prefix`, kept current by a watch; `parse` returns undefined for a value to ignore. */
export class StoredPrefix<T> {
  /** Store key -> parsed value. */
  readonly entries = new Map<string, T>();
  private watch?: Watch;

  constructor(
    private readonly store: Store,
    private readonly prefix: string,
    private readonly parse: (value: string) => T | undefined,
    private readonly onChange: () => void,
  ) {}

  /** Lists the prefix and watches it from the listed revision; resolves when `entries` is complete. */
  async start(): Promise<void> {
    const { entries, revision } = await this.store.listRaw(this.prefix);
    for (const e of entries) this.accept(e.key, e.value);
    this.watch = this.store.watchRaw(this.prefix, (ev) => {
      if (ev.type === 'DELETED') this.entries.delete(ev.object.key);
      else this.accept(ev.object.key, ev.object.value);
      this.onChange();
    }, { fromRevision: revision });
  }

  /** Stops watching. */
  stop(): void {
    this.watch?.close();
  }

  /** Keeps a value that parses; a malformed one leaves the key's previous value in place. */
  private accept(key: string, value: string): void {
    let v: T | undefined;
    try {
      v = this.parse(value);
    } catch {}
    if (v !== undefined) this.entries.set(key, v);
  }
}
