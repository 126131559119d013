import { open, seal, type Kek, type SealedBox } from './kek.js';

/**
 * Kubernetes Secrets at rest: the config API keeps a Secret's `data` (base64 values) sealed with the
 * CA's key-encryption key (AES-256-GCM, bound to `Secret/NAMESPACE/NAME`), so the store, its
 * snapshots and etcd never hold secret values in clear. Readers (the CA's `cacerts`, gateways'
 * `credentialName`) open them with `openSecretData`.
 */

/** The field of a stored Secret holding its sealed `data`. */
export const SEALED_FIELD = 'sealedData';

/** A Secret as stored: Kubernetes' fields except `data`/`stringData`, plus the sealed data. */
export interface StoredSecretShape {
  metadata: { name: string; namespace: string };
  [SEALED_FIELD]?: SealedBox;
  [k: string]: unknown;
}

function purpose(namespace: string, name: string): string {
  return `Secret/${namespace}/${name}`;
}

/** Replaces `data` with its sealed form; `data` holds base64 strings as in Kubernetes. */
export function sealSecretData<T extends StoredSecretShape>(kek: Kek, obj: T, data: Record<string, string>): T {
  const { data: _d, stringData: _s, ...rest } = obj as T & { data?: unknown; stringData?: unknown };
  const box = seal(kek, Buffer.from(JSON.stringify(data)), purpose(obj.metadata.namespace, obj.metadata.name));
  return { ...rest, [SEALED_FIELD]: box } as T;
}

/** The `data` map (base64 values) of a stored Secret; {} when it has none. Throws CaError KEK_MISMATCH on a wrong key. */
export function openSecretData(kek: Kek, obj: StoredSecretShape): Record<string, string> {
  const box = obj[SEALED_FIELD];
  if (!box) return {};
  return JSON.parse(open(kek, box, purpose(obj.metadata.namespace, obj.metadata.name)).toString('utf8')) as Record<string, string>;
}

/** One Secret value decoded to bytes (`data` is base64 as in Kubernetes); undefined when absent. */
export function secretValue(data: Record<string, string>, key: string): Buffer | undefined {
  const v = data[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64');
}
