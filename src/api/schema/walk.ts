import { formatPath, toCamel, type CheckContext, type Path, type Schema } from './dsl.js';
import { didYouMean } from './suggest.js';
import { parseDuration } from '../duration.js';

const yaml11Bools: Record<string, boolean> = { yes: true, no: false, on: true, off: false, y: true, n: false, True: true, False: false, TRUE: true, FALSE: false };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** True for a plain (non-list, non-null) object. */
export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIntLike(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v.trim())) return Number(v);
  return undefined;
}

/** Validates `value` against `schema`, reporting every violation to ctx. Never throws on any input. */
export function walk(value: unknown, schema: Schema, path: Path, ctx: CheckContext): void {
  if (value === null || value === undefined) return; // null is "unset" in Istio's JSON; required-ness is checked by the parent
  const typeError = (expected: string, hint?: string) =>
    ctx.add({ code: 'BOWLINE_E_API_TYPE', path, message: `expected ${expected}, got ${describe(value)}`, hint });
  switch (schema.t) {
    case 'any':
      return;
    case 'string': {
      if (typeof value !== 'string') {
        if (typeof value === 'number' || typeof value === 'boolean') return typeError('a string', `quote it: "${String(value)}"`);
        return typeError('a string');
      }
      const bad = schema.check?.(value);
      if (bad) ctx.add({ path, ...bad });
      return;
    }
    case 'int': {
      const n = isIntLike(value);
      if (n === undefined) return typeError('an integer');
      if ((schema.min !== undefined && n < schema.min) || (schema.max !== undefined && n > schema.max)) {
        ctx.add({ code: 'BOWLINE_E_API_RANGE', path, message: `${n} is out of range: expected ${rangeText(schema.min, schema.max)}` });
      }
      return;
    }
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : undefined;
      if (n === undefined || !Number.isFinite(n)) return typeError('a number');
      if ((schema.min !== undefined && n < schema.min) || (schema.max !== undefined && n > schema.max)) {
        ctx.add({ code: 'BOWLINE_E_API_RANGE', path, message: `${n} is out of range: expected ${rangeText(schema.min, schema.max)}` });
      }
      return;
    }
    case 'bool': {
      if (typeof value === 'boolean') return;
      if (typeof value === 'string' && value in yaml11Bools) {
        ctx.add({ severity: 'warning', code: 'BOWLINE_W_API_YAML11_BOOL', path, message: `"${value}" is read as ${yaml11Bools[value]} (YAML 1.1 boolean, as Kubernetes reads it)`, hint: 'write true or false' });
        return;
      }
      return typeError('true or false');
    }
    case 'duration': {
      if (typeof value !== 'string') return typeError('a duration such as "5s" or "100ms"', typeof value === 'number' ? `add a unit: "${value}s"` : undefined);
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.add({ code: 'BOWLINE_E_API_DURATION', path, message: `"${value}" is not a duration: expected a number with a unit (h, m, s, ms, us, ns), e.g. "7s", "0.5s", "100ms", "1m30s"` });
      } else if (schema.minMs !== undefined && ms < schema.minMs) {
        ctx.add({ code: 'BOWLINE_E_API_RANGE', path, message: `duration ${value} is too short: expected at least ${schema.minMs}ms` });
      }
      return;
    }
    case 'enum': {
      if (typeof value === 'string' && schema.values.includes(value)) return;
      const n = isIntLike(value);
      if (n !== undefined && typeof value === 'number' && n >= 0 && n < schema.values.length) return;
      const upper = typeof value === 'string' ? schema.values.find((v) => v === value.toUpperCase()) : undefined;
      const near = typeof value === 'string' ? upper ?? didYouMean(value, schema.values) : undefined;
      ctx.add({
        code: 'BOWLINE_E_API_ENUM',
        path,
        message: `${describe(value)} is not allowed: expected one of ${schema.values.join(', ')}`,
        hint: near ? `did you mean ${near}?` : undefined,
      });
      return;
    }
    case 'array': {
      if (!Array.isArray(value)) {
        return typeError('a list', isObj(value) || typeof value !== 'object' ? 'start each item with "- "' : undefined);
      }
      value.forEach((item, i) => {
        if (item === null && schema.of.t === 'object') {
          ctx.add({ code: 'BOWLINE_E_API_TYPE', path: [...path, i], message: `expected ${schema.of.name === 'HTTPMatchRequest' ? 'a match condition' : `a ${schema.of.name}`} object, got an empty item` });
          return;
        }
        walk(item, schema.of, [...path, i], ctx);
      });
      return;
    }
    case 'map': {
      if (!isObj(value)) return typeError(`a map${schema.keyDesc ? ` of ${schema.keyDesc}` : ''}`);
      for (const [k, v] of Object.entries(value)) {
        const bad = schema.key?.(k);
        if (bad) ctx.add({ code: 'BOWLINE_E_API_KEY', path: [...path, k], atKey: true, message: bad });
        walk(v, schema.of, [...path, k], ctx);
      }
      return;
    }
    case 'object':
      return walkObject(value, schema, path, ctx);
  }
}

function rangeText(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `${min} to ${max}`;
  if (min !== undefined) return `at least ${min}`;
  return `at most ${max}`;
}

function walkObject(value: unknown, schema: Extract<Schema, { t: 'object' }>, path: Path, ctx: CheckContext): void {
  if (!isObj(value)) {
    ctx.add({ code: 'BOWLINE_E_API_TYPE', path, message: `expected a ${schema.name} object, got ${describe(value)}`, hint: Array.isArray(value) ? 'remove the leading "- ": this field holds one object, not a list' : undefined });
    return;
  }
  const view: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const camel = toCamel(key);
    const field = Object.prototype.hasOwnProperty.call(schema.fields, camel) ? schema.fields[camel] : undefined;
    if (!field) {
      if (schema.open) continue;
      ctx.add(unknownField(key, schema, path, v, ctx.kind));
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(view, camel)) {
      ctx.add({ code: 'BOWLINE_E_API_DUPLICATE_FIELD', path: [...path, key], atKey: true, message: `field ${camel} is given twice (in camelCase and snake_case)`, hint: 'keep one spelling' });
      continue;
    }
    view[camel] = v;
    if (field.deprecated && v !== null && v !== undefined) {
      ctx.add({ severity: 'warning', code: 'BOWLINE_W_API_DEPRECATED', path: [...path, camel], atKey: true, message: `${camel} is deprecated`, hint: field.deprecated });
    }
    walk(v, field, [...path, camel], ctx);
  }
  for (const [name, field] of Object.entries(schema.fields)) {
    if (field.required && (view[name] === undefined || view[name] === null || view[name] === '')) {
      ctx.add({ code: 'BOWLINE_E_API_REQUIRED', path, message: `${schema.name} needs field ${name}${expectText(field)}` });
    }
  }
  for (const group of schema.oneOf ?? []) {
    const set = group.filter((g) => view[g] !== undefined && view[g] !== null);
    if (set.length > 1) {
      ctx.add({ code: 'BOWLINE_E_API_ONEOF', path: [...path, set[1]!], atKey: true, message: `only one of ${group.join(', ')} may be set in a ${schema.name}, got ${set.join(' and ')}` });
    }
  }
  if (schema.check) {
    try {
      schema.check(view, path, ctx);
    } catch (err) {
      ctx.add({ code: 'BOWLINE_E_API_INTERNAL', path, message: `internal validation error in ${schema.name}: ${(err as Error).message}` });
    }
  }
}

function expectText(s: Schema): string {
  switch (s.t) {
    case 'object': return ` (a ${s.name})`;
    case 'array': return ' (a list)';
    case 'enum': return ` (one of ${s.values.join(', ')})`;
    case 'duration': return ' (a duration such as "5s")';
    case 'string': return ' (a string)';
    case 'int': return ' (an integer)';
    default: return '';
  }
}

const hintHooks: Array<(key: string, schema: Extract<Schema, { t: 'object' }>, path: Path, value: unknown, kind: string) => string | undefined> = [];

/** Registers a hook that explains a likely intent for an unknown field (e.g. a misplaced match condition). */
export function addUnknownFieldHint(hook: (typeof hintHooks)[number]): void {
  hintHooks.push(hook);
}

function unknownField(key: string, schema: Extract<Schema, { t: 'object' }>, path: Path, value: unknown, kind: string) {
  let hint: string | undefined;
  for (const h of hintHooks) {
    hint = h(key, schema, path, value, kind);
    if (hint) break;
  }
  if (!hint) {
    const near = didYouMean(toCamel(key), Object.keys(schema.fields));
    if (near) hint = `did you mean ${near}?`;
  }
  const where = path.length ? `${formatPath(path)} (a ${schema.name})` : 'the top level of the document';
  return {
    code: 'BOWLINE_E_API_UNKNOWN_FIELD',
    path: [...path, key],
    atKey: true,
    message: `unknown field "${key}" in ${where}: expected one of ${Object.keys(schema.fields).join(', ')}`,
    hint,
  };
}
