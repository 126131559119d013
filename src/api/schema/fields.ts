/**
 * Field paths of a kind's schema, as the enforcement registry (../enforcement.ts) names them:
 * `spec.http[].fault.abort.httpStatus` (a list is `[]`, a map key is `*`). A path ends at a leaf:
 * a scalar, a list or map of scalars, a free-form value, or a message without known fields.
 */
import { toCamel, type Path, type Schema } from './dsl.js';
import { isObj } from './walk.js';

function isLeaf(s: Schema): boolean {
  if (s.t === 'object') return s.open === true || Object.keys(s.fields).length === 0;
  if (s.t === 'array' || s.t === 'map') return isLeaf(s.of);
  return true;
}

/** Every leaf field path under `schema`, prefixed with `prefix` (e.g. 'spec'), in schema order. */
export function leafPaths(schema: Schema, prefix: string): string[] {
  const out: string[] = [];
  const visit = (s: Schema, p: string, depth: number) => {
    if (depth > 24) throw new Error(`schema too deep (a cycle?) at ${p}`);
    if (isLeaf(s)) { out.push(p); return; }
    if (s.t === 'array') return visit(s.of, `${p}[]`, depth + 1);
    if (s.t === 'map') return visit(s.of, `${p}.*`, depth + 1);
    if (s.t === 'object') for (const [k, c] of Object.entries(s.fields)) visit(c, `${p}.${k}`, depth + 1);
  };
  visit(schema, prefix, 0);
  return out;
}

/** One leaf field set in a document: its schema path pattern and where it is (camelCase keys, list indexes). */
export interface SetField { pattern: string; path: Path }

/** The leaf fields `value` sets (non-null, non-empty), walked along `schema`. Unknown fields are skipped. */
export function setLeafFields(value: unknown, schema: Schema, pattern: string, path: Path): SetField[] {
  const out: SetField[] = [];
  const visit = (v: unknown, s: Schema, pat: string, p: Path) => {
    if (v === null || v === undefined) return;
    if (isLeaf(s)) {
      if (!(Array.isArray(v) && v.length === 0) && !(isObj(v) && Object.keys(v).length === 0 && s.t !== 'object')) out.push({ pattern: pat, path: p });
      return;
    }
    if (s.t === 'array' && Array.isArray(v)) v.forEach((x, i) => visit(x, s.of, `${pat}[]`, [...p, i]));
    else if (s.t === 'map' && isObj(v)) for (const [k, x] of Object.entries(v)) visit(x, s.of, `${pat}.*`, [...p, k]);
    else if (s.t === 'object' && isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        const camel = toCamel(k);
        const f = Object.prototype.hasOwnProperty.call(s.fields, camel) ? s.fields[camel] : undefined;
        if (f) visit(x, f, `${pat}.${camel}`, [...p, camel]);
      }
    }
  };
  visit(value, schema, pattern, path);
  return out;
}
