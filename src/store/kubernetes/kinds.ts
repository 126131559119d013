/**
 * Where each stored kind lives in a Kubernetes apiserver: Istio kinds as their CRDs (the first,
 * storage version of src/api/kinds.ts), and the core kinds the config API serves.
 */
import { kinds as istioKinds } from '../../api/kinds.js';

/** The REST location of one kind. */
export interface KubeKind {
  kind: string;
  /** `/apis/GROUP/VERSION` or `/api/v1`. */
  base: string;
  apiVersion: string;
  plural: string;
  namespaced: boolean;
}

/** The store's namespace for cluster-scoped objects (src/control/kinds.ts CLUSTER_SCOPE_NAMESPACE). */
export const CLUSTER_SCOPE = '_cluster';

const core = (kind: string, plural: string, namespaced = true): KubeKind => ({ kind, base: '/api/v1', apiVersion: 'v1', plural, namespaced });

const table = new Map<string, KubeKind>([
  ...Object.entries(istioKinds).map(([kind, k]): [string, KubeKind] => [kind, { kind, base: `/apis/${k.group}/${k.versions[0]}`, apiVersion: `${k.group}/${k.versions[0]}`, plural: k.plural, namespaced: k.namespaced }]),
  ['ConfigMap', core('ConfigMap', 'configmaps')],
  ['Secret', core('Secret', 'secrets')],
  ['Namespace', core('Namespace', 'namespaces', false)],
  ['Event', core('Event', 'events')],
]);

/** The kind's location, or undefined for a kind the apiserver has no place for. */
export function kubeKind(kind: string): KubeKind | undefined {
  return table.get(kind);
}

/** Every kind a watch of "all kinds" follows. */
export function watchedKinds(): KubeKind[] {
  return [...table.values()].filter((k) => k.kind !== 'Event');
}

/** The collection path of a kind, in one namespace or all. */
export function collectionPath(k: KubeKind, namespace?: string): string {
  return k.namespaced && namespace !== undefined && namespace !== CLUSTER_SCOPE ? `${k.base}/namespaces/${encodeURIComponent(namespace)}/${k.plural}` : `${k.base}/${k.plural}`;
}

/** The path of one object. */
export function objectPath(k: KubeKind, namespace: string, name: string): string {
  return `${collectionPath(k, k.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
}
