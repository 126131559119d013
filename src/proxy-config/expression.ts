/**
 * CEL expressions over Envoy's request attributes, as Istio's Telemetry uses them (metric tag
 * values, access-log filters): which attributes a Bowline proxy provides, and the syntax check
 * proxy-config validation runs (the proxy compiles them in src/telemetry/expression.ts).
 */
import { createRequire } from 'node:module';

/** @bufbuild/cel's parser, loaded with the first expression checked (a config without Telemetry expressions never needs its ~1 MB). */
let parseCel: typeof import('@bufbuild/cel').parse | undefined;

/** The attribute roots a proxy binds (docs/telemetry.md "Expressions"); others evaluate to an error. */
export const EXPRESSION_ROOTS = ['request', 'response', 'source', 'destination', 'upstream', 'connection', 'xds'] as const;

/** Longest expression accepted (a config is not a program). */
export const MAX_EXPRESSION_LENGTH = 4096;

/** Whether `has(...)` is called on something other than a field selection (CEL refuses it; the evaluator never runs it). */
function hasOnNonField(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasOnNonField);
  if (!node || typeof node !== 'object') return false;
  const o = node as Record<string, unknown>;
  if (o.case === 'callExpr') {
    const c = o.value as { function: string; args: Array<{ exprKind?: { case?: string } }> };
    if (c.function === 'has' && (c.args.length !== 1 || c.args[0]?.exprKind?.case !== 'selectExpr')) return true;
  }
  return Object.values(o).some((v) => v && typeof v === 'object' && hasOnNonField(v));
}

/** Undefined when `src` parses as CEL, else why not (with CEL's position). */
export function expressionError(src: string): string | undefined {
  if (src.length > MAX_EXPRESSION_LENGTH) return `longer than ${MAX_EXPRESSION_LENGTH} characters`;
  try {
    parseCel ??= (createRequire(import.meta.url)('@bufbuild/cel') as typeof import('@bufbuild/cel')).parse;
    const parsed = parseCel(src);
    return hasOnNonField(parsed.expr) ? "has() takes a field selection such as has(request.useragent); for a map key write 'x-user' in request.headers" : undefined;
  } catch (e) {
    return `not a CEL expression: ${(e as Error).message.replace(/^<input>:/, '')}`;
  }
}
