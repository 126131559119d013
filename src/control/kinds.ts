import { kinds as istioKinds, type KindInfo } from '../api/index.js';

/** One kind the config API serves: the Istio kinds plus core/v1 ConfigMap (for the `istio` mesh config). */
export interface ServedKind extends KindInfo {
  kind: string;
  /** Lower-case singular, e.g. `virtualservice`. */
  singular: string;
}

/** Storage namespace of cluster-scoped kinds (MeshPolicy); the API shows them without a namespace. */
export const CLUSTER_SCOPE_NAMESPACE = '_cluster';

/** Every kind served, in a stable order. */
export const servedKinds: ServedKind[] = [
  ...Object.entries(istioKinds).map(([kind, info]) => ({ ...info, kind, singular: kind.toLowerCase() })),
  { kind: 'ConfigMap', group: '', versions: ['v1'], plural: 'configmaps', shortNames: ['cm'], namespaced: true, singular: 'configmap' },
];

/** The served kind named by `word`: kind, plural, singular or short name, any case, optionally `.group`. */
export function resolveKind(word: string): ServedKind | undefined {
  const w = word.toLowerCase();
  const [name, ...rest] = w.split('.');
  const group = rest.join('.');
  return servedKinds.find((k) =>
    (group === '' || k.group === group) &&
    (k.kind.toLowerCase() === name || k.plural === name || k.singular === name || k.shortNames.includes(name!)));
}

/** The served kind at `/apis/GROUP/VERSION/PLURAL` (or `/api/v1/PLURAL` with group ''). */
export function kindByPath(group: string, version: string, plural: string): ServedKind | undefined {
  return servedKinds.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

/** `kind.group` as kubectl prints it, e.g. `virtualservice.networking.istio.io`. */
export function qualifiedName(k: ServedKind): string {
  return k.group ? `${k.singular}.${k.group}` : k.singular;
}

/** The REST path of a kind's collection (namespace undefined: all namespaces or cluster scope). */
export function collectionPath(k: ServedKind, namespace?: string, version = k.versions[0]!): string {
  const base = k.group ? `/apis/${k.group}/${version}` : `/api/${version}`;
  return k.namespaced && namespace !== undefined ? `${base}/namespaces/${encodeURIComponent(namespace)}/${k.plural}` : `${base}/${k.plural}`;
}
