/**
 * What the generators could not carry to the proxies, per resource, written as Istio writes a
 * resource's status: a `Reconciled` condition and `validationMessages` (code, level, description),
 * with the generation it describes. Computed from each snapshot (a pure function of it); the
 * tracker logs each new problem once, keeps the gauge `bowline_config_rejected_resources{kind}`,
 * and answers the config API's reads with the status of one object.
 */
import type { Resource } from '../api/types/meta.js';
import type { DestinationRuleSpec, GatewaySpec, TrafficPolicy, VirtualServiceSpec } from '../api/types/networking.js';
import type { MeshSnapshot } from '../model/snapshot.js';
import type { Registry } from '../telemetry/metrics/registry.js';
import { translatePolicy } from './generators/authorization-translate.js';
import { resolveExtAuthz } from './generators/ext-authz.js';
import { expandHttpRules, type DelegateProblem } from './generators/delegate.js';
import { labelsMatch } from './generators/scope.js';

/** A VirtualService rule delegates to a VirtualService that is missing or not a valid delegate (docs/errors.md). */
export const CONFIG_UNRESOLVED_DELEGATE = 'BOWLINE_E_CONFIG_UNRESOLVED_DELEGATE';
/** A Gateway server or DestinationRule names a `credentialName` Secret its proxies cannot use (docs/errors.md). */
export const CONFIG_CREDENTIAL_UNAVAILABLE = 'BOWLINE_E_CONFIG_CREDENTIAL_UNAVAILABLE';
/** Part of an AuthorizationPolicy cannot be enforced as written; it fails closed (docs/errors.md). */
export const CONFIG_AUTHZ_UNTRANSLATABLE = 'BOWLINE_E_CONFIG_AUTHZ_UNTRANSLATABLE';

/** An AuthorizationPolicy CUSTOM names a provider the proxies cannot ask; what it selects is denied (docs/errors.md). */
export const CONFIG_AUTHZ_PROVIDER = 'BOWLINE_E_CONFIG_AUTHZ_PROVIDER';

/** One of Istio's validationMessages. */
export interface ValidationMessage {
  type: { code: string };
  level: 'ERROR' | 'WARNING';
  description: string;
}

/** The problems of one resource at one generation. */
export interface ResourceProblems {
  kind: string;
  namespace: string;
  name: string;
  generation: number;
  messages: ValidationMessage[];
}

const keyOf = (kind: string, ns: string, name: string) => `${kind}/${ns}/${name}`;

/** The kinds whose status the mesh writes. */
const STATUS_KINDS = ['VirtualService', 'AuthorizationPolicy'] as const;

function add(out: Map<string, ResourceProblems>, r: Resource, m: ValidationMessage): void {
  const ns = r.metadata.namespace ?? 'default';
  const k = keyOf(r.kind, ns, r.metadata.name);
  let p = out.get(k);
  if (!p) out.set(k, (p = { kind: r.kind, namespace: ns, name: r.metadata.name, generation: (r.metadata as { generation?: number }).generation ?? 1, messages: [] }));
  p.messages.push(m);
}

/** Every resource of `snap` the generators leave out in whole or in part, with why. */
export function configProblems(snap: MeshSnapshot): Map<string, ResourceProblems> {
  const out = new Map<string, ResourceProblems>();
  for (const vs of snap.configs('VirtualService') as Resource<VirtualServiceSpec>[]) {
    if (!(vs.spec.http ?? []).some((r) => r.delegate)) continue;
    const problems: DelegateProblem[] = [];
    expandHttpRules(snap, vs, problems);
    for (const p of problems) add(out, vs, { type: { code: CONFIG_UNRESOLVED_DELEGATE }, level: 'ERROR', description: `${p.path}: ${p.message}` });
  }
  for (const ap of snap.configs('AuthorizationPolicy')) {
    const spec = ap.spec as { action?: string; rules?: unknown };
    const action = spec.action ?? 'ALLOW';
    if (action === 'CUSTOM') {
      const resolved = resolveExtAuthz(snap, (spec as { provider?: { name?: string } }).provider?.name ?? '');
      if ('problem' in resolved) add(out, ap, { type: { code: CONFIG_AUTHZ_PROVIDER }, level: 'ERROR', description: `spec.provider.name: ${resolved.problem} (fail closed)` });
    }
    if (action !== 'ALLOW' && action !== 'DENY' && action !== 'AUDIT' && action !== 'CUSTOM') continue;
    for (const p of translatePolicy(ap.metadata.name, action === 'CUSTOM' ? 'DENY' : action, spec.rules).problems) {
      add(out, ap, { type: { code: CONFIG_AUTHZ_UNTRANSLATABLE }, level: 'ERROR', description: `${p.path}: ${p.message}` });
    }
  }
  credentialProblems(snap, out);
  return out;
}

/** Why Secret `name` in `namespace` cannot serve, or undefined when it can. */
function credentialTrouble(snap: MeshSnapshot, namespace: string, name: string, needCert: boolean): string | undefined {
  const slash = name.indexOf('/');
  if (slash > 0 && name.slice(0, slash) !== namespace) return `Secret ${name} is not in the namespace ${namespace} of the proxies that use it`;
  if (slash > 0) name = name.slice(slash + 1);
  const c = snap.credential(namespace, name);
  if (c?.problem) return `Secret ${namespace}/${name} cannot serve: ${c.problem}`;
  if (!c && !snap.credential(namespace, `${name}-cacert`)) return `Secret ${namespace}/${name} does not exist in the namespace of the proxies that use it`;
  if (needCert && !c?.cert) return `Secret ${namespace}/${name} has no certificate and key (tls.crt/tls.key or cert/key)`;
  return undefined;
}

/** Gateway servers and DestinationRule TLS whose `credentialName` the proxies using them cannot use (they leave it out / refuse connections). */
function credentialProblems(snap: MeshSnapshot, out: Map<string, ResourceProblems>): void {
  const proxied = snap.workloads.filter((w) => w.hasProxy);
  for (const gw of snap.configs('Gateway') as Resource<GatewaySpec>[]) {
    const sel = gw.spec.selector;
    if (!sel || !Object.keys(sel).length) continue;
    const namespaces = [...new Set(proxied.filter((w) => labelsMatch(sel, w.labels)).map((w) => w.namespace))].sort();
    (gw.spec.servers ?? []).forEach((server, i) => {
      const name = server.tls?.credentialName;
      if (!name || server.tls?.mode === 'PASSTHROUGH' || server.tls?.mode === 'AUTO_PASSTHROUGH') return;
      for (const ns of namespaces) {
        const why = credentialTrouble(snap, ns, name, true);
        if (why) add(out, gw, { type: { code: CONFIG_CREDENTIAL_UNAVAILABLE }, level: 'ERROR', description: `spec.servers[${i}].tls.credentialName: ${why}; the server is left out of the gateway, its other servers keep serving` });
      }
    });
  }
  const clientNamespaces = [...new Set(proxied.map((w) => w.namespace))].sort();
  for (const dr of snap.configs('DestinationRule') as Resource<DestinationRuleSpec>[]) {
    const policies: Array<[string, TrafficPolicy | undefined]> = [['spec.trafficPolicy', dr.spec.trafficPolicy], ...(dr.spec.subsets ?? []).map((ss, i): [string, TrafficPolicy | undefined] => [`spec.subsets[${i}].trafficPolicy`, ss.trafficPolicy])];
    const visible = dr.spec.exportTo?.includes('.') && dr.spec.exportTo.length === 1 ? [dr.metadata.namespace ?? 'default'] : clientNamespaces;
    for (const [path, tp] of policies) {
      const tlss: Array<[string, NonNullable<TrafficPolicy['tls']> | undefined]> = [[`${path}.tls`, tp?.tls], ...(tp?.portLevelSettings ?? []).map((pl, i): [string, NonNullable<TrafficPolicy['tls']> | undefined] => [`${path}.portLevelSettings[${i}].tls`, pl.tls])];
      for (const [where, tls] of tlss) {
        if (!tls?.credentialName || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL')) continue;
        for (const ns of visible) {
          const why = credentialTrouble(snap, ns, tls.credentialName, tls.mode === 'MUTUAL');
          if (why) add(out, dr, { type: { code: CONFIG_CREDENTIAL_UNAVAILABLE }, level: 'ERROR', description: `${where}.credentialName: ${why}; proxies in namespace ${ns} refuse these connections (fail closed)` });
        }
      }
    }
  }
}

/** Istio's status block for a resource: Reconciled True, or False with the messages. */
export function istioStatus(generation: number, problems: ResourceProblems | undefined): Record<string, unknown> {
  if (!problems) return { conditions: [{ type: 'Reconciled', status: 'True', reason: 'Reconciled', message: 'every field reaches the proxies' }], observedGeneration: generation };
  return {
    conditions: [{ type: 'Reconciled', status: 'False', reason: 'NotFullyApplied', message: `${problems.messages.length} problem(s): the rest of the resource reaches the proxies` }],
    validationMessages: problems.messages,
    observedGeneration: problems.generation,
  };
}

/** Follows snapshots: logs each new problem once, counts resources with problems per kind, answers status reads. */
export class ConfigStatusTracker {
  private problems = new Map<string, ResourceProblems>();
  private readonly logged = new Set<string>();

  constructor(private readonly log: (line: string) => void, metrics?: Registry) {
    if (metrics) {
      const g = metrics.gauge({ name: 'bowline_config_rejected_resources', help: 'Resources the generators could not carry to the proxies in whole or in part (see their status).', labelNames: ['kind'] });
      metrics.onCollect(() => {
        const counts = new Map<string, number>();
        for (const p of this.problems.values()) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
        for (const kind of new Set([...counts.keys(), ...this.seenKinds])) g.labels(kind).set(counts.get(kind) ?? 0);
      });
    }
  }

  private readonly seenKinds = new Set<string>();

  /** The generation of each VirtualService and AuthorizationPolicy the last snapshot holds. */
  private translated = new Map<string, number>();

  /** Recomputes the problems of a new snapshot. */
  update(snap: MeshSnapshot): void {
    this.problems = configProblems(snap);
    const translated = new Map<string, number>();
    for (const kind of STATUS_KINDS) {
      for (const r of snap.configs(kind)) translated.set(keyOf(kind, r.metadata.namespace ?? 'default', r.metadata.name), (r.metadata as { generation?: number }).generation ?? 1);
    }
    this.translated = translated;
    for (const p of this.problems.values()) {
      this.seenKinds.add(p.kind);
      for (const m of p.messages) {
        const line = `${p.kind} ${p.namespace}/${p.name} (generation ${p.generation}): ${m.description} (${m.type.code})`;
        if (this.logged.has(line)) continue;
        this.logged.add(line);
        this.log(line);
      }
    }
  }

  /** The status of one stored object of a kind the mesh translates; undefined for other kinds. */
  statusOf(obj: { kind?: unknown; metadata: { name: string; namespace?: string; generation?: number } }): Record<string, unknown> | undefined {
    if (obj.kind !== 'VirtualService' && obj.kind !== 'AuthorizationPolicy') return undefined;
    const key = keyOf(obj.kind, obj.metadata.namespace ?? 'default', obj.metadata.name);
    const generation = obj.metadata.generation ?? 1;
    // An object (or a generation of it) no snapshot has translated yet has no status: saying Reconciled
    // before the generators saw it would be a guess, and a status writer would write it, then the real one.
    if (this.translated.get(key) !== generation) return undefined;
    const p = this.problems.get(key);
    return istioStatus(generation, p && p.generation === generation ? p : undefined);
  }
}
