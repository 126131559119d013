import type { AuthorizationPolicy, AuthzCondition, AuthzRule } from '../../proxy-config/types.js';
import { parsePrincipal } from '../../proxy-config/spiffe.js';
import type { AuthzRequest } from './request.js';
import { anyPattern, ipBlocks, type ValueTest } from './values.js';

/**
 * Compiles one policy (already translated by the control plane into conditions) into a function
 * (request, isHttp) -> matches, once per config. Istio's rules for attributes HTTP cannot give on a
 * TCP connection (`request.*`): in ALLOW and AUDIT rules they never match; in DENY rules they are
 * ignored, so the rest of the rule decides (the stricter reading). A condition the proxy cannot
 * evaluate (an unknown attribute, a malformed block: validation refuses both, this is the second
 * line) fails closed: never matches in ALLOW, always matches in DENY; each is reported in `warnings`.
 */

/** One compiled condition. */
interface Cond {
  test: (r: AuthzRequest) => boolean;
  httpOnly: boolean;
}

/** A policy's compiled matcher. */
export type PolicyMatcher = (r: AuthzRequest, isHttp: boolean) => boolean;

type Action = AuthorizationPolicy['action'];

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const i = host.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(host.slice(i + 1)) ? host.slice(0, i) : host;
}

function pathOnly(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

/** The peer's workload identity, parsed by the one parser both planes share; undefined on plaintext or a non-workload principal. */
function peer(r: AuthzRequest) {
  return r.principal === undefined ? undefined : parsePrincipal(r.principal);
}

/** A JWT claim by path (`[groups]`, nested `[a][b]`), as strings. */
function claimValues(claims: Record<string, unknown> | undefined, path: readonly string[]): string[] {
  let v: unknown = claims;
  for (const p of path) v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[p] : undefined;
  if (typeof v === 'string') return [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string' || typeof x === 'number').map(String);
  return [];
}

function exact(values: string[]): ValueTest {
  const set = new Set(values);
  return (v) => v !== undefined && set.has(v);
}

function hostTest(values: string[]): ValueTest {
  const t = anyPattern(values, true);
  return (h) => h !== undefined && (t(h) || t(hostWithoutPort(h)));
}

type Getter = (r: AuthzRequest) => string | undefined;

/** How each attribute is read and compared; `multi` attributes carry several values (any may match). */
const ATTRIBUTES: Record<string, { get?: Getter; multi?: (r: AuthzRequest, key: readonly string[]) => string[]; test: (v: string[]) => ValueTest; httpOnly: boolean; keyed?: boolean }> = {
  'source.principal': { get: (r) => r.principal, test: anyPattern, httpOnly: false },
  'source.namespace': { get: (r) => peer(r)?.namespace, test: anyPattern, httpOnly: false },
  'source.serviceAccount': { get: (r) => { const p = peer(r); return p ? `${p.namespace}/${p.serviceAccount}` : undefined; }, test: exact, httpOnly: false },
  'source.trustDomain': { get: (r) => peer(r)?.trustDomain, test: anyPattern, httpOnly: false },
  'source.ip': { get: (r) => r.sourceIp, test: ipBlocks, httpOnly: false },
  'remote.ip': { get: (r) => r.remoteIp ?? r.sourceIp, test: ipBlocks, httpOnly: false },
  'destination.ip': { get: (r) => r.destinationIp, test: ipBlocks, httpOnly: false },
  'destination.port': { get: (r) => String(r.port), test: exact, httpOnly: false },
  'connection.sni': { get: (r) => r.sni, test: anyPattern, httpOnly: false },
  'request.host': { get: (r) => r.host, test: hostTest, httpOnly: true },
  'request.method': { get: (r) => r.method, test: anyPattern, httpOnly: true },
  'request.path': { get: (r) => pathOnly(r.path), test: anyPattern, httpOnly: true },
  'request.header': { multi: (r, k) => { const v = r.header?.(k[0]!); return v === undefined ? [] : [v]; }, test: anyPattern, httpOnly: true, keyed: true },
  'request.auth.principal': { get: (r) => r.requestAuth?.principal, test: anyPattern, httpOnly: true },
  'request.auth.presenter': { get: (r) => r.requestAuth?.presenter, test: anyPattern, httpOnly: true },
  'request.auth.audiences': { multi: (r) => r.requestAuth?.audiences ?? [], test: anyPattern, httpOnly: true },
  'request.auth.claims': { multi: (r, k) => claimValues(r.requestAuth?.claims, k), test: anyPattern, httpOnly: true, keyed: true },
};

/** Compiles one condition into one or two tests (values, notValues); throws what it cannot evaluate. */
function conditionConds(c: AuthzCondition): Cond[] {
  const a = Object.prototype.hasOwnProperty.call(ATTRIBUTES, c.attribute) ? ATTRIBUTES[c.attribute] : undefined;
  if (!a) throw new Error(`unknown attribute "${String(c.attribute)}"`);
  const key = c.key ?? [];
  if (a.keyed && key.length === 0) throw new Error(`${c.attribute} needs a key`);
  if (!c.values?.length && !c.notValues?.length) throw new Error('a condition needs values or notValues');
  const values = (r: AuthzRequest): string[] => {
    if (a.multi) return a.multi(r, key);
    const v = a.get!(r);
    return v === undefined ? [] : [v];
  };
  const out: Cond[] = [];
  if (c.values?.length) {
    const t = a.test(c.values);
    out.push({ test: (r) => { const vs = values(r); return vs.length === 0 ? t(undefined) : vs.some((v) => t(v)); }, httpOnly: a.httpOnly });
  }
  if (c.notValues?.length) {
    const t = a.test(c.notValues);
    out.push({ test: (r) => !values(r).some((v) => t(v)), httpOnly: a.httpOnly });
  }
  return out;
}

function allPass(conds: Cond[], r: AuthzRequest, isHttp: boolean, action: Action): boolean {
  for (const c of conds) {
    if (!isHttp && c.httpOnly) {
      if (action !== 'DENY') return false;
      continue;
    }
    if (!c.test(r)) return false;
  }
  return true;
}

function compileRule(rule: AuthzRule, action: Action, where: string, warnings: string[]): PolicyMatcher {
  const failClosed: Cond = { test: () => action === 'DENY', httpOnly: false };
  const group = (conds: AuthzCondition[] | undefined, what: string): Cond[] => (conds ?? []).flatMap((c, i) => {
    try {
      return conditionConds(c);
    } catch (err) {
      warnings.push(`${where}: ${what}[${i}]: ${(err as Error).message}; ${action === 'DENY' ? 'it matches every request' : 'it matches no request'}`);
      return [failClosed];
    }
  });
  const froms = (rule.from ?? []).map((alt, i) => group(alt, `from[${i}]`));
  const tos = (rule.to ?? []).map((alt, i) => group(alt, `to[${i}]`));
  const whens = group(rule.when, 'when');
  return (r, isHttp) =>
    (froms.length === 0 || froms.some((c) => allPass(c, r, isHttp, action))) &&
    (tos.length === 0 || tos.some((c) => allPass(c, r, isHttp, action))) &&
    allPass(whens, r, isHttp, action);
}

/** Compiles a policy: it matches when any of its rules does; with no rules it matches nothing. */
export function compilePolicy(p: AuthorizationPolicy, warnings: string[]): PolicyMatcher {
  const rules = (p.rules ?? []).map((rule, i) => compileRule(rule, p.action, `${p.name} rules[${i}]`, warnings));
  return (r, isHttp) => rules.some((m) => m(r, isHttp));
}
