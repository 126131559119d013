// The shared store suite (src/store/store.suite.ts) against the Kubernetes backend and a real
// kube-apiserver: Istio resources as Istio's CRDs (installed from Bowline's own schemas), raw keys as
// Secrets, ConfigMaps and Leases of the root namespace. Each test starts from an empty store: the
// fixture deletes what the previous one wrote.
import { afterAll, beforeAll } from 'vitest';
import { kinds } from '../../src/api/kinds.js';
import { installCrds } from '../../src/platform/kubernetes/install.js';
import { openKubernetesStore } from '../../src/store/kubernetes/kubernetes.js';
import { describeStore } from '../../src/store/store.suite.js';
import type { Store } from '../../src/store/store.js';
import { kubeBinariesBuilt, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';

let kube: KubeCluster;

beforeAll(async () => {
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  kube = await startKubeCluster();
}, 120_000);
afterAll(async () => { await kube?.stop(); });

async function empty(store: Store): Promise<void> {
  for (const kind of Object.keys(kinds)) {
    for (const o of (await store.list(kind)).items) await store.delete(kind, o.metadata.namespace, o.metadata.name).catch(() => {});
  }
  for (const e of (await store.listRaw('')).entries) await store.deleteRaw(e.key);
}

describeStore('kubernetes (a real kube-apiserver)', async () => {
  const store = await openKubernetesStore({ kubeconfig: kube.kubeconfig, crds: installCrds() as Array<Record<string, unknown>> });
  await empty(store);
  await store.revision();
  return {
    store,
    passTime: () => {},
    expiryWaitMs: 10_000,
    othersWrite: true,
    async cleanup() {
      await empty(store);
      await store.close();
    },
  };
});
