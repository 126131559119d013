import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { parseAndValidate, parseMeshConfig, validateObject, type Violation } from '../api/index.js';
import { checkNamespace, checkSecret } from './core-kinds.js';
import type { ServedKind } from './kinds.js';
import { checkDepth } from './merge-patch.js';
import { ApiError, badRequest, type StatusCause } from './status.js';

/** Largest request body accepted (Kubernetes' own limit is about 3 MB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Reads a request body as bytes, refusing more than MAX_BODY_BYTES with 413. */
export async function readBodyBytes(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'RequestEntityTooLarge', `request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads a request body as text, refusing more than MAX_BODY_BYTES with 413. */
export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBodyBytes(req)).toString('utf8');
}

/** True when the Content-Type says YAML. */
export function isYaml(contentType: string | undefined): boolean {
  return /^(application|text)\/(x-)?yaml\b/i.test(contentType ?? '');
}

/** A decoded body with the violations found while reading it (YAML input: with lines). */
export interface Decoded {
  obj: Record<string, unknown>;
  violations: Violation[];
}

function causeOf(v: Violation): StatusCause {
  const where = v.line !== undefined ? `line ${v.line}, column ${v.column ?? 1}: ` : '';
  return {
    reason: v.code,
    message: `${where}${v.message}${v.hint ? ` (${v.hint})` : ''}`,
    field: v.path,
    ...(v.line !== undefined ? { line: v.line } : {}),
    ...(v.column !== undefined ? { column: v.column } : {}),
  };
}

/** Parses a JSON or YAML body into one object, validating it with src/api (YAML keeps line numbers). */
export function decodeBody(text: string, contentType: string | undefined): Decoded {
  if (text.trim() === '') throw badRequest('the request body is empty: send one resource as JSON or YAML');
  if (isYaml(contentType)) {
    const { documents, violations } = parseAndValidate(text, { analyze: false });
    const nonEmpty = documents.filter((d) => d.kind !== undefined || d.violations.length > 0 || d.resource);
    if (nonEmpty.length > 1) throw badRequest(`the body holds ${nonEmpty.length} documents: send one resource per request`);
    const yamlErrors = violations.filter((v) => v.severity === 'error' && /YAML|ALIAS|BINARY|TOO_LARGE|NOT_OBJECT/.test(v.code));
    if (yamlErrors.length > 0) throw badRequest(`the YAML body could not be read: ${causeOf(yamlErrors[0]!).message}`, yamlErrors.map(causeOf));
    let obj: unknown;
    try {
      obj = parseYaml(text, { maxAliasCount: 1000 });
    } catch (err) {
      throw badRequest(`the YAML body could not be read: ${(err as Error).message}`);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw badRequest('the body must be one object (a map with apiVersion, kind, metadata)');
    return { obj: obj as Record<string, unknown>, violations };
  }
  if (contentType && !/^application\/(json|merge-patch\+json)\b/i.test(contentType) && !/^\*\/\*/.test(contentType)) {
    throw new ApiError(415, 'UnsupportedMediaType', `content type "${contentType}" is not supported: send application/json or application/yaml`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body is not valid JSON: ${(err as Error).message}`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw badRequest('the body must be one JSON object (with apiVersion, kind, metadata)');
  checkDepth(obj);
  return { obj: obj as Record<string, unknown>, violations: [] };
}

/** Kubernetes' `fieldValidation` query parameter; undefined keeps Bowline's default (unknown fields are violations). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore' | undefined;

/** Reads `fieldValidation` from the query; other values are 400. */
export function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation');
  if (v === null || v === '') return undefined;
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation "${v}" is not one of Ignore, Warn, Strict`);
}

const FIELD_CODES = new Set(['BOWLINE_E_API_UNKNOWN_FIELD', 'BOWLINE_E_API_DUPLICATE_KEY']);

/** Splits a formatted path (`spec.http[0].foo`, `a["b c"]`) back into keys and indexes. */
function pathTokens(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (let m = re.exec(path); m; m = re.exec(path)) out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : JSON.parse(m[3]!) as string));
  return out;
}

function dropField(obj: Record<string, unknown>, path: string): void {
  const t = pathTokens(path);
  let cur: unknown = obj;
  for (const k of t.slice(0, -1)) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[k] : undefined;
  if (cur && typeof cur === 'object' && !Array.isArray(cur)) delete (cur as Record<string, unknown>)[t[t.length - 1] as string];
}

/** Kubernetes' text for an unknown or duplicate field. */
function strictText(v: Violation): string {
  return v.code === 'BOWLINE_E_API_DUPLICATE_KEY' ? `duplicate field ${v.message.replace(/^YAML: /, '')}` : `unknown field "${v.path}"`;
}

/**
 * Validates a decoded object as `kind`; throws 422 Invalid with every violation as a cause. Returns warnings.
 * With `fieldValidation`, unknown and duplicate fields follow Kubernetes: Strict refuses them (400,
 * "strict decoding error"), Warn drops them with a warning, Ignore drops them.
 */
export function admit(kind: ServedKind, obj: Record<string, unknown>, fromYaml: Violation[] | undefined, fieldValidation?: FieldValidation, version = kind.versions[0]): Violation[] {
  let violations: Violation[];
  if (kind.kind === 'ConfigMap') {
    const isMesh = (obj.metadata as { name?: unknown } | undefined)?.name === 'istio';
    violations = isMesh && fromYaml ? fromYaml.filter((v) => v.code !== 'BOWLINE_E_API_UNKNOWN_KIND') : checkConfigMap(obj);
  } else if (kind.kind === 'Secret') {
    violations = checkSecret(obj);
  } else if (kind.kind === 'Namespace') {
    violations = checkNamespace(obj);
  } else {
    violations = fromYaml ?? validateObject(obj);
  }
  const fieldErrors = fieldValidation ? violations.filter((v) => v.severity === 'error' && FIELD_CODES.has(v.code)) : [];
  if (fieldErrors.length > 0) {
    if (fieldValidation === 'Strict') {
      const name = (obj.metadata as { name?: string } | undefined)?.name;
      throw new ApiError(400, 'BadRequest', `${kind.kind} in version "${version}" cannot be handled as a ${kind.kind}: strict decoding error: ${fieldErrors.map(strictText).join(', ')}`, {
        ...(name ? { name } : {}), group: kind.group, kind: kind.kind, causes: fieldErrors.map(causeOf),
      });
    }
    for (const v of fieldErrors) if (v.code === 'BOWLINE_E_API_UNKNOWN_FIELD') dropField(obj, v.path);
    violations = violations.filter((v) => !fieldErrors.includes(v));
    if (fieldValidation === 'Warn') violations.push(...fieldErrors.map((v) => ({ ...v, severity: 'warning' as const, code: '', message: strictText(v), path: '' })));
  }
  const errors = violations.filter((v) => v.severity === 'error');
  if (errors.length > 0) {
    const name = (obj.metadata as { name?: string } | undefined)?.name;
    const summary = errors.map((v) => `${v.path ? v.path + ': ' : ''}${v.message}`).join('; ');
    throw new ApiError(422, 'Invalid', `${kind.kind}${name ? ` "${name}"` : ''} is invalid: ${summary}`, {
      ...(name ? { name } : {}), group: kind.group, kind: kind.kind, causes: errors.map(causeOf),
    });
  }
  return violations.filter((v) => v.severity !== 'error');
}

function checkConfigMap(obj: Record<string, unknown>): Violation[] {
  const out: Violation[] = [];
  const data = obj.data;
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data) || Object.values(data).some((v) => typeof v !== 'string'))) {
    out.push({ severity: 'error', code: 'BOWLINE_E_API_TYPE', path: 'data', message: 'data must be a map of strings' });
    return out;
  }
  const meta = obj.metadata as { name?: unknown } | undefined;
  const mesh = (data as Record<string, string> | undefined)?.mesh;
  if (meta?.name === 'istio' && typeof mesh === 'string') {
    for (const v of parseMeshConfig(mesh).violations) out.push({ ...v, path: `data.mesh${v.path ? ': ' + v.path : ''}` });
  }
  return out;
}

/** Warnings as HTTP `Warning` headers (Kubernetes sends admission warnings the same way). */
export function warningHeaders(warnings: Violation[]): Record<string, string> {
  if (warnings.length === 0) return {};
  const text = warnings.slice(0, 20).map((w) => `299 - "${[w.code, `${w.path ? w.path + ': ' : ''}${w.message}`].filter(Boolean).join(' ').replace(/[\r\n]/g, ' ').replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`);
  return { warning: text.join(', ') };
}
