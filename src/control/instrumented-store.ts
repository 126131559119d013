import { isStoreError, type Store } from '../store/index.js';
import type { Metrics } from './metrics.js';

const TIMED = ['get', 'list', 'create', 'update', 'delete', 'putRaw', 'getRaw', 'listRaw', 'deleteRaw', 'keepAlive'] as const;

/** Wraps a store so every call's latency lands in `bowline_store_request_duration_seconds{op,backend}`. */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const wrapped = Object.create(store) as Store;
  for (const op of TIMED) {
    const fn = (store[op] as (...a: unknown[]) => Promise<unknown>).bind(store);
    (wrapped as unknown as Record<string, unknown>)[op] = async (...args: unknown[]) => {
      const t0 = process.hrtime.bigint();
      let result = 'ok';
      try {
        return await fn(...args);
      } catch (err) {
        result = isStoreError(err) ? err.reason : 'error';
        throw err;
      } finally {
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        metrics.observe('bowline_store_request_duration_seconds', 'Latency of store calls by operation', { op, backend: store.backend }, secs);
        if (result === 'Unavailable') metrics.inc('bowline_store_unavailable_total', 'Store calls that failed because the backend was unreachable', { op });
      }
    };
  }
  for (const m of ['revision', 'watch', 'watchRaw', 'healthy', 'close'] as const) {
    (wrapped as unknown as Record<string, unknown>)[m] = (store[m] as (...a: unknown[]) => unknown).bind(store);
  }
  return wrapped;
}
