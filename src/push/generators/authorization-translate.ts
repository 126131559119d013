/**
 * AuthorizationPolicy -> the proxy's authorization conditions: the one place Istio's Source,
 * Operation and `when` fields become attributes the proxy owns (proxy-config `AuthzCondition`).
 * Anything that cannot be translated (an unknown field or `when` key, a malformed service account,
 * IP block or port, Envoy-only `experimental.*` keys) fails closed here: in an ALLOW or AUDIT policy
 * the rule that holds it is dropped (it can match nothing), in a DENY policy only the offending
 * condition is dropped (the rule matches more requests, never fewer). Each such case is a problem
 * reported with its field path, for the resource's status.
 */
import type { AuthorizationPolicy, AuthzAttribute, AuthzCondition, AuthzRule } from '../../proxy-config/types.js';
import { isIdentitySegment } from '../../proxy-config/spiffe.js';
import { isCidr } from '../../proxy-config/validate-authz.js';

/** One thing in a policy the translation could not carry, with the field path (`rules[0].from[1].source.serviceAccounts[0]`). */
export interface TranslationProblem {
  path: string;
  message: string;
}

/** The translated policy and what could not be translated. */
export interface PolicyTranslation {
  policy: AuthorizationPolicy;
  problems: TranslationProblem[];
}

type Check = (v: string) => string | undefined;

const cidr: Check = (v) => (isCidr(v.trim()) ? undefined : `"${v}" is not an IP address or CIDR block`);
const port: Check = (v) => (/^\d{1,5}$/.test(v) && Number(v) <= 65535 ? undefined : `"${v}" is not a port number`);
const serviceAccount: Check = (v) => {
  const parts = v.split('/');
  return parts.length === 2 && isIdentitySegment(parts[0]!) && isIdentitySegment(parts[1]!) ? undefined : `"${v}" must be NAMESPACE/SERVICE_ACCOUNT (no wildcards)`;
};

/** Source field -> attribute (and value check), positive and `not` forms. */
const SOURCE: Record<string, [AuthzAttribute, Check?]> = {
  principals: ['source.principal'],
  namespaces: ['source.namespace'],
  serviceAccounts: ['source.serviceAccount', serviceAccount],
  trustDomains: ['source.trustDomain'],
  ipBlocks: ['source.ip', cidr],
  remoteIpBlocks: ['remote.ip', cidr],
  requestPrincipals: ['request.auth.principal'],
};
/** Operation field -> attribute. */
const OPERATION: Record<string, [AuthzAttribute, Check?]> = {
  hosts: ['request.host'],
  ports: ['destination.port', port],
  methods: ['request.method'],
  paths: ['request.path'],
};
/** `when` keys without a key part -> attribute. */
const WHEN: Record<string, [AuthzAttribute, Check?]> = {
  'source.ip': ['source.ip', cidr],
  'remote.ip': ['remote.ip', cidr],
  'source.namespace': ['source.namespace'],
  'source.principal': ['source.principal'],
  'destination.ip': ['destination.ip', cidr],
  'destination.port': ['destination.port', port],
  'connection.sni': ['connection.sni'],
  'request.auth.principal': ['request.auth.principal'],
  'request.auth.audiences': ['request.auth.audiences'],
  'request.auth.presenter': ['request.auth.presenter'],
};

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length > 0 ? v.map((x) => String(x)) : undefined;
}

/** Translates the fields of one Source or Operation object into conditions (AND); problems fill `problems`. */
function fields(obj: unknown, table: Record<string, [AuthzAttribute, Check?]>, path: string, problems: TranslationProblem[]): AuthzCondition[] {
  const out: AuthzCondition[] = [];
  if (obj === undefined || obj === null) return out;
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    problems.push({ path, message: 'must be an object' });
    return out;
  }
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const base = k.startsWith('not') && k.length > 3 ? k[3]!.toLowerCase() + k.slice(4) : k;
    if (!table[base]) problems.push({ path: `${path}.${k}`, message: `field "${k}" is not understood by Bowline's authorization` });
  }
  for (const [field, [attribute, check]] of Object.entries(table)) {
    const notField = `not${field[0]!.toUpperCase()}${field.slice(1)}`;
    const values = strings(o[field]);
    const notValues = strings(o[notField]);
    if (!values && !notValues) continue;
    const bad = [...(values ?? []).map((v, i) => [`${path}.${field}[${i}]`, check?.(v)]), ...(notValues ?? []).map((v, i) => [`${path}.${notField}[${i}]`, check?.(v)])].filter(([, m]) => m !== undefined) as Array<[string, string]>;
    if (bad.length) {
      for (const [p, m] of bad) problems.push({ path: p, message: m });
      continue;
    }
    out.push({ attribute, ...(values ? { values: values.map((v) => v.trim()) } : {}), ...(notValues ? { notValues: notValues.map((v) => v.trim()) } : {}) });
  }
  return out;
}

/** Translates one `when` condition; undefined (with a problem) when its key is not one Bowline evaluates. */
function when(w: unknown, path: string, problems: TranslationProblem[]): AuthzCondition | undefined {
  const o = (w ?? {}) as { key?: unknown; values?: unknown; notValues?: unknown };
  const key = typeof o.key === 'string' ? o.key : '';
  const values = strings(o.values);
  const notValues = strings(o.notValues);
  if (!values && !notValues) {
    problems.push({ path, message: 'a condition needs values or notValues' });
    return undefined;
  }
  const header = /^request\.headers\[([^\]]+)\]$/.exec(key);
  const claim = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  let attribute: AuthzAttribute;
  let k: string[] | undefined;
  let check: Check | undefined;
  if (header) [attribute, k] = ['request.header', [header[1]!.toLowerCase()]];
  else if (claim) [attribute, k] = ['request.auth.claims', [...claim[1]!.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!)];
  else if (WHEN[key]) [attribute, check] = WHEN[key];
  else {
    const why = key.startsWith('experimental.envoy.filters.') ? 'Envoy filter metadata does not exist in Bowline\'s proxy' : 'it is not a condition key Bowline evaluates';
    problems.push({ path: `${path}.key`, message: `condition key "${key}" is refused: ${why}` });
    return undefined;
  }
  const bad = [...(values ?? []), ...(notValues ?? [])].map((v) => check?.(v)).find((m) => m !== undefined);
  if (bad) {
    problems.push({ path, message: bad });
    return undefined;
  }
  return { attribute, ...(k ? { key: k } : {}), ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) };
}

/** Translates one rule; undefined when it must be dropped (ALLOW/AUDIT with something untranslatable). */
function rule(r: unknown, path: string, deny: boolean, problems: TranslationProblem[]): AuthzRule | undefined {
  const mine: TranslationProblem[] = [];
  const o = (r ?? {}) as { from?: unknown[]; to?: unknown[]; when?: unknown[] };
  for (const k of Object.keys(o)) if (!['from', 'to', 'when'].includes(k)) mine.push({ path: `${path}.${k}`, message: `field "${k}" is not understood by Bowline's authorization` });
  const out: AuthzRule = {};
  if (Array.isArray(o.from) && o.from.length) out.from = o.from.map((f, i) => fields((f as { source?: unknown })?.source, SOURCE, `${path}.from[${i}].source`, mine));
  if (Array.isArray(o.to) && o.to.length) out.to = o.to.map((t, i) => fields((t as { operation?: unknown })?.operation, OPERATION, `${path}.to[${i}].operation`, mine));
  if (Array.isArray(o.when) && o.when.length) {
    const w = o.when.map((c, i) => when(c, `${path}.when[${i}]`, mine)).filter((c): c is AuthzCondition => c !== undefined);
    if (w.length) out.when = w;
  }
  problems.push(...mine.map((p) => ({ path: p.path, message: `${p.message}; ${deny ? 'the condition is left out, so this DENY rule matches more requests' : 'this rule matches no request'}` })));
  return mine.length && !deny ? undefined : out;
}

/**
 * Istio's trustDomainAliases: a principal `TD/ns/NS/sa/SA` whose TD is the mesh's trust domain or
 * one of its aliases also stands for the same workload in each of the others.
 */
export function expandPrincipals(values: string[], trustDomains: readonly string[]): string[] {
  if (trustDomains.length < 2) return values;
  const out = new Set<string>();
  for (const v of values) {
    out.add(v);
    const slash = v.indexOf('/');
    if (slash > 0 && trustDomains.includes(v.slice(0, slash))) for (const td of trustDomains) out.add(td + v.slice(slash));
  }
  return [...out];
}

function withAliases(c: AuthzCondition, trustDomains: readonly string[]): AuthzCondition {
  if (c.attribute !== 'source.principal') return c;
  return { ...c, ...(c.values ? { values: expandPrincipals(c.values, trustDomains) } : {}), ...(c.notValues ? { notValues: expandPrincipals(c.notValues, trustDomains) } : {}) };
}

/** Translates one AuthorizationPolicy's `rules` for action ALLOW, DENY or AUDIT; `trustDomains` (the mesh's, then its aliases) expand principals. */
export function translatePolicy(name: string, action: 'ALLOW' | 'DENY' | 'AUDIT', rules: unknown, trustDomains: readonly string[] = []): PolicyTranslation {
  const problems: TranslationProblem[] = [];
  const list = Array.isArray(rules) ? rules : [];
  let out = list.map((r, i) => rule(r, `spec.rules[${i}]`, action === 'DENY', problems)).filter((r): r is AuthzRule => r !== undefined);
  if (trustDomains.length > 1) {
    out = out.map((r) => ({ ...r, ...(r.from ? { from: r.from.map((cs) => cs.map((c) => withAliases(c, trustDomains))) } : {}), ...(r.when ? { when: r.when.map((c) => withAliases(c, trustDomains)) } : {}) }));
  }
  return { policy: { name, action, rules: out }, problems };
}
