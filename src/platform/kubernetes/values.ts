/**
 * The values of `bowline install kubernetes` and of the Helm chart charts/bowline (same names,
 * same defaults; charts/bowline/values.yaml holds the same tree). Names follow Istio's Helm values
 * where Istio has one (`global.hub`, `global.configValidation`, `sidecarInjectorWebhook.enabled`,
 * `gateways.istio-ingressgateway.*`, `meshConfig.trustDomain`), so the seeds' `--set` flags work.
 * `--set a.b=c` and `-f values.yaml` are merged over the defaults; an unknown key or a value of the
 * wrong type is refused (Helm would ignore it silently).
 */
import { parse as parseYaml } from 'yaml';

/** Every value, with its type given by the default. */
export interface Values {
  global: { hub: string; tag: string; imagePullPolicy: string; configValidation: boolean; caBundle: string };
  pilot: { replicaCount: number };
  sidecarInjectorWebhook: { enabled: boolean; nativeSidecar: boolean; failurePolicy: string };
  gateways: { 'istio-ingressgateway': { enabled: boolean; type: string; replicaCount: number } };
  meshConfig: { trustDomain: string };
  /** Istio's values for a control plane outside the cluster: webhooks reached by URL instead of the Service. */
  base: { validationURL: string };
  istiodRemote: { injectionURL: string };
}

/** A value that cannot be used: the message names the key and what it takes. */
export class ValuesError extends Error {
  readonly code = 'BOWLINE_E_KUBE_INSTALL';
  override name = 'ValuesError';
}

/** The defaults (charts/bowline/values.yaml must say the same; a test checks it). */
export function defaultValues(version: string): Values {
  return {
    global: { hub: 'bowline', tag: version, imagePullPolicy: 'IfNotPresent', configValidation: true, caBundle: '' },
    pilot: { replicaCount: 1 },
    sidecarInjectorWebhook: { enabled: true, nativeSidecar: false, failurePolicy: 'Fail' },
    gateways: { 'istio-ingressgateway': { enabled: true, type: 'LoadBalancer', replicaCount: 1 } },
    meshConfig: { trustDomain: 'cluster.local' },
    base: { validationURL: '' },
    istiodRemote: { injectionURL: '' },
  };
}

const CHOICES: Record<string, string[]> = {
  'global.imagePullPolicy': ['Always', 'IfNotPresent', 'Never'],
  'sidecarInjectorWebhook.failurePolicy': ['Fail', 'Ignore'],
  'gateways.istio-ingressgateway.type': ['LoadBalancer', 'NodePort', 'ClusterIP'],
};

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf key of the defaults, dotted (`global.hub`), for help and errors. */
export function valueKeys(v: Tree = defaultValues('x') as unknown as Tree, prefix = ''): string[] {
  return Object.entries(v).flatMap(([k, x]) => (isTree(x) ? valueKeys(x, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function setLeaf(target: Tree, defaults: Tree, path: string[], value: unknown, where: string): void {
  const key = path.join('.');
  let t = target;
  let d: unknown = defaults;
  for (const [i, k] of path.entries()) {
    if (!isTree(d) || !Object.hasOwn(d, k)) throw new ValuesError(`${where}: unknown value "${key}" (known: ${valueKeys().join(', ')})`);
    d = d[k];
    if (i === path.length - 1) break;
    t = t[k] as Tree;
  }
  const last = path[path.length - 1]!;
  if (isTree(d)) {
    if (!isTree(value)) throw new ValuesError(`${where}: "${key}" is a map of values, not ${JSON.stringify(value)}`);
    for (const [k, v] of Object.entries(value)) setLeaf(target, defaults, [...path, k], v, where);
    return;
  }
  if (typeof d === 'number' && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) throw new ValuesError(`${where}: "${key}" takes a non-negative integer, got ${JSON.stringify(value)}`);
  if (typeof d === 'boolean' && typeof value !== 'boolean') throw new ValuesError(`${where}: "${key}" takes true or false, got ${JSON.stringify(value)}`);
  if (typeof d === 'string' && typeof value !== 'string') {
    if (typeof value === 'number' || typeof value === 'boolean') value = String(value); // --set global.tag=1.2 is a string tag
    else throw new ValuesError(`${where}: "${key}" takes a string, got ${JSON.stringify(value)}`);
  }
  if (key.endsWith('URL') && value !== '' && !/^https:\/\/[^/\s]+\/\S*$/.test(value as string)) throw new ValuesError(`${where}: "${key}" must be an https:// URL with a path (the apiserver calls webhooks over TLS), got "${String(value)}"`);
  const choices = CHOICES[key];
  if (choices && !choices.includes(value as string)) throw new ValuesError(`${where}: "${key}" must be one of ${choices.join(', ')}, got "${String(value)}"`);
  t[last] = value;
}

/** Helm's `--set` value typing: true/false, integers, else a string. */
function typed(raw: string): unknown {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^(0|[1-9]\d{0,15})$/.test(raw)) return Number(raw);
  return raw;
}

/** Merges values files (parsed YAML text, in order) then `--set k=v` pairs over the defaults. */
export function resolveValues(version: string, files: Array<{ name: string; text: string }>, sets: string[]): Values {
  const defaults = defaultValues(version) as unknown as Tree;
  const out = structuredClone(defaults);
  for (const f of files) {
    let doc: unknown;
    try { doc = parseYaml(f.text); } catch (err) { throw new ValuesError(`${f.name}: not YAML: ${(err as Error).message.split('\n')[0]}`); }
    if (doc === null || doc === undefined) continue;
    if (!isTree(doc)) throw new ValuesError(`${f.name}: a values file is a map of values`);
    for (const [k, v] of Object.entries(doc)) setLeaf(out, defaults, [k], v, f.name);
  }
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ValuesError(`--set ${s}: expected KEY=VALUE, e.g. global.configValidation=false`);
    // Helm's escaped dot (`a\.b`) keeps a dot inside a key.
    const path = s.slice(0, eq).split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, '.'));
    setLeaf(out, defaults, path, typed(s.slice(eq + 1)), `--set ${s}`);
  }
  return out as unknown as Values;
}
