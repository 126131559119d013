/**
 * With `--config-source kubernetes` and no key-encryption key given (`--ca-kek-file`, env
 * BOWLINE_CA_KEK_FILE / BOWLINE_CA_KEK), the KEK lives in the Secret `bowline-ca-kek` (key `kek`)
 * of the root namespace: the first replica creates it (a create that only one can win), every
 * replica and every restart reads it. A pod's home is an emptyDir, so a KEK generated there would
 * be lost with the pod and the CA's sealed root with it. As istiod's `istio-ca-secret`, it is as
 * safe as the Secrets of the root namespace; give `--ca-kek-file` from a KMS-backed mount to do better.
 */
import { randomBytes } from 'node:crypto';
import { parseKek, type Kek } from '../ca/index.js';
import { KubeCallError, KubeRest } from '../store/kubernetes/rest.js';

/** Name of the Secret holding the KEK. */
export const KEK_SECRET = 'bowline-ca-kek';

/** Reads the KEK from the Secret, creating the Secret when it does not exist. */
export async function clusterKek(o: { kubeconfig?: string; namespace: string }): Promise<Kek> {
  const rest = new KubeRest(o.kubeconfig);
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/secrets`;
  const source = `Secret ${o.namespace}/${KEK_SECRET}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const s = await rest.call('GET', `${path}/${KEK_SECRET}`);
      return parseKek(Buffer.from(String(s?.data?.kek ?? ''), 'base64'), source);
    } catch (err) {
      if (!(err instanceof KubeCallError && err.status === 404)) throw err;
    }
    try {
      const kek = randomBytes(32);
      await rest.call('POST', path, { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: KEK_SECRET, namespace: o.namespace, labels: { 'app.kubernetes.io/part-of': 'bowline' } }, data: { kek: kek.toString('base64') } });
      return parseKek(kek, `${source} (created)`);
    } catch (err) {
      if (!(err instanceof KubeCallError && err.status === 409)) throw err; // another replica created it first: read theirs
    }
  }
  throw new Error(`${source} could not be read or created`);
}
