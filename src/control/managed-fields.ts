/**
 * Field ownership as Kubernetes tracks it in `metadata.managedFields` (FieldsV1): which manager
 * (kubectl, kubectl-client-side-apply, kubectl-edit, ...) last set which field, by Apply or Update.
 * Bowline's field set: every leaf under the object (spec, data, metadata.labels/annotations ...);
 * lists are atomic (as in Istio's CRDs), so a list is one field.
 */

/** One `metadata.managedFields` entry. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** A field path: keys from the top of the object. */
export type FieldPath = string[];

const key = (p: FieldPath) => JSON.stringify(p);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const SKIP_META = new Set(['labels', 'annotations']);

/** The leaf fields an object sets, keyed by JSON path (identity and server-owned metadata excluded). */
export function fieldSet(obj: Record<string, unknown>): Map<string, FieldPath> {
  const out = new Map<string, FieldPath>();
  const visit = (v: unknown, p: FieldPath) => {
    if (isObj(v) && Object.keys(v).length > 0) for (const [k, c] of Object.entries(v)) visit(c, [...p, k]);
    else out.set(key(p), p);
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status') continue;
    if (k === 'metadata') {
      if (isObj(v)) for (const m of SKIP_META) if (isObj(v[m])) for (const [lk, lv] of Object.entries(v[m] as object)) visit(lv, ['metadata', m, lk]);
      continue;
    }
    visit(v, [k]);
  }
  return out;
}

/** FieldsV1 (`{"f:spec": {"f:hosts": {}}}`) of a set of paths. */
export function toFieldsV1(paths: Iterable<FieldPath>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let cur = root;
    for (const k of p) cur = (cur[`f:${k}`] ??= {}) as Record<string, unknown>;
  }
  return root;
}

/** The paths of a FieldsV1 value; list item keys (`k:`, `v:`, `i:`) end at their list, which is atomic here. */
export function fromFieldsV1(f: unknown): Map<string, FieldPath> {
  const out = new Map<string, FieldPath>();
  const visit = (node: unknown, p: FieldPath) => {
    const children = isObj(node) ? Object.keys(node).filter((k) => k !== '.') : [];
    if (p.length && (children.length === 0 || children.some((k) => !k.startsWith('f:')))) { out.set(key(p), p); return; }
    for (const k of children) visit((node as Record<string, unknown>)[k], [...p, k.slice(2)]);
  };
  visit(f, []);
  return out;
}

/** True when one path is the other or contains it. */
export function overlaps(a: FieldPath, b: FieldPath): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The value at a path, or undefined. */
export function valueAt(obj: unknown, p: FieldPath): unknown {
  let cur = obj;
  for (const k of p) cur = isObj(cur) ? cur[k] : undefined;
  return cur;
}

/** Sets the value at a path, creating objects on the way. */
export function setAt(obj: Record<string, unknown>, p: FieldPath, v: unknown): void {
  let cur = obj;
  for (const k of p.slice(0, -1)) {
    if (!isObj(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[p[p.length - 1]!] = structuredClone(v);
}

/** Removes the value at a path (and objects it leaves empty, below the top level). */
export function deleteAt(obj: Record<string, unknown>, p: FieldPath): void {
  const chain: Array<Record<string, unknown>> = [obj];
  for (const k of p.slice(0, -1)) {
    const next = chain[chain.length - 1]![k];
    if (!isObj(next)) return;
    chain.push(next);
  }
  delete chain[chain.length - 1]![p[p.length - 1]!];
  for (let i = chain.length - 1; i > 1; i--) if (Object.keys(chain[i]!).length === 0) delete chain[i - 1]![p[i - 1]!];
}

/** The managedFields entries of an object (malformed ones dropped). */
export function entriesOf(obj: Record<string, unknown> | undefined): ManagedFieldsEntry[] {
  const mf = isObj(obj?.metadata) ? (obj!.metadata as Record<string, unknown>).managedFields : undefined;
  return Array.isArray(mf) ? mf.filter((e): e is ManagedFieldsEntry => isObj(e) && typeof e.manager === 'string' && (e.operation === 'Apply' || e.operation === 'Update')) : [];
}

/** `.spec.hosts` as Kubernetes prints a conflicting field. */
export function formatField(p: FieldPath): string {
  return p.map((k) => `.${k}`).join('');
}

/** The current time as managedFields records it. */
export function fieldTime(now = Date.now()): string {
  return new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Records an Update by `manager` (create, PUT, PATCH): fields it added or changed become its own and
 * leave other managers; removed fields leave everyone. Returns the new managedFields.
 */
export function trackUpdate(old: Record<string, unknown> | undefined, next: Record<string, unknown>, manager: string, apiVersion: string, now = Date.now()): ManagedFieldsEntry[] {
  const before = old ? fieldSet(old) : new Map<string, FieldPath>();
  const after = fieldSet(next);
  const changed = [...after.values()].filter((p) => JSON.stringify(valueAt(old, p)) !== JSON.stringify(valueAt(next, p)));
  const entries = entriesOf(old).map((e) => ({ e, paths: fromFieldsV1(e.fieldsV1) }));
  for (const x of entries) {
    for (const [k, p] of x.paths) {
      if (changed.some((c) => overlaps(c, p)) || (!after.has(k) && before.has(k) && ![...after.values()].some((a) => overlaps(a, p)))) x.paths.delete(k);
    }
  }
  let mine = entries.find((x) => x.e.manager === manager && x.e.operation === 'Update');
  if (!mine && changed.length) {
    mine = { e: { manager, operation: 'Update', apiVersion, time: '', fieldsType: 'FieldsV1', fieldsV1: {} }, paths: new Map() };
    entries.push(mine);
  }
  if (mine && changed.length) {
    for (const p of changed) mine.paths.set(key(p), p);
    mine.e = { ...mine.e, apiVersion, time: fieldTime(now) };
  }
  return entries.filter((x) => x.paths.size > 0).map((x) => ({ ...x.e, fieldsV1: toFieldsV1(x.paths.values()) }));
}
