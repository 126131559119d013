/**
 * A small declarative schema language for Istio's messages: each kind's spec is described once
 * (fields, types, required fields, one-of groups, semantic checks) and the walker in walk.ts
 * validates, locates and normalises against it.
 */

/** A field path: keys and list indexes, e.g. ['spec', 'http', 1, 'route']. */
export type Path = Array<string | number>;

/** What a semantic check can report. */
export interface Finding {
  severity?: 'error' | 'warning';
  code: string;
  path: Path;
  message: string;
  hint?: string;
  /** Point at the key rather than the value (unknown or misplaced fields). */
  atKey?: boolean;
}

/** Context handed to semantic checks. */
export interface CheckContext {
  /** The document's kind, e.g. VirtualService. */
  kind: string;
  add(f: Finding): void;
}

/** A semantic check on an object whose keys are already camelCase (values as the user wrote them). */
export type Check = (obj: Record<string, unknown>, path: Path, ctx: CheckContext) => void;

interface Common {
  required?: boolean;
  /** Why the field is deprecated and what to use instead (a warning). */
  deprecated?: string;
}

/** One node of a schema. */
export type Schema = Common &
  (
    | { t: 'string'; check?: (v: string) => { code: string; message: string; hint?: string } | undefined }
    | { t: 'int'; min?: number; max?: number }
    | { t: 'number'; min?: number; max?: number }
    | { t: 'bool' }
    | { t: 'duration'; minMs?: number }
    | { t: 'enum'; values: string[] }
    | { t: 'object'; name: string; fields: Record<string, Schema>; oneOf?: string[][]; check?: Check; open?: boolean }
    | { t: 'array'; of: Schema }
    | { t: 'map'; of: Schema; key?: (k: string) => string | undefined; keyDesc?: string }
    | { t: 'any' }
  );

/** Object schema type. */
export type ObjectSchema = Extract<Schema, { t: 'object' }>;

/** A string field, optionally with a format check. */
export const str = (check?: Extract<Schema, { t: 'string' }>['check']): Schema => ({ t: 'string', check });
/** An integer field within [min, max]. */
export const int = (min?: number, max?: number): Schema => ({ t: 'int', min, max });
/** A floating point field within [min, max]. */
export const num = (min?: number, max?: number): Schema => ({ t: 'number', min, max });
/** A boolean (or google.protobuf.BoolValue) field. */
export const bool = (): Schema => ({ t: 'bool' });
/** A duration string ("7s", "100ms", "1h"). */
export const dur = (minMs?: number): Schema => ({ t: 'duration', minMs });
/** An enum given by its names in proto order (integers index into it). */
export const en = (...values: string[]): Schema => ({ t: 'enum', values });
/** A list of one schema. */
export const arr = (of: Schema): Schema => ({ t: 'array', of });
/** A map from string keys to one schema. */
export const map = (of: Schema, key?: (k: string) => string | undefined, keyDesc?: string): Schema => ({ t: 'map', of, key, keyDesc });
/** Anything (free-form JSON). */
export const any = (): Schema => ({ t: 'any' });
/** A message with named fields. */
export const obj = (name: string, fields: Record<string, Schema>, extra: { oneOf?: string[][]; check?: Check; open?: boolean } = {}): ObjectSchema => ({
  t: 'object',
  name,
  fields,
  ...extra,
});
/** Marks a schema required. */
export const req = (s: Schema): Schema => ({ ...s, required: true });
/** Marks a schema deprecated with the replacement advice. */
export const dep = (s: Schema, why: string): Schema => ({ ...s, deprecated: why });

/** snake_case (proto spelling) -> camelCase (JSON spelling): `mirror_percent` -> `mirrorPercent`. */
export function toCamel(k: string): string {
  return k.includes('_') ? k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : k;
}

/** Formats a path as `spec.http[1].route[0].destination.host`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
