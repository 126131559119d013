import { afterAll, beforeAll } from 'vitest';
import { describeStore } from '../store.suite.js';
import { openEtcdStore } from './etcd.js';
import { startEtcd, type EtcdCluster } from './etcd-process.js';

let etcd: EtcdCluster;
let n = 0;
beforeAll(async () => { etcd = await startEtcd(1); });
afterAll(async () => { await etcd?.stop(); });

// Each test gets its own key prefix on one real etcd, so tests start from an empty store.
describeStore('etcd', async () => {
  const store = await openEtcdStore({ endpoints: etcd.url, prefix: `/t${++n}-${process.pid}/` });
  return {
    store,
    passTime: () => {},
    expiryWaitMs: 8000,
    async cleanup() { await store.close(); },
  };
});
