import type { ServedKind } from './kinds.js';
import { jsonPatch } from './json-patch.js';
import { checkDepth, mergePatch, strategicMergePatch } from './merge-patch.js';
import { ApiError, badRequest } from './status.js';

/** The PATCH media types, as Kubernetes names them. */
export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** The PATCH media types a kind accepts: strategic merge only for the core kinds (as Kubernetes refuses it for custom resources). */
export function patchTypesOf(kind: ServedKind): string[] {
  return kind.custom ? [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply] : [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic, PATCH_TYPES.apply];
}

/** The media type of a Content-Type header, lower-case, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw badRequest('the patch body is empty');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw badRequest(`the patch is not valid JSON: ${(err as Error).message}`);
  }
  checkDepth(v, 'the patch');
  return v;
}

/** Applies a json, merge or strategic-merge PATCH body to `current` (as the API shows it); returns the new object. */
export function applyPatch(kind: ServedKind, current: Record<string, unknown>, text: string, contentType: string | undefined): Record<string, unknown> {
  const type = mediaType(contentType);
  if (!patchTypesOf(kind).includes(type) || type === PATCH_TYPES.apply) { // apply patches go to apply.ts
    throw new ApiError(415, 'UnsupportedMediaType', `${type || 'no content type'} is not supported by ${kind.group ? kind.group + '/' : ''}${kind.versions[0]}, Kind=${kind.kind}: the body of the request was in an unknown format - accepted media types include: ${patchTypesOf(kind).join(', ')}`);
  }
  const patch = parseJson(text);
  let out: unknown;
  if (type === PATCH_TYPES.json) out = jsonPatch(current, patch);
  else {
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw badRequest('a merge patch must be a JSON object');
    out = type === PATCH_TYPES.merge ? mergePatch(current, patch) : strategicMergePatch(current, patch);
  }
  if (!out || typeof out !== 'object' || Array.isArray(out)) throw badRequest('the patched result is not an object');
  return out as Record<string, unknown>;
}
