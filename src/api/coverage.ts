import { enforcement } from './enforcement.js';

/** One accepted field and what proves it (or that nothing does). */
export interface CoverageRow {
  /** `KIND spec.path`, as the enforcement registry names it. */
  field: string;
  kind: string;
  status: 'proven' | 'warned';
  /** For a proven field: the test file and the test's title. */
  file?: string;
  test?: string;
  /** For a warned field: what is known (appended to its BOWLINE_W_API_NOT_ENFORCED warning). */
  note?: string;
}

/** Every field of the enforcement registry as a row, in registry order, optionally for one kind only. */
export function coverageRows(kind?: string): CoverageRow[] {
  const rows: CoverageRow[] = [];
  for (const [field, e] of Object.entries(enforcement)) {
    const k = field.slice(0, field.indexOf(' '));
    if (kind !== undefined && k.toLowerCase() !== kind.toLowerCase()) continue;
    rows.push(e.status === 'implemented'
      ? { field, kind: k, status: 'proven', file: e.file, test: e.test }
      : { field, kind: k, status: 'warned', ...(e.note ? { note: e.note } : {}) });
  }
  return rows;
}

/** Proven and warned counts per kind, and in total. */
export function coverageCounts(rows: CoverageRow[]): { kinds: Record<string, { proven: number; warned: number }>; proven: number; warned: number } {
  const kinds: Record<string, { proven: number; warned: number }> = {};
  for (const r of rows) (kinds[r.kind] ??= { proven: 0, warned: 0 })[r.status]++;
  return { kinds, proven: rows.filter((r) => r.status === 'proven').length, warned: rows.filter((r) => r.status === 'warned').length };
}
