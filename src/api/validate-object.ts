import { checkDocument } from './document.js';
import { formatPath } from './schema/dsl.js';
import type { Violation } from './types/meta.js';

/** Validates one already-parsed object (e.g. JSON from the config API); violations carry paths, no lines. Never throws. */
export function validateObject(obj: unknown, opts: { ignoreUnknownKinds?: boolean } = {}): Violation[] {
  try {
    return checkDocument(obj, opts).findings.map((f) => ({ severity: f.severity ?? 'error', code: f.code, path: formatPath(f.path), message: f.message, ...(f.hint ? { hint: f.hint } : {}) }));
  } catch (err) {
    return [{ severity: 'error', code: 'BOWLINE_E_API_INTERNAL', path: '', message: `internal validation error: ${(err as Error)?.message ?? String(err)}` }];
  }
}
