import { join } from 'node:path';
import { openEmbeddedStore } from './embedded/embedded.js';
import { openEtcdStore } from './etcd/etcd.js';
import { StoreError, type Clock, type Store } from './store.js';

export * from './store.js';
export { FakeClock, systemClock } from './clock.js';
export { openEmbeddedStore, type EmbeddedOptions } from './embedded/embedded.js';
export { openEtcdStore, parseEtcdUrl, type EtcdOptions } from './etcd/etcd.js';

/** Opens the store a `--store` flag names: `embedded` (under `home/store`) or `etcd://HOST:PORT[,...]`. */
export async function openStore(spec: string, opts: { home: string; clock?: Clock }): Promise<Store> {
  if (spec === 'embedded' || spec === '') return openEmbeddedStore({ dir: join(opts.home, 'store'), ...(opts.clock ? { clock: opts.clock } : {}) });
  if (spec.startsWith('etcd://')) return openEtcdStore({ endpoints: spec });
  throw new StoreError('Invalid', `unknown store "${spec}": use "embedded" or etcd://HOST:PORT[,HOST:PORT...]`);
}
