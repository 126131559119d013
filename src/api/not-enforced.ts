import { enforcement } from './enforcement.js';
import { setLeafFields } from './schema/fields.js';
import { formatPath, type Finding } from './schema/dsl.js';
import { specSchemas } from './schema/resource.js';
import type { Kind } from './types/meta.js';

/** The code of the warning for an accepted field nothing proves is enforced. */
export const NOT_ENFORCED = 'BOWLINE_W_API_NOT_ENFORCED';

/**
 * One BOWLINE_W_API_NOT_ENFORCED warning per field `spec` sets that the enforcement registry does
 * not list as proven end to end (a field missing from the registry counts as not proven).
 */
export function notEnforced(kind: Kind, spec: unknown): Finding[] {
  const schema = specSchemas[kind];
  if (!schema) return [];
  const out: Finding[] = [];
  for (const f of setLeafFields(spec, schema, 'spec', ['spec'])) {
    const e = enforcement[`${kind} ${f.pattern}`];
    if (e?.status === 'implemented') continue;
    const note = e?.status === 'warned' && e.note ? ` (${e.note})` : '';
    out.push({
      severity: 'warning',
      code: NOT_ENFORCED,
      path: f.path,
      atKey: true,
      message: `${formatPath(f.path)} is accepted but not enforced: no end-to-end test proves Bowline's proxies act on ${kind} ${f.pattern}${note}`,
      hint: 'see docs/istio-coverage.md for what is enforced',
    });
  }
  return out;
}
