import type { Store, StoredObject, WatchEvent } from '../store/index.js';
import type { CertificateAuthority } from './authority.js';
import type { Kek } from './kek.js';
import { parseCacerts, type Cacerts } from './root.js';
import { openSecretData, secretValue, type StoredSecretShape } from './secrets.js';

/**
 * The `cacerts` Secret in the root namespace plugs in the CA exactly as Istio's "plug in CA
 * certificates" page does (keys `ca-cert.pem`, `ca-key.pem`, `root-cert.pem`, `cert-chain.pem`).
 * It wins over `--ca-certs-dir` and the generated root, takes effect without a restart (old and new
 * roots trusted during the overlap, CertificateAuthority.plugIn), and its deletion returns to the CA
 * used before. A Secret whose files do not fit together is refused with a log line; the CA keeps
 * signing as it did (fail closed: never an unusable CA).
 */

/** Name of the Secret Istio reads its plugged-in CA from. */
export const CACERTS_SECRET = 'cacerts';

/** Decodes and checks the `cacerts` Secret's files. Throws CaError CACERTS_INVALID / ROOT_MISMATCH. */
export function cacertsFromSecret(kek: Kek, obj: StoredObject): Cacerts {
  const data = openSecretData(kek, obj as unknown as StoredSecretShape);
  const text = (k: string) => secretValue(data, k)?.toString('utf8');
  const where = `Secret ${obj.metadata.namespace}/${obj.metadata.name}`;
  return parseCacerts({ 'ca-cert.pem': text('ca-cert.pem'), 'ca-key.pem': text('ca-key.pem'), 'root-cert.pem': text('root-cert.pem'), 'cert-chain.pem': text('cert-chain.pem') }, where);
}

/** Plugs the current `cacerts` Secret into `ca` and follows its changes until `close()`. */
export async function followCacertsSecret(o: { store: Pick<Store, 'get' | 'watch'>; kek: Kek; namespace: string; ca: CertificateAuthority; log: (line: string) => void }): Promise<{ close(): void }> {
  let seen = '';
  const apply = (obj: StoredObject | undefined) => {
    if (!obj) {
      if (o.ca.source === 'cacerts-secret') o.log(`ca: Secret ${o.namespace}/${CACERTS_SECRET} deleted; signing with the ${o.ca.mode === 'cacerts' ? '--ca-certs-dir files' : 'generated root'} again (the plugged-in root stays trusted for one workload certificate lifetime)`);
      seen = '';
      o.ca.plugIn(undefined);
      return;
    }
    const version = obj.metadata.resourceVersion ?? '';
    if (version !== '' && version === seen) return;
    seen = version;
    try {
      o.ca.plugIn(cacertsFromSecret(o.kek, obj));
      o.log(`ca: signing with Secret ${o.namespace}/${CACERTS_SECRET} (root and previous roots trusted during the overlap)`);
    } catch (err) {
      o.log(`ca: Secret ${o.namespace}/${CACERTS_SECRET} refused, the CA keeps signing as before: ${(err as Error).message}`);
    }
  };
  const watch = o.store.watch({ kind: 'Secret', namespace: o.namespace }, (ev: WatchEvent) => {
    if (ev.object.metadata.name !== CACERTS_SECRET) return;
    apply(ev.type === 'DELETED' ? undefined : ev.object);
  });
  try {
    apply(await o.store.get('Secret', o.namespace, CACERTS_SECRET));
  } catch (err) {
    if ((err as { reason?: string }).reason !== 'NotFound') {
      watch.close();
      throw err;
    }
  }
  return { close: () => watch.close() };
}
