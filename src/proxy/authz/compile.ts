import type { AuthorizationOperation, AuthorizationPolicy, AuthorizationRule, AuthorizationSource } from '../../proxy-config/types.js';
import type { AuthzRequest } from './request.js';
import { anyPattern, ipBlocks, namespaceOf, type ValueTest } from './values.js';

/**
 * Compiles one AuthorizationPolicy into a function (request, isHttp) -> matches, once per config.
 * Istio's rules for fields HTTP cannot give on a TCP connection (hosts, methods, paths, request
 * headers, request principals, request.auth.*): in ALLOW and AUDIT rules they never match; in DENY
 * rules they are ignored, so the rest of the rule decides (the stricter reading). Conditions the
 * proxy cannot evaluate (an unknown `when` key, a malformed IP block) fail closed: never match in
 * ALLOW, always match in DENY; each is reported in `warnings`.
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

/** Adds a condition for `values` (positive) and `notValues` (negated) over one extracted value. */
function field(conds: Cond[], get: (r: AuthzRequest) => string | undefined, values: string[] | undefined, notValues: string[] | undefined, opts: { httpOnly?: boolean; test?: (v: string[]) => ValueTest } = {}): void {
  const make = opts.test ?? ((v: string[]) => anyPattern(v));
  const httpOnly = opts.httpOnly ?? false;
  if (values?.length) {
    const t = make(values);
    conds.push({ test: (r) => t(get(r)), httpOnly });
  }
  if (notValues?.length) {
    const t = make(notValues);
    conds.push({ test: (r) => !t(get(r)), httpOnly });
  }
}

function sourceConds(s: AuthorizationSource): Cond[] {
  const c: Cond[] = [];
  field(c, (r) => r.principal, s.principals, s.notPrincipals);
  field(c, (r) => r.requestAuth?.principal, s.requestPrincipals, s.notRequestPrincipals, { httpOnly: true });
  field(c, (r) => namespaceOf(r.principal), s.namespaces, s.notNamespaces);
  field(c, (r) => r.sourceIp, s.ipBlocks, s.notIpBlocks, { test: ipBlocks });
  field(c, (r) => r.remoteIp ?? r.sourceIp, s.remoteIpBlocks, s.notRemoteIpBlocks, { test: ipBlocks });
  return c;
}

function hostTest(values: string[]): ValueTest {
  const t = anyPattern(values, true);
  return (h) => h !== undefined && (t(h) || t(hostWithoutPort(h)));
}

function operationConds(o: AuthorizationOperation): Cond[] {
  const c: Cond[] = [];
  field(c, (r) => r.host, o.hosts, o.notHosts, { httpOnly: true, test: hostTest });
  field(c, (r) => String(r.port), o.ports, o.notPorts, { test: (v) => { const set = new Set(v); return (p) => p !== undefined && set.has(p); } });
  field(c, (r) => r.method, o.methods, o.notMethods, { httpOnly: true });
  field(c, (r) => pathOnly(r.path), o.paths, o.notPaths, { httpOnly: true });
  return c;
}

/** A JWT claim by path (`request.auth.claims[groups]`, nested `[a][b]`), as strings. */
function claimValues(claims: Record<string, unknown> | undefined, path: string[]): string[] {
  let v: unknown = claims;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  if (typeof v === 'string') return [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string' || typeof x === 'number').map(String);
  return [];
}

/** Compiles one `when` condition; undefined when its key is not one the proxy knows. */
function whenCond(w: { key: string; values?: string[]; notValues?: string[] }): Cond[] | undefined {
  const c: Cond[] = [];
  const key = w.key;
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  const claim = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (header) field(c, (r) => r.header?.(header[1]!.toLowerCase()), w.values, w.notValues, { httpOnly: true });
  else if (key === 'source.ip') field(c, (r) => r.sourceIp, w.values, w.notValues, { test: ipBlocks });
  else if (key === 'remote.ip') field(c, (r) => r.remoteIp ?? r.sourceIp, w.values, w.notValues, { test: ipBlocks });
  else if (key === 'destination.ip') field(c, (r) => r.destinationIp, w.values, w.notValues, { test: ipBlocks });
  else if (key === 'source.namespace') field(c, (r) => namespaceOf(r.principal), w.values, w.notValues);
  else if (key === 'source.principal') field(c, (r) => r.principal, w.values, w.notValues);
  else if (key === 'destination.port') field(c, (r) => String(r.port), w.values, w.notValues);
  else if (key === 'connection.sni') field(c, (r) => r.sni, w.values, w.notValues);
  else if (key === 'request.auth.principal') field(c, (r) => r.requestAuth?.principal, w.values, w.notValues, { httpOnly: true });
  else if (key === 'request.auth.presenter') field(c, (r) => r.requestAuth?.presenter, w.values, w.notValues, { httpOnly: true });
  else if (key === 'request.auth.audiences' || claim) {
    const path = claim ? [...claim[1]!.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!) : [];
    const get = (r: AuthzRequest) => (claim ? claimValues(r.requestAuth?.claims, path) : r.requestAuth?.audiences ?? []);
    if (w.values?.length) { const t = anyPattern(w.values); c.push({ test: (r) => get(r).some((v) => t(v)), httpOnly: true }); }
    if (w.notValues?.length) { const t = anyPattern(w.notValues); c.push({ test: (r) => !get(r).some((v) => t(v)), httpOnly: true }); }
  } else return undefined;
  return c;
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

function compileRule(rule: AuthorizationRule, action: Action, where: string, warnings: string[]): PolicyMatcher {
  const failClosed: Cond = { test: () => action === 'DENY', httpOnly: false };
  const guarded = (build: () => Cond[], what: string): Cond[] => {
    try {
      return build();
    } catch (err) {
      warnings.push(`${where}: ${what}: ${(err as Error).message}; ${action === 'DENY' ? 'it matches every request' : 'it matches no request'}`);
      return [failClosed];
    }
  };
  const froms = (rule.from ?? []).map((f, i) => guarded(() => sourceConds(f.source ?? {}), `from[${i}]`));
  const tos = (rule.to ?? []).map((t, i) => guarded(() => operationConds(t.operation ?? {}), `to[${i}]`));
  const whens = (rule.when ?? []).flatMap((w, i) => guarded(() => {
    const c = whenCond(w);
    if (!c) throw new Error(`unsupported condition key "${w.key}"`);
    return c;
  }, `when[${i}]`));
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
