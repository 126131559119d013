/**
 * CEL expressions in Istio's Telemetry (`tagOverrides.*.value`, `accessLogging[].filter.expression`):
 * the syntax check and the attribute roots Bowline's proxies bind (the same list as
 * proxy-config/expression.ts, which the proxies check again).
 */
import { parse } from '@bufbuild/cel';
import type { Check } from './schema/dsl.js';

/** Attribute roots the proxies provide (docs/telemetry.md "Expressions"). */
const ROOTS = new Set(['request', 'response', 'source', 'destination', 'upstream', 'connection', 'xds']);

/** The free identifiers of a parsed expression (comprehension variables excluded). */
function identifiers(node: unknown, out: Set<string>, bound: Set<string>): void {
  if (Array.isArray(node)) for (const n of node) identifiers(n, out, bound);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.case === 'identExpr') {
      const name = (o.value as { name: string }).name;
      if (!bound.has(name)) out.add(name);
    }
    if (o.case === 'comprehensionExpr') {
      const c = o.value as { iterVar: string; accuVar: string };
      bound = new Set([...bound, c.iterVar, c.accuVar]);
    }
    for (const v of Object.values(o)) if (v && typeof v === 'object') identifiers(v, out, bound);
  }
}

/** Whether `has(...)` is called on something other than a field selection (CEL refuses it; the evaluator never runs it). */
export function hasOnNonField(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasOnNonField);
  if (!node || typeof node !== 'object') return false;
  const o = node as Record<string, unknown>;
  if (o.case === 'callExpr') {
    const c = o.value as { function: string; args: Array<{ exprKind?: { case?: string } }> };
    if (c.function === 'has' && (c.args.length !== 1 || c.args[0]?.exprKind?.case !== 'selectExpr')) return true;
  }
  return Object.values(o).some((v) => v && typeof v === 'object' && hasOnNonField(v));
}

/** A Check for an object whose `field` holds a CEL expression: refused when it does not parse, warned for attributes no proxy provides. */
export function celField(field: string): Check {
  return (o, path, ctx) => {
    const src = o[field];
    if (typeof src !== 'string' || src === '') return;
    let parsed;
    try {
      parsed = parse(src);
    } catch (e) {
      ctx.add({ code: 'BOWLINE_E_API_EXPRESSION', path: [...path, field], message: `not a CEL expression: ${(e as Error).message.replace(/^<input>:/, '')}` });
      return;
    }
    if (hasOnNonField(parsed.expr)) {
      ctx.add({ code: 'BOWLINE_E_API_EXPRESSION', path: [...path, field], message: "has() takes a field selection such as has(request.useragent); for a map key write 'x-user' in request.headers" });
      return;
    }
    const ids = new Set<string>();
    identifiers(parsed.expr, ids, new Set());
    const unknown = [...ids].filter((n) => !ROOTS.has(n));
    if (unknown.length) {
      ctx.add({ severity: 'warning', code: 'BOWLINE_W_API_EXPRESSION_ATTRIBUTE', path: [...path, field], message: `${unknown.join(', ')}: no such attribute in Bowline's proxies (they bind ${[...ROOTS].join(', ')}); the expression will not evaluate (a tag's value is "unknown", a filter logs nothing)` });
    }
  };
}
