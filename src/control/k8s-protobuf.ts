import protobuf from 'protobufjs';
import { badRequest } from './status.js';

/**
 * Kubernetes' protobuf encoding for the core kinds Bowline serves, which kubectl's generators
 * (`kubectl create secret|configmap|namespace`) send as `application/vnd.kubernetes.protobuf`:
 * the 4-byte magic `k8s\0`, then a `runtime.Unknown` whose `raw` is the object. The message subset
 * below is written from k8s.io/api's documented field numbers (request bodies only; answers are JSON).
 */

/** The media type of Kubernetes' protobuf encoding. */
export const K8S_PROTOBUF = 'application/vnd.kubernetes.protobuf';

const f = (id: number, type: string, rule?: 'repeated') => ({ id, type, ...(rule ? { rule } : {}) });
const m = (id: number, valueType: string) => ({ id, type: valueType, keyType: 'string' });

const ROOT = protobuf.Root.fromJSON({
  nested: {
    k8s: {
      nested: {
        TypeMeta: { fields: { apiVersion: f(1, 'string'), kind: f(2, 'string') } },
        Unknown: { fields: { typeMeta: f(1, 'TypeMeta'), raw: f(2, 'bytes'), contentEncoding: f(3, 'string'), contentType: f(4, 'string') } },
        ObjectMeta: {
          fields: {
            name: f(1, 'string'), generateName: f(2, 'string'), namespace: f(3, 'string'), resourceVersion: f(6, 'string'),
            labels: m(11, 'string'), annotations: m(12, 'string'), finalizers: f(14, 'string', 'repeated'),
          },
        },
        Secret: { fields: { metadata: f(1, 'ObjectMeta'), data: m(2, 'bytes'), type: f(3, 'string'), stringData: m(4, 'string'), immutable: f(5, 'bool') } },
        ConfigMap: { fields: { metadata: f(1, 'ObjectMeta'), data: m(2, 'string'), binaryData: m(3, 'bytes'), immutable: f(4, 'bool') } },
        NamespaceSpec: { fields: { finalizers: f(1, 'string', 'repeated') } },
        Namespace: { fields: { metadata: f(1, 'ObjectMeta'), spec: f(2, 'NamespaceSpec') } },
      },
    },
  },
});

/** Kubernetes' protos are proto2 with every optional field on the wire: an empty string means unset. */
function dropEmpty(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = k === 'metadata' && v && typeof v === 'object' ? dropEmpty(v as Record<string, unknown>) : v;
  }
  return out;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a Kubernetes protobuf body of a core kind into its JSON shape (bytes fields become base64). */
export function decodeK8sProtobuf(body: Buffer, expectedKind: string): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw badRequest('the protobuf body does not start with the Kubernetes magic bytes "k8s\\0"');
  let type: protobuf.Type;
  try {
    type = ROOT.lookupType(`k8s.${expectedKind}`);
  } catch {
    throw badRequest(`${expectedKind} cannot be sent as protobuf: send application/json or application/yaml`);
  }
  try {
    const unknownType = ROOT.lookupType('k8s.Unknown');
    const unknown = unknownType.toObject(unknownType.decode(body.subarray(4))) as { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array };
    if (unknown.typeMeta?.kind && unknown.typeMeta.kind !== expectedKind) throw badRequest(`the protobuf body holds a ${unknown.typeMeta.kind}, not a ${expectedKind}`);
    const obj = dropEmpty(type.toObject(type.decode(unknown.raw ?? new Uint8Array()), { bytes: String, defaults: false }) as Record<string, unknown>);
    return { apiVersion: unknown.typeMeta?.apiVersion || 'v1', kind: expectedKind, ...obj };
  } catch (err) {
    if ((err as { code?: number }).code === 400) throw err;
    throw badRequest(`the protobuf body could not be read: ${(err as Error).message}`);
  }
}
