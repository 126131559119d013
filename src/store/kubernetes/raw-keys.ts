/**
 * How a raw key (src/store/store.ts) is kept in the root namespace: a key with a TTL as a
 * coordination.k8s.io Lease (value in an annotation, the TTL as the lease duration, renewals as
 * renewTime); keys under `ca/` and `auth/` (the CA's sealed state, API token records) as Secrets;
 * every other key as a ConfigMap. Each object is labelled `bowline.io/raw`, its first key segment
 * in `bowline.io/raw-area`, and names its key in the `bowline.io/key` annotation.
 */
import { createHash } from 'node:crypto';
import type { RawEntry } from '../store.js';
import type { KubeKind } from './kinds.js';

/** The label every raw-key object carries (the config API's ConfigMaps and Secrets exclude it). */
export const RAW_LABEL = 'bowline.io/raw';
/** The label with the key's first segment, so that a prefix read lists one area. */
export const AREA_LABEL = 'bowline.io/raw-area';
const KEY = 'bowline.io/key';
const VALUE = 'bowline.io/value';
const TTL = 'bowline.io/ttl-ms';
const CREATED = 'bowline.io/create-revision';

/** The three kinds raw keys are kept as. */
export const RAW_KINDS: Record<'Lease' | 'Secret' | 'ConfigMap', KubeKind> = {
  Lease: { kind: 'Lease', base: '/apis/coordination.k8s.io/v1', apiVersion: 'coordination.k8s.io/v1', plural: 'leases', namespaced: true },
  Secret: { kind: 'Secret', base: '/api/v1', apiVersion: 'v1', plural: 'secrets', namespaced: true },
  ConfigMap: { kind: 'ConfigMap', base: '/api/v1', apiVersion: 'v1', plural: 'configmaps', namespaced: true },
};

/** Which kind keeps `key`. */
export function rawKindOf(key: string, ttlMs: number | undefined): KubeKind {
  if (ttlMs !== undefined) return RAW_KINDS.Lease;
  return key.startsWith('ca/') || key.startsWith('auth/') ? RAW_KINDS.Secret : RAW_KINDS.ConfigMap;
}

/** The object name of a key: readable, DNS-safe, unique by a hash of the whole key. */
export function rawName(key: string): string {
  const readable = key.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 180);
  return `bowline-${readable ? readable + '-' : ''}${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** The area label value of a key (its first segment, label-safe), or of a prefix that names a whole segment. */
export function areaOf(keyOrPrefix: string): string | undefined {
  const slash = keyOrPrefix.indexOf('/');
  if (slash <= 0) return undefined;
  return keyOrPrefix.slice(0, slash).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, 63) || undefined;
}

/** MicroTime (`renewTime`) of a clock reading. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** The object keeping `key` = `value` (`createRevision` of an earlier version of the key, kept across updates). */
export function rawObject(k: KubeKind, namespace: string, key: string, value: string, o: { ttlMs?: number; createRevision?: number; resourceVersion?: string; now: number }): Record<string, any> {
  const area = areaOf(key);
  const metadata: Record<string, any> = {
    name: rawName(key), namespace,
    labels: { [RAW_LABEL]: 'true', ...(area ? { [AREA_LABEL]: area } : {}) },
    annotations: { [KEY]: key, ...(o.createRevision !== undefined ? { [CREATED]: String(o.createRevision) } : {}) },
    ...(o.resourceVersion ? { resourceVersion: o.resourceVersion } : {}),
  };
  if (k.kind === 'Lease') {
    metadata.annotations[VALUE] = value;
    metadata.annotations[TTL] = String(o.ttlMs);
    return { apiVersion: k.apiVersion, kind: 'Lease', metadata, spec: { holderIdentity: 'bowline', leaseDurationSeconds: Math.max(1, Math.ceil((o.ttlMs ?? 1000) / 1000)), renewTime: microTime(o.now) } };
  }
  if (k.kind === 'Secret') return { apiVersion: 'v1', kind: 'Secret', metadata, type: 'Opaque', data: { value: Buffer.from(value).toString('base64') } };
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { value } };
}

/** The raw entry an object keeps, or undefined for an object that is not one. */
export function rawEntryOf(obj: Record<string, any>): RawEntry | undefined {
  const a = obj?.metadata?.annotations as Record<string, string> | undefined;
  const key = a?.[KEY];
  if (key === undefined) return undefined;
  const rv = Number(obj.metadata.resourceVersion);
  const value = obj.kind === 'Lease' ? a![VALUE] ?? '' : obj.kind === 'Secret' ? Buffer.from(String(obj.data?.value ?? ''), 'base64').toString('utf8') : String(obj.data?.value ?? '');
  const created = Number(a![CREATED]);
  const ttl = Number(a![TTL]);
  return { key, value, modRevision: rv, createRevision: Number.isFinite(created) && created > 0 ? created : rv, ...(obj.kind === 'Lease' && ttl > 0 ? { ttlMs: ttl } : {}) };
}

/** When a Lease-kept key expires (renewTime + TTL), in ms since the epoch. */
export function expiresAt(obj: Record<string, any>): number {
  const renewed = Date.parse(String(obj.spec?.renewTime ?? ''));
  const ttl = Number(obj.metadata?.annotations?.[TTL]) || Number(obj.spec?.leaseDurationSeconds) * 1000;
  return (Number.isFinite(renewed) ? renewed : 0) + ttl;
}
