import type { StoredObject } from '../store/index.js';
import { badRequest } from './status.js';

/** A compiled selector: true when an object matches. */
export type Matcher = (obj: StoredObject) => boolean;

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function checkKey(key: string, term: string): void {
  const slash = key.indexOf('/');
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : [undefined, key];
  if ((prefix !== undefined && !PREFIX.test(prefix)) || !NAME.test(name)) {
    throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${term}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (an optional prefix is a DNS subdomain followed by '/')`);
  }
}

function checkValue(value: string, term: string): void {
  if (value !== '' && !NAME.test(value)) {
    throw badRequest(`unable to parse requirement: invalid label value "${value}" in "${term}": a valid label value must be 63 characters or less and consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character`);
  }
}

/** Splits a selector on the commas that are not inside `( )`. */
function terms(sel: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw badRequest(`labelSelector "${sel}" has an unbalanced ")"`);
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  if (depth !== 0) throw badRequest(`labelSelector "${sel}" has an unbalanced "("`);
  out.push(cur);
  return out.map((t) => t.trim());
}

/** Compiles one label requirement (`k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>n`, `k<n`). */
function requirement(term: string): (l: Record<string, string>) => boolean {
  let m = /^!\s*(\S+)$/.exec(term);
  if (m) { const k = m[1]!; checkKey(k, term); return (l) => !(k in l); }
  m = /^(\S+?)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term);
  if (m) {
    const [, k, op, list] = m;
    checkKey(k!, term);
    const values = list!.split(',').map((v) => v.trim());
    for (const v of values) checkValue(v, term);
    return op === 'in' ? (l) => k! in l && values.includes(l[k!]!) : (l) => !(k! in l) || !values.includes(l[k!]!);
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$/.exec(term);
  if (m) {
    const [, k, op, v] = m;
    checkKey(k!, term);
    if (op === '>' || op === '<') {
      if (!/^-?\d+$/.test(v!)) throw badRequest(`unable to parse requirement: for "${op}" the value must be an integer, in "${term}"`);
      const n = Number(v);
      return op === '>' ? (l) => k! in l && /^-?\d+$/.test(l[k!]!) && Number(l[k!]) > n : (l) => k! in l && /^-?\d+$/.test(l[k!]!) && Number(l[k!]) < n;
    }
    checkValue(v!, term);
    return op === '!=' ? (l) => l[k!] !== v : (l) => l[k!] === v;
  }
  if (/^\S+$/.test(term)) { checkKey(term, term); return (l) => term in l; }
  throw badRequest(`unable to parse requirement: "${term}" is not key, !key, key=value, key!=value, key in (...) or key notin (...)`);
}

/** Parses `labelSelector` as Kubernetes does; malformed selectors throw 400. */
export function parseLabelSelector(sel: string | null): Matcher {
  if (sel === null || sel.trim() === '') return () => true;
  const reqs = terms(sel).map((t) => {
    if (t === '') throw badRequest(`labelSelector "${sel}" has an empty term`);
    return requirement(t);
  });
  return (o) => { const l = o.metadata.labels ?? {}; return reqs.every((r) => r(l)); };
}

/** Field paths a selector may use, per kind (every kind: metadata.name, metadata.namespace). */
const EXTRA_FIELDS: Record<string, string[]> = { Secret: ['type'], Namespace: ['status.phase'] };

function fieldValue(o: StoredObject, field: string): string | undefined {
  if (field === 'metadata.name') return o.metadata.name;
  if (field === 'metadata.namespace') return o.metadata.namespace;
  if (field === 'type') return typeof o.type === 'string' ? o.type : 'Opaque';
  if (field === 'status.phase') return 'Active';
  return undefined;
}

/** Parses `fieldSelector` (`f=v`, `f==v`, `f!=v`, comma-joined); unknown fields are 400 (Event: any field, it never lists anything). */
export function parseFieldSelector(sel: string | null, kind: string): Matcher {
  if (sel === null || sel.trim() === '') return () => true;
  const allowed = ['metadata.name', 'metadata.namespace', ...(EXTRA_FIELDS[kind] ?? [])];
  const reqs = sel.split(',').map((t) => {
    const m = /^\s*([A-Za-z0-9_.[\]-]+)\s*(==|=|!=)\s*([^,]*?)\s*$/.exec(t);
    if (!m) throw badRequest(`invalid fieldSelector term "${t}": use field=value or field!=value`);
    const [, f, op, v] = m;
    if (kind === 'Event') return () => true;
    if (!allowed.includes(f!)) throw badRequest(`field label not supported: ${f} (supported: ${allowed.join(', ')})`);
    return op === '!=' ? (o: StoredObject) => fieldValue(o, f!) !== v : (o: StoredObject) => fieldValue(o, f!) === v;
  });
  return (o) => reqs.every((r) => r(o));
}
