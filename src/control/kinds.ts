import { kinds as istioKinds, type KindInfo } from '../api/index.js';

/** One kind the config API serves: the Istio kinds (from src/api's kinds table) plus the core kinds below. */
export interface ServedKind extends KindInfo {
  kind: string;
  /** Lower-case singular, e.g. `virtualservice`. */
  singular: string;
  /** Discovery categories (`kubectl get istio-io`), as Istio's CRDs declare them. */
  categories: string[];
  /** Verbs the API serves for the kind (discovery lists them; others answer 405). */
  verbs: string[];
  /** True for the kinds Bowline serves as CRDs (Istio kinds); false for built-in core kinds. */
  custom: boolean;
}

/** Storage namespace of cluster-scoped kinds (MeshPolicy, Namespace); the API shows them without a namespace. */
export const CLUSTER_SCOPE_NAMESPACE = '_cluster';

/** Every verb of a writable kind, in discovery's order. */
export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function istioCategories(group: string): string[] {
  const g = group.split('.')[0]!;
  return ['istio-io', `${g}-istio-io`];
}

/** Istio kinds, from src/api's table: new kinds there appear in discovery, OpenAPI and CRDs without edits here. */
const istio: ServedKind[] = Object.entries(istioKinds).map(([kind, info]) => ({
  ...info, kind, singular: kind.toLowerCase(), categories: istioCategories(info.group), verbs: ALL_VERBS, custom: true,
}));

/** Core (`v1`) kinds: the mesh-relevant ones, kubectl-compatible. */
const core: ServedKind[] = [
  { kind: 'Namespace', group: '', versions: ['v1'], plural: 'namespaces', shortNames: ['ns'], namespaced: false, singular: 'namespace', categories: [], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], custom: false },
  { kind: 'ConfigMap', group: '', versions: ['v1'], plural: 'configmaps', shortNames: ['cm'], namespaced: true, singular: 'configmap', categories: [], verbs: ALL_VERBS, custom: false },
  { kind: 'Secret', group: '', versions: ['v1'], plural: 'secrets', shortNames: [], namespaced: true, singular: 'secret', categories: [], verbs: ALL_VERBS, custom: false },
  { kind: 'Event', group: '', versions: ['v1'], plural: 'events', shortNames: ['ev'], namespaced: true, singular: 'event', categories: [], verbs: ['get', 'list', 'watch'], custom: false },
  {
    kind: 'CustomResourceDefinition', group: 'apiextensions.k8s.io', versions: ['v1'], plural: 'customresourcedefinitions', shortNames: ['crd', 'crds'],
    namespaced: false, singular: 'customresourcedefinition', categories: ['api-extensions'], verbs: ['get', 'list', 'watch'], custom: false,
  },
];

/** Every kind served, in a stable order. */
export const servedKinds: ServedKind[] = [...istio, ...core];

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

/** `apiVersion` of a kind at a version: `group/version`, or `v1` for the core group. */
export function apiVersionOf(k: ServedKind, version = k.versions[0]!): string {
  return k.group ? `${k.group}/${version}` : version;
}

/** The REST path of a kind's collection (namespace undefined: all namespaces or cluster scope). */
export function collectionPath(k: ServedKind, namespace?: string, version = k.versions[0]!): string {
  const base = k.group ? `/apis/${k.group}/${version}` : `/api/${version}`;
  return k.namespaced && namespace !== undefined ? `${base}/namespaces/${encodeURIComponent(namespace)}/${k.plural}` : `${base}/${k.plural}`;
}
