/**
 * Rate-limited logging for the data plane: one line per key per interval, so a flood of bad
 * requests costs one line, not one per request. Keys name a kind of event (a code and a
 * config-bounded name such as a cluster or listener), never message text; and the memory of
 * keys is bounded anyway: the map is kept in last-logged order and the oldest keys are dropped
 * first (expired ones, then, when every key is recent, the least recently logged).
 */

/** A key logs at most once per this interval. */
export const LOG_INTERVAL_MS = 10_000;
/** At most this many keys are remembered. */
export const MAX_LOG_KEYS = 1024;

/** A rate-limited log function and how many keys it remembers. */
export interface RateLimitedLog {
  /** Writes `bowline proxy: MESSAGE` unless `key` was logged within the interval; never throws. */
  log(key: string, message: string): void;
  /** Keys remembered now (at most MAX_LOG_KEYS). */
  size(): number;
}

/** Creates a rate-limited log writing lines through `write`; `now` is injectable for tests. */
export function rateLimitedLog(write: (line: string) => void, now: () => number = Date.now, maxKeys = MAX_LOG_KEYS): RateLimitedLog {
  const last = new Map<string, number>();
  return {
    log(key, message) {
      const t = now();
      const prev = last.get(key);
      if (prev !== undefined && t - prev < LOG_INTERVAL_MS) return;
      if (prev !== undefined) last.delete(key); // re-inserted below: the map stays in last-logged order
      else if (last.size >= maxKeys) evict(last, t, maxKeys);
      last.set(key, t);
      try { write(`bowline proxy: ${message}`); } catch { /* logging never fails a request */ }
    },
    size: () => last.size,
  };
}

function evict(last: Map<string, number>, t: number, maxKeys: number): void {
  for (const [k, at] of last) {
    if (t - at < LOG_INTERVAL_MS && last.size < maxKeys) return;
    last.delete(k);
    if (t - at < LOG_INTERVAL_MS) return; // dropped the least recently logged live key: room for one
  }
}
