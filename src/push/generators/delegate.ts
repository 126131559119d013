/**
 * VirtualService delegation (Istio's `delegate`): a rule of a root VirtualService (one with hosts,
 * bound to the mesh or a gateway) hands its match to a VirtualService without hosts, named by
 * `delegate.name` and `delegate.namespace` (default: the root's namespace). The proxy receives the
 * merged rules: each delegate rule's match is combined with the root rule's match (both must hold;
 * a pair that cannot both hold is left out), the delegate's fields win, the root's fill what the
 * delegate leaves unset. Destinations resolve in the delegate's namespace. A delegate that does not
 * exist, has hosts, or delegates again yields no rules and a problem for the root's status.
 */
import type { Resource } from '../../api/types/meta.js';
import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualServiceSpec } from '../../api/types/networking.js';
import type { MeshSnapshot } from '../../model/snapshot.js';

/** One HTTP rule as the generators translate it, with where it came from. */
export interface ExpandedRule {
  rule: HTTPRoute;
  /** The namespace destinations resolve in (the delegate's, for a delegated rule). */
  namespace: string;
  /** `ns/name` of the VirtualService that wrote the rule, and its index there (for route names). */
  source: string;
  index: number;
}

/** Why a root rule's delegation produced nothing, with the field path in the root. */
export interface DelegateProblem {
  path: string;
  message: string;
}

/** The delegate VirtualService a rule names, or a problem. */
export function findDelegate(snap: MeshSnapshot, rule: HTTPRoute, rootNs: string): { vs?: Resource<VirtualServiceSpec>; problem?: string } {
  const d = rule.delegate!;
  const ns = d.namespace || rootNs;
  const vs = (snap.configs('VirtualService') as Resource<VirtualServiceSpec>[]).find((v) => v.metadata.name === d.name && (v.metadata.namespace ?? 'default') === ns);
  if (!vs) return { problem: `delegate VirtualService ${ns}/${d.name ?? ''} does not exist; requests this rule matches get no route` };
  if (vs.spec.hosts?.length) return { problem: `delegate VirtualService ${ns}/${d.name} has hosts: a delegate must have none` };
  if ((vs.spec.http ?? []).some((r) => r.delegate)) return { problem: `delegate VirtualService ${ns}/${d.name} delegates again: only one level of delegation is allowed` };
  return { vs };
}

function sameMatch(a: StringMatch | undefined, b: StringMatch | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The URI both matches require, or null when they cannot both hold (the delegate must stay inside the root's prefix). */
function mergeUri(root: StringMatch | undefined, child: StringMatch | undefined): StringMatch | undefined | null {
  if (!root) return child;
  if (!child || sameMatch(root, child)) return root;
  if (root.prefix !== undefined) {
    if (child.exact !== undefined && child.exact.startsWith(root.prefix)) return child;
    if (child.prefix !== undefined && child.prefix.startsWith(root.prefix)) return child;
  }
  if (root.exact !== undefined && child.prefix !== undefined && root.exact.startsWith(child.prefix)) return root;
  return null;
}

/** Root match AND delegate match, or null when they conflict. */
function mergeMatch(root: HTTPMatchRequest, child: HTTPMatchRequest): HTTPMatchRequest | null {
  const uri = mergeUri(root.uri, child.uri);
  if (uri === null) return null;
  const out: HTTPMatchRequest = { ...root, ...child };
  if (uri) out.uri = uri;
  else delete out.uri;
  for (const k of ['headers', 'queryParams', 'withoutHeaders', 'sourceLabels'] as const) {
    const a = root[k] as Record<string, unknown> | undefined;
    const b = child[k] as Record<string, unknown> | undefined;
    if (!a || !b) continue;
    for (const key of Object.keys(b)) if (key in a && JSON.stringify(a[key]) !== JSON.stringify(b[key])) return null;
    (out as Record<string, unknown>)[k] = { ...a, ...b };
  }
  for (const k of ['scheme', 'method', 'authority', 'port', 'sourceNamespace'] as const) {
    if (root[k] !== undefined && child[k] !== undefined && JSON.stringify(root[k]) !== JSON.stringify(child[k])) return null;
  }
  return out;
}

/** The merged matches of a root rule and a delegate rule; null when no pair can hold together. */
function mergeMatches(root: HTTPMatchRequest[] | undefined, child: HTTPMatchRequest[] | undefined): HTTPMatchRequest[] | undefined | null {
  if (!root?.length) return child;
  if (!child?.length) return root;
  const out: HTTPMatchRequest[] = [];
  for (const r of root) for (const c of child) {
    const m = mergeMatch(r, c);
    if (m) out.push(m);
  }
  return out.length ? out : null;
}

/** The HTTP rules of `vs` with every delegation replaced by the delegate's merged rules. */
export function expandHttpRules(snap: MeshSnapshot, vs: Resource<VirtualServiceSpec>, problems?: DelegateProblem[]): ExpandedRule[] {
  const ns = vs.metadata.namespace ?? 'default';
  const source = `${ns}/${vs.metadata.name}`;
  const out: ExpandedRule[] = [];
  (vs.spec.http ?? []).forEach((rule, index) => {
    if (!rule.delegate) {
      out.push({ rule, namespace: ns, source, index });
      return;
    }
    const found = findDelegate(snap, rule, ns);
    if (!found.vs) {
      problems?.push({ path: `spec.http[${index}].delegate`, message: found.problem! });
      return;
    }
    const dNs = found.vs.metadata.namespace ?? 'default';
    const { delegate: _d, match: rootMatch, name: _n, ...inherited } = rule;
    (found.vs.spec.http ?? []).forEach((child, ci) => {
      const match = mergeMatches(rootMatch, child.match);
      if (match === null) return;
      const merged: HTTPRoute = { ...inherited, ...child };
      if (match) merged.match = match;
      else delete merged.match;
      out.push({ rule: merged, namespace: dNs, source: `${dNs}/${found.vs!.metadata.name}`, index: ci });
    });
  });
  return out;
}

/** The delegate VirtualServices a root uses (for cache keys: a change to one changes the root's routes). */
export function delegatesOf(snap: MeshSnapshot, vs: Resource<VirtualServiceSpec>): Array<Resource<VirtualServiceSpec> | undefined> {
  const ns = vs.metadata.namespace ?? 'default';
  return (vs.spec.http ?? []).filter((r) => r.delegate).map((r) => findDelegate(snap, r, ns).vs);
}
