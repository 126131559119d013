/**
 * What the generators could not carry to the proxies, per resource, written as Istio writes a
 * resource's status: a `Reconciled` condition and `validationMessages` (code, level, description),
 * with the generation it describes. Computed from each snapshot (a pure function of it); the
 * tracker logs each new problem once, keeps the gauge `bowline_config_rejected_resources{kind}`,
 * and answers the config API's reads with the status of one object.
 */
import type { Resource } from '../api/types/meta.js';
import type { VirtualServiceSpec } from '../api/types/networking.js';
import type { MeshSnapshot } from '../model/snapshot.js';
import type { Registry } from '../telemetry/metrics/registry.js';
import { translatePolicy } from './generators/authorization-translate.js';
import { expandHttpRules, type DelegateProblem } from './generators/delegate.js';

/** A VirtualService rule delegates to a VirtualService that is missing or not a valid delegate (docs/errors.md). */
export const CONFIG_UNRESOLVED_DELEGATE = 'BOWLINE_E_CONFIG_UNRESOLVED_DELEGATE';
/** Part of an AuthorizationPolicy cannot be enforced as written; it fails closed (docs/errors.md). */
export const CONFIG_AUTHZ_UNTRANSLATABLE = 'BOWLINE_E_CONFIG_AUTHZ_UNTRANSLATABLE';

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
    if (action !== 'ALLOW' && action !== 'DENY' && action !== 'AUDIT') continue;
    for (const p of translatePolicy(ap.metadata.name, action, spec.rules).problems) {
      add(out, ap, { type: { code: CONFIG_AUTHZ_UNTRANSLATABLE }, level: 'ERROR', description: `${p.path}: ${p.message}` });
    }
  }
  return out;
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

  /** Recomputes the problems of a new snapshot. */
  update(snap: MeshSnapshot): void {
    this.problems = configProblems(snap);
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
    const p = this.problems.get(keyOf(obj.kind, obj.metadata.namespace ?? 'default', obj.metadata.name));
    const generation = obj.metadata.generation ?? 1;
    return istioStatus(generation, p && p.generation === generation ? p : undefined);
  }
}
