/**
 * Where the CA keeps its state: a narrow slice of the store's raw key space (src/store/store.ts
 * `getRaw`/`putRaw`), so the control plane passes its Store as is. `MemoryCaStorage` serves tests
 * and the bench.
 */

/** The raw-key operations the CA uses; src/store's Store satisfies this structurally. */
export interface CaStorage {
  /** One key's value and mod revision, or undefined. */
  getRaw(key: string): Promise<{ value: string; modRevision: number } | undefined>;
  /**
   * Writes a key. `expectedModRevision` 0 means "must not exist", another number "must still be at
   * that revision"; otherwise the write fails with an error whose `reason` is `Conflict`
   * (a StoreError). With `ttlMs` the key disappears after that long.
   */
  putRaw(key: string, value: string, opts?: { ttlMs?: number; expectedModRevision?: number }): Promise<number>;
}

/** True when a storage write failed because the key changed under it (StoreError reason Conflict or AlreadyExists). */
export function isConflict(err: unknown): boolean {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return reason === 'Conflict' || reason === 'AlreadyExists';
}

/** An in-memory CaStorage with the store's compare-and-put and TTL semantics (tests, bench). */
export class MemoryCaStorage implements CaStorage {
  private rev = 0;
  private readonly data = new Map<string, { value: string; modRevision: number; expiresAt?: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  /** See CaStorage.getRaw. */
  async getRaw(key: string): Promise<{ value: string; modRevision: number } | undefined> {
    return this.peek(key);
  }

  /** The live entry, read synchronously so a compare-and-swap is atomic (as in the real stores). */
  private peek(key: string): { value: string; modRevision: number } | undefined {
    const e = this.data.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= this.now()) this.data.delete(key);
    const live = this.data.get(key);
    return live && { value: live.value, modRevision: live.modRevision };
  }

  /** See CaStorage.putRaw. */
  async putRaw(key: string, value: string, opts: { ttlMs?: number; expectedModRevision?: number } = {}): Promise<number> {
    const cur = this.peek(key);
    if (opts.expectedModRevision !== undefined && (cur?.modRevision ?? 0) !== opts.expectedModRevision) {
      throw Object.assign(new Error(`conflict writing ${key}`), { reason: 'Conflict' });
    }
    this.rev += 1;
    this.data.set(key, { value, modRevision: this.rev, ...(opts.ttlMs !== undefined ? { expiresAt: this.now() + opts.ttlMs } : {}) });
    return this.rev;
  }
}
