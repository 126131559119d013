import { toCamel, type Schema } from './schema/dsl.js';
import { resourceSchema } from './schema/resource.js';
import { isObj } from './schema/walk.js';
import { isKind } from './kinds.js';
import type { Resource } from './types/meta.js';

const yaml11: Record<string, boolean> = { yes: true, no: false, on: true, off: false, y: true, n: false, True: true, False: false, TRUE: true, FALSE: false };

function norm(v: unknown, s: Schema): unknown {
  if (v === null || v === undefined) return v;
  switch (s.t) {
    case 'int':
    case 'number':
      return typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
    case 'bool':
      return typeof v === 'string' && v in yaml11 ? yaml11[v] : v;
    case 'enum':
      return typeof v === 'number' && s.values[v] !== undefined ? s.values[v] : v;
    case 'array':
      return Array.isArray(v) ? v.filter((x) => x !== null).map((x) => norm(x, s.of)) : v;
    case 'map':
      return isObj(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x, s.of)])) : v;
    case 'object': {
      if (!isObj(v)) return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const camel = toCamel(k);
        const f = s.fields[camel];
        if (x === null) continue;
        out[f ? camel : k] = f ? norm(x, f) : x;
      }
      return legacy(s.name, out);
    }
    default:
      return v;
  }
}

/** Rewrites legacy spellings into the current field of the same meaning. */
function legacy(name: string, o: Record<string, unknown>): Record<string, unknown> {
  if ((name === 'Delay' || name === 'Abort') && typeof o.percent === 'number') {
    if (o.percentage === undefined) o.percentage = { value: o.percent };
    delete o.percent;
  }
  if (name === 'HTTPRoute' && typeof o.mirrorPercent === 'number') {
    if (o.mirrorPercentage === undefined) o.mirrorPercentage = { value: o.mirrorPercent };
    delete o.mirrorPercent;
  }
  if (name === 'CorsPolicy' && Array.isArray(o.allowOrigin)) {
    if (o.allowOrigins === undefined) o.allowOrigins = o.allowOrigin.map((x) => ({ exact: x }));
    delete o.allowOrigin;
  }
  if (name === 'ConsistentHashLB' && typeof o.minimumRingSize === 'number') {
    if (o.ringHash === undefined && o.maglev === undefined) o.ringHash = { minimumRingSize: o.minimumRingSize };
    delete o.minimumRingSize;
  }
  if (name === 'OutlierDetection' && typeof o.consecutiveErrors === 'number') {
    if (o.consecutiveGatewayErrors === undefined && o.consecutive5xxErrors === undefined) o.consecutiveGatewayErrors = o.consecutiveErrors;
    delete o.consecutiveErrors;
  }
  return o;
}

/**
 * Normalises a valid resource: snake_case -> camelCase, legacy spellings (fault percent -> percentage.value,
 * mirror_percent -> mirrorPercentage, allowOrigin -> allowOrigins, ...), quoted numbers -> numbers, enum
 * numbers -> names, nulls dropped; so consumers read one shape: Istio's current camelCase JSON.
 * Durations stay strings (use parseDuration). Returns a new object; the input is not changed.
 */
export function normalize<S>(r: Resource<unknown>): Resource<S> {
  if (!isObj(r) || !isKind((r as { kind?: unknown }).kind)) return r as Resource<S>;
  return norm(structuredClone(r), resourceSchema(r.kind)) as Resource<S>;
}
