import { badRequest } from './status.js';

/** Deepest nesting a patch or body may have (Istio objects nest about 15 levels; this guards the recursion). */
export const MAX_DEPTH = 100;

/** Throws 400 when `v` nests deeper than MAX_DEPTH (checked without recursion, so any depth is safe). */
export function checkDepth(v: unknown, what = 'the body'): void {
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length) {
    const [cur, d] = stack.pop()!;
    if (cur === null || typeof cur !== 'object') continue;
    if (d > MAX_DEPTH) throw badRequest(`${what} nests deeper than ${MAX_DEPTH} levels`);
    for (const c of Object.values(cur as object)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
}

/** Applies a JSON merge patch (RFC 7386): objects merge recursively, null deletes, anything else replaces. Callers check depth first. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}

/**
 * Applies a strategic merge patch as Kubernetes does for the core kinds Bowline serves (ConfigMap,
 * Secret, Namespace: none has a list with a merge key), so it is a merge patch plus the directives
 * `$patch: replace|delete`, `$retainKeys` and `$setElementOrder/...` / `$deleteFromPrimitiveList/...`.
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const p = { ...(patch as Record<string, unknown>) };
  const directive = p.$patch;
  delete p.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return stripDirectives(p);
  if (directive !== undefined && directive !== 'merge') throw badRequest(`unknown strategic merge patch directive $patch: ${String(directive)}`);
  const base: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  const retain = p.$retainKeys;
  delete p.$retainKeys;
  for (const [k, v] of Object.entries(p)) {
    if (k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(base[field]) && Array.isArray(v)) base[field] = (base[field] as unknown[]).filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) delete base[k];
    else {
      const merged = strategicMergePatch(base[k], v);
      if (merged === undefined) delete base[k]; else base[k] = merged;
    }
  }
  if (Array.isArray(retain)) for (const k of Object.keys(base)) if (!retain.includes(k)) delete base[k];
  return base;
}

function stripDirectives(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('$')));
}
