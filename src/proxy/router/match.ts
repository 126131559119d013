/**
 * Istio HTTPMatchRequest compiled to one closure. All present conditions must hold. The
 * conditions that depend on the proxy itself (sourceLabels, sourceNamespace) are decided at
 * compile time: a match that cannot apply to this proxy is dropped.
 */
import type { HttpMatch, NodeInfo, StringMatch } from '../../proxy-config/types.js';
import { compileStringMatch, type StringMatcher } from './string-match.js';
import type { RouteInput } from './types.js';

/** Per-request facts computed at most once per select (reused object; select is synchronous). */
export interface MatchContext {
  input: RouteInput;
  /** The path without its query string. */
  pathOnly: string;
}

/**
 * A compiled match: -1 when it does not match, else the length of the path prefix the uri
 * condition consumed (the whole path for exact and regex, 1 for the implicit prefix `/`), which
 * a prefix rewrite replaces.
 */
export type CompiledMatch = (ctx: MatchContext) => number;

type Cond = (ctx: MatchContext) => boolean;
type ValueMatch = StringMatch | { present: boolean };

/** Parses a query string (`a=1&b`) into a map of raw (not decoded) first values. */
export function parseQuery(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return out;
  for (const part of path.slice(q + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(k)) out.set(k, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

/**
 * The raw value of query parameter `name` in `path` (first occurrence; '' for a bare `name`),
 * found by scanning, without building a map; undefined when absent.
 */
export function queryValue(path: string, name: string): string | undefined {
  let i = path.indexOf('?');
  if (i < 0) return undefined;
  i++;
  const n = name.length;
  while (i <= path.length) {
    let end = path.indexOf('&', i);
    if (end < 0) end = path.length;
    if (path.startsWith(name, i)) {
      const after = i + n;
      if (after === end) return '';
      if (path.charCodeAt(after) === 61) return path.slice(after + 1, end); // '='
    }
    i = end + 1;
  }
  return undefined;
}

/** Rough relative cost of a condition, so cheap ones run first and can fail fast. */
function cost(m: ValueMatch): number {
  return 'regex' in m ? 10 : 1;
}

function valueCond(get: (ctx: MatchContext) => string | undefined, m: ValueMatch): Cond {
  if ('present' in m) {
    const want = m.present;
    return (ctx) => (get(ctx) !== undefined) === want;
  }
  const sm: StringMatcher = compileStringMatch(m);
  return (ctx) => {
    const v = get(ctx);
    return v !== undefined && sm(v);
  };
}

function includesLabels(have: Record<string, string>, want: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) return false;
  return true;
}

/** Compiles one match; null when it can never apply to this proxy (sourceLabels / sourceNamespace). */
export function compileHttpMatch(m: HttpMatch, node: NodeInfo): CompiledMatch | null {
  if (m.sourceLabels && !includesLabels(node.labels, m.sourceLabels)) return null;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== node.namespace) return null;
  const costed: Array<{ c: Cond; cost: number }> = [];
  const conds = { push: (c: Cond, k = 0) => costed.push({ c, cost: k }) };
  if (m.port !== undefined) { const p = m.port; conds.push((ctx) => ctx.input.port === p); }
  if (m.method) { const f = compileStringMatch(m.method); conds.push((ctx) => f(ctx.input.method), cost(m.method)); }
  if (m.scheme) { const f = compileStringMatch(m.scheme); conds.push((ctx) => f(ctx.input.scheme), cost(m.scheme)); }
  if (m.authority) { const f = compileStringMatch(m.authority); conds.push((ctx) => f(ctx.input.authority), cost(m.authority)); }
  for (const [name, vm] of Object.entries(m.headers ?? {})) {
    const n = name.toLowerCase();
    conds.push(valueCond((ctx) => ctx.input.header(n), vm), 1 + cost(vm));
  }
  for (const [name, vm] of Object.entries(m.withoutHeaders ?? {})) {
    const n = name.toLowerCase();
    const c = valueCond((ctx) => ctx.input.header(n), vm);
    conds.push((ctx) => !c(ctx), 1 + cost(vm));
  }
  for (const [name, vm] of Object.entries(m.queryParams ?? {})) {
    conds.push(valueCond((ctx) => queryValue(ctx.input.path, name), vm), 4 + cost(vm));
  }
  // A uri condition other than a regex is cheap: run it first; a regex one runs last.
  const uri = uriCondition(m.uri, m.ignoreUriCase === true);
  const uriIsRegex = m.uri !== undefined && 'regex' in m.uri;
  if (m.uri && !uriIsRegex) conds.push((ctx) => uri(ctx) >= 0, -1);
  costed.sort((a, b) => a.cost - b.cost);
  const list: Cond[] = costed.map((x) => x.c);
  const n = list.length;
  if (n === 0) return uri;
  if (n === 1) { const c0 = list[0]!; return (ctx) => (c0(ctx) ? uri(ctx) : -1); }
  return (ctx) => {
    for (let i = 0; i < n; i++) if (!list[i]!(ctx)) return -1;
    return uri(ctx);
  };
}

function uriCondition(uri: StringMatch | undefined, ignoreCase: boolean): CompiledMatch {
  if (!uri) return (ctx) => (ctx.pathOnly.charCodeAt(0) === 47 ? 1 : 0);
  const f = compileStringMatch(uri, ignoreCase);
  if ('prefix' in uri) { const len = uri.prefix.length; return (ctx) => (f(ctx.pathOnly) ? len : -1); }
  return (ctx) => (f(ctx.pathOnly) ? ctx.pathOnly.length : -1);
}
