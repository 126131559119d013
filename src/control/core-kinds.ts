import { openSecretData, SEALED_FIELD, sealSecretData, type Kek } from '../ca/index.js';
import type { Violation } from '../api/index.js';
import { isStoreError, type Store, type StoredObject } from '../store/index.js';
import { allCrds } from './crds.js';
import { CLUSTER_SCOPE_NAMESPACE, servedKinds, type ServedKind } from './kinds.js';
import { ApiError } from './status.js';

/**
 * What the core (`v1`) kinds do beyond storing objects:
 * - Namespace: every namespace exists without being created (Bowline needs no namespace objects);
 *   a stored Namespace only carries labels/annotations (e.g. `istio-injection`). A list shows the
 *   stored ones, every namespace some object lives in, `default` and the root namespace.
 * - Secret: `data` (and `stringData`, folded into `data`) is sealed with the CA's key-encryption
 *   key before it reaches the store; only an admin-token request sees the values of one Secret;
 *   lists and watches never carry them.
 * - Event: always empty (so `kubectl describe` is quiet).
 * - CustomResourceDefinition: read-only, one per Istio kind (crds.ts).
 */

/** Who is asking: `admin` when the request carried the admin token. */
export interface Viewer {
  admin: boolean;
}

/** Creation time shown for namespaces that were never stored: when this control plane started. */
const STARTED = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function err(path: string, message: string): Violation {
  return { severity: 'error', code: 'BOWLINE_E_API_TYPE', path, message };
}

function stringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** Validates a Secret body; returns violations (errors refuse the write). */
export function checkSecret(obj: Record<string, unknown>): Violation[] {
  const out: Violation[] = [];
  for (const f of ['data', 'stringData'] as const) {
    const v = obj[f];
    if (v === undefined || v === null) continue;
    if (!stringMap(v)) { out.push(err(f, `${f} must be a map of strings`)); continue; }
    for (const [k, val] of Object.entries(v)) {
      if (!SECRET_KEY.test(k) || k.length > 253) out.push(err(`${f}[${k}]`, `a valid config key must consist of alphanumeric characters, '-', '_' or '.'`));
      if (f === 'data' && (!BASE64.test(val) || val.length % 4 !== 0)) out.push(err(`${f}[${k}]`, 'illegal base64 data: data values are base64; use stringData for plain text'));
    }
  }
  if (obj.type !== undefined && typeof obj.type !== 'string') out.push(err('type', 'type must be a string'));
  if (obj.type === 'kubernetes.io/tls') {
    const keys = new Set([...Object.keys(stringMap(obj.data) ? obj.data : {}), ...Object.keys(stringMap(obj.stringData) ? obj.stringData : {})]);
    for (const k of ['tls.crt', 'tls.key']) if (!keys.has(k)) out.push({ severity: 'error', code: 'BOWLINE_E_API_REQUIRED', path: `data[${k}]`, message: `a kubernetes.io/tls Secret needs ${k}` });
  }
  return out;
}

/** Validates a Namespace body: its name is a DNS label. */
export function checkNamespace(obj: Record<string, unknown>): Violation[] {
  const name = (obj.metadata as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && !DNS_LABEL.test(name) ? [err('metadata.name', 'a namespace name must be a DNS label: at most 63 lower case alphanumeric characters or "-"')] : [];
}

/** The core kinds' behaviour, over the store and the secrets key. */
export class CoreKinds {
  /** The mesh's status of an object (set by the push server's config status): shown by get, describe and watch. */
  statusOf?: (obj: StoredObject) => Record<string, unknown> | undefined;

  constructor(private readonly store: Store, private readonly kek: () => Kek, private readonly rootNamespace: string) {}

  /** Transforms a validated object into its stored form (Secrets: data sealed, stringData folded in). */
  toStore(kind: ServedKind, obj: StoredObject): StoredObject {
    if (kind.kind === 'Namespace') {
      const { status: _s, ...rest } = obj;
      return rest as StoredObject;
    }
    if (kind.kind !== 'Secret') return obj;
    const data: Record<string, string> = { ...((obj.data as Record<string, string> | undefined) ?? {}) };
    for (const [k, v] of Object.entries((obj.stringData as Record<string, string> | undefined) ?? {})) data[k] = Buffer.from(v, 'utf8').toString('base64');
    const { [SEALED_FIELD]: _old, ...clean } = obj;
    const sealed = sealSecretData(this.kek(), clean as StoredObject & { metadata: { name: string; namespace: string } }, data);
    if (sealed.type === undefined) sealed.type = 'Opaque';
    return sealed;
  }

  /** The object as `viewer` sees it. `single`: a GET of one object or a write's answer (Secrets show values to admins only). */
  present(kind: ServedKind, obj: StoredObject, viewer: Viewer, single: boolean): StoredObject {
    let out = obj;
    if (kind.kind === 'Secret') {
      const { [SEALED_FIELD]: _box, ...rest } = obj;
      out = rest as StoredObject;
      if (single && viewer.admin) {
        const data = this.secretData(obj);
        if (Object.keys(data).length) out = { ...out, data };
      }
    }
    if (kind.kind === 'Namespace') out = { ...out, spec: { finalizers: ['kubernetes'], ...(out.spec as object | undefined) }, status: { phase: 'Active' } };
    const status = this.statusOf?.(out);
    if (status) out = { ...out, status };
    if (!kind.namespaced) {
      const { namespace: _ns, ...metadata } = out.metadata;
      out = { ...out, metadata: metadata as StoredObject['metadata'] };
    }
    return out;
  }

  /** A Secret's data (base64 values), opened with the key-encryption key. */
  secretData(obj: StoredObject): Record<string, string> {
    return openSecretData(this.kek(), obj as StoredObject & { metadata: { name: string; namespace: string } });
  }

  /** Refuses to show one Secret's values to a request without the admin token. */
  guardSecretRead(kind: ServedKind, viewer: Viewer, name?: string): void {
    if (kind.kind === 'Secret' && !viewer.admin) {
      throw new ApiError(403, 'Forbidden', `secrets "${name ?? ''}" is forbidden: Secret values are returned only with the admin token (Authorization: Bearer <token from $BOWLINE_HOME/admin-token>; \`bowline kubeconfig\` writes a kubeconfig that sends it)`, { ...(name ? { name } : {}), group: '', kind: 'secrets' });
    }
  }

  /** A Namespace that exists without a stored object (every namespace does). */
  implicitNamespace(name: string): StoredObject {
    return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, namespace: CLUSTER_SCOPE_NAMESPACE, creationTimestamp: STARTED } };
  }

  /** Gets one object; a Namespace that was never stored is implied. */
  async get(kind: ServedKind, namespace: string, name: string): Promise<StoredObject> {
    if (kind.kind === 'CustomResourceDefinition') {
      const crd = allCrds().find((c) => c.metadata.name === name);
      if (!crd) throw new ApiError(404, 'NotFound', `customresourcedefinitions.apiextensions.k8s.io "${name}" not found`, { name, group: 'apiextensions.k8s.io', kind: 'customresourcedefinitions' });
      return crd;
    }
    try {
      return await this.store.get(kind.kind, namespace, name);
    } catch (e) {
      if (kind.kind === 'Namespace' && isStoreError(e, 'NotFound') && DNS_LABEL.test(name)) return this.implicitNamespace(name);
      throw e;
    }
  }

  /** Lists a kind; Namespaces add every namespace in use, `default` and the root namespace; Events are empty. */
  async list(kind: ServedKind, namespace?: string): Promise<{ items: StoredObject[]; revision: number }> {
    if (kind.kind === 'Event') return { items: [], revision: await this.store.revision() };
    if (kind.kind === 'CustomResourceDefinition') return { items: allCrds(), revision: await this.store.revision() };
    const listed = await this.store.list(kind.kind, namespace);
    if (kind.kind !== 'Namespace') return listed;
    const names = new Map(listed.items.map((o) => [o.metadata.name, o]));
    const used = new Set(['default', this.rootNamespace]);
    for (const k of servedKinds) {
      if (!k.namespaced || !k.verbs.includes('create')) continue;
      for (const o of (await this.store.list(k.kind)).items) used.add(o.metadata.namespace);
    }
    for (const n of used) if (!names.has(n) && DNS_LABEL.test(n)) names.set(n, this.implicitNamespace(n));
    return { items: [...names.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)), revision: listed.revision };
  }
}
