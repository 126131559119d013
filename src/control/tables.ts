import type { StoredObject } from '../store/index.js';
import type { ServedKind } from './kinds.js';
import { printerColumns, type PrinterColumn } from './printer-columns.js';

/**
 * Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): a meta.k8s.io/v1
 * Table with the kind's printer columns (Istio's CRD columns), ages rendered as kubectl shows them,
 * and each row's object as PartialObjectMetadata (so `--show-labels`, `-L` and `-A` work).
 */

/** True when the Accept header asks for a Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((e) => {
    const parts = e.split(';').map((x) => x.trim());
    return parts.includes('as=Table') && parts.includes('g=meta.k8s.io');
  });
}

/** A duration as kubectl prints ages: `45s`, `5m3s`, `17m`, `3h12m`, `20h`, `2d3h`, `40d`, `1y20d`, `9y`. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  const y = Math.floor(h / 24 / 365);
  if (y < 8) { const d = Math.floor(h / 24) - y * 365; return d === 0 ? `${y}y` : `${y}y${d}d`; }
  return `${y}y`;
}

function lookup(obj: unknown, jsonPath: string): unknown {
  let cur = obj;
  for (const k of jsonPath.replace(/^\./, '').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** How a table reads values the presented object does not show (a Secret's key count). */
export interface TableContext {
  now: number;
  /** Keys of a Secret's sealed data. */
  secretKeys?: (o: StoredObject) => number;
}

function cell(kind: ServedKind, c: PrinterColumn, o: StoredObject, ctx: TableContext): unknown {
  if (kind.kind === 'CustomResourceDefinition' && c.jsonPath === '.metadata.creationTimestamp') return o.metadata.creationTimestamp ?? null;
  if (c.name === 'Data' && c.jsonPath === '.data') {
    if (kind.kind === 'Secret') return ctx.secretKeys?.(o) ?? 0;
    return Object.keys((o.data as object | undefined) ?? {}).length + Object.keys((o.binaryData as object | undefined) ?? {}).length;
  }
  const v = lookup(o, c.jsonPath);
  if (v === undefined || v === null) return null;
  if (c.type === 'date') {
    const t = Date.parse(String(v));
    return Number.isNaN(t) ? null : humanDuration(ctx.now - t);
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return v;
}

function columnsOf(kind: ServedKind): PrinterColumn[] {
  if (kind.kind === 'CustomResourceDefinition') return [{ name: 'Created At', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'When the definition was created.' }];
  return printerColumns(kind);
}

/** The column definitions of a kind's Table (Name first). */
export function columnDefinitions(kind: ServedKind) {
  return [
    { name: 'Name', type: 'string', format: 'name', description: 'Name of the object.', priority: 0 },
    ...columnsOf(kind).map((c) => ({ name: c.name, type: c.type === 'date' ? 'string' : c.type, format: '', description: c.description, priority: c.priority ?? 0 })),
  ];
}

/** One Table row for an object as the API shows it. `includeObject`: None, Metadata (default) or Object. */
export function tableRow(kind: ServedKind, o: StoredObject, ctx: TableContext, includeObject = 'Metadata', apiVersion?: string) {
  const object = includeObject === 'None' ? undefined
    : includeObject === 'Object' ? o
      : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
  return { cells: [o.metadata.name, ...columnsOf(kind).map((c) => cell(kind, c, o, ctx))], ...(object ? { object: apiVersion && includeObject === 'Object' ? { ...object, apiVersion } : object } : {}) };
}

/** A whole Table for a list answer (`withColumns`: false for watch events after the first). */
export function table(kind: ServedKind, items: StoredObject[], meta: Record<string, unknown>, ctx: TableContext, includeObject?: string, withColumns = true) {
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: meta,
    ...(withColumns ? { columnDefinitions: columnDefinitions(kind) } : { columnDefinitions: null }),
    rows: items.map((o) => tableRow(kind, o, ctx, includeObject)),
  };
}
