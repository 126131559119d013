import { parse as parseYaml } from 'yaml';
import type { ServedKind } from './kinds.js';
import { entriesOf, fieldSet, fieldTime, formatField, fromFieldsV1, overlaps, setAt, deleteAt, toFieldsV1, valueAt, type FieldPath, type ManagedFieldsEntry } from './managed-fields.js';
import { checkDepth } from './merge-patch.js';
import { ApiError, badRequest } from './status.js';

/**
 * Server-side apply (`PATCH` with `application/apply-patch+yaml`): the body is the manager's whole
 * intent. Fields it sets that another manager owns with a different value are conflicts (409 naming
 * manager and field) unless `force`; fields it set before and no longer sets are removed unless
 * someone else owns them. Ownership is kept in `metadata.managedFields`.
 */

/** What an apply produced: the merged object and whether it is new. */
export interface Applied { obj: Record<string, unknown>; created: boolean }

/** Parses an apply body (YAML or JSON, one object). */
export function parseApplyBody(text: string): Record<string, unknown> {
  if (text.trim() === '') throw badRequest('the apply body is empty');
  let v: unknown;
  try {
    v = parseYaml(text, { maxAliasCount: 1000, uniqueKeys: true });
  } catch (err) {
    throw badRequest(`the apply body could not be read: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('an apply body must be one object (a map with apiVersion, kind, metadata)');
  checkDepth(v, 'the apply body');
  return v as Record<string, unknown>;
}

/** Merges `applied` (by `manager`) into `current` (undefined: the object does not exist yet). */
export function serverSideApply(kind: ServedKind, current: Record<string, unknown> | undefined, applied: Record<string, unknown>, manager: string, force: boolean, now = Date.now()): Applied {
  const meta = (applied.metadata ?? {}) as Record<string, unknown>;
  if (typeof meta !== 'object' || Array.isArray(meta)) throw badRequest('metadata must be an object');
  if (meta.managedFields !== undefined) throw badRequest('metadata.managedFields must be nil in an apply request');
  const apiVersion = typeof applied.apiVersion === 'string' ? applied.apiVersion : '';
  const mine = fieldSet(applied);
  const entries = entriesOf(current).map((e) => ({ e, paths: fromFieldsV1(e.fieldsV1) }));
  const conflicts: Array<{ manager: string; field: string; apiVersion: string }> = [];
  for (const p of mine.values()) {
    for (const x of entries) {
      if (x.e.manager === manager && x.e.operation === 'Apply') continue;
      for (const [k, q] of x.paths) {
        if (!overlaps(p, q)) continue;
        const at: FieldPath = p.length >= q.length ? p : q;
        if (JSON.stringify(valueAt(current, at)) === JSON.stringify(valueAt(applied, at))) continue;
        if (force) x.paths.delete(k);
        else if (!conflicts.some((c) => c.manager === x.e.manager && c.field === formatField(at))) conflicts.push({ manager: x.e.manager, field: formatField(at), apiVersion: x.e.apiVersion });
      }
    }
  }
  const name = typeof meta.name === 'string' ? meta.name : undefined;
  if (conflicts.length) {
    const lines = conflicts.map((c) => `conflict with "${c.manager}"${c.apiVersion ? ` using ${c.apiVersion}` : ''}: ${c.field}`);
    throw new ApiError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${lines.join('\n')}`, {
      ...(name ? { name } : {}), group: kind.group, kind: kind.plural,
      causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"${c.apiVersion ? ` using ${c.apiVersion}` : ''}`, field: c.field })),
    });
  }
  const out: Record<string, unknown> = current ? structuredClone(current) : { apiVersion, kind: applied.kind, metadata: { name: meta.name, ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}) } };
  out.apiVersion = apiVersion || out.apiVersion;
  const own = entries.find((x) => x.e.manager === manager && x.e.operation === 'Apply');
  const others = entries.filter((x) => x !== own);
  for (const q of own?.paths.values() ?? []) {
    if ([...mine.values()].some((p) => overlaps(p, q))) continue;
    if (others.some((x) => [...x.paths.values()].some((o) => overlaps(o, q)))) continue;
    deleteAt(out, q);
  }
  for (const p of mine.values()) setAt(out, p, valueAt(applied, p));
  if (typeof meta.resourceVersion === 'string') (out.metadata as Record<string, unknown>).resourceVersion = meta.resourceVersion;
  const entry: ManagedFieldsEntry = { manager, operation: 'Apply', apiVersion, time: fieldTime(now), fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(mine.values()) };
  const kept = others.filter((x) => x.paths.size > 0).map((x) => ({ ...x.e, fieldsV1: toFieldsV1(x.paths.values()) }));
  (out.metadata as Record<string, unknown>).managedFields = [...kept, ...(mine.size ? [entry] : [])];
  return { obj: out, created: !current };
}

/** The field manager of a non-apply write: `fieldManager`, else the User-Agent's program name, as Kubernetes does. */
export function updateManager(query: URLSearchParams, userAgent: string | undefined): string {
  const fm = query.get('fieldManager');
  if (fm) {
    if (fm.length > 128 || /[^\x20-\x7e]/.test(fm)) throw badRequest('fieldManager must be at most 128 printable characters');
    return fm;
  }
  const ua = (userAgent ?? '').split('/')[0]!.trim();
  return ua && ua.length <= 128 && !/[^\x20-\x7e]/.test(ua) ? ua : 'unknown';
}
