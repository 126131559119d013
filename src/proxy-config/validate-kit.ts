/**
 * The small toolkit proxy-config validation is written with: an error collector that knows
 * the field path, and checks for the shapes the schema uses. Validation never throws and
 * collects every violation (it does not stop at the first).
 */
import { createRequire } from 'node:module';

// re2js loads with the first regex to check, so a proxy whose config has none never loads it.
const load = createRequire(import.meta.url);

/** One violation: where (a field path such as `routes[0].virtualHosts[1].domains[0]`) and what. */
export interface ValidationError {
  path: string;
  message: string;
}

/** Collects errors and warnings while walking a config. */
export class Checker {
  readonly errors: ValidationError[] = [];
  readonly warnings: ValidationError[] = [];

  /** Records an error at `path`. */
  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  /** Records a warning at `path` (accepted, but probably not what was meant). */
  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }

  /** An object (not an array, not null), or records an error and returns undefined. */
  obj(v: unknown, path: string, required = true): Record<string, unknown> | undefined {
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.error(path, v === undefined ? 'is required' : 'must be an object');
      return undefined;
    }
    return v as Record<string, unknown>;
  }

  /** An array, or records an error and returns an empty list. */
  arr(v: unknown, path: string, required = true): unknown[] {
    if (v === undefined && !required) return [];
    if (!Array.isArray(v)) {
      this.error(path, v === undefined ? 'is required' : 'must be a list');
      return [];
    }
    return v;
  }

  /** A string (non-empty unless allowed), else an error. */
  str(v: unknown, path: string, opts: { required?: boolean; empty?: boolean } = {}): v is string {
    if (v === undefined) {
      if (opts.required ?? true) this.error(path, 'is required');
      return false;
    }
    if (typeof v !== 'string') { this.error(path, 'must be a string'); return false; }
    if (!v && !opts.empty) { this.error(path, 'must not be empty'); return false; }
    return true;
  }

  /** A finite number within bounds (integer when asked), else an error. */
  num(v: unknown, path: string, opts: { required?: boolean; min?: number; max?: number; int?: boolean } = {}): v is number {
    if (v === undefined) {
      if (opts.required ?? false) this.error(path, 'is required');
      return false;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) { this.error(path, 'must be a number'); return false; }
    if (opts.int && !Number.isInteger(v)) { this.error(path, 'must be an integer'); return false; }
    if (opts.min !== undefined && v < opts.min) { this.error(path, `must be >= ${opts.min}`); return false; }
    if (opts.max !== undefined && v > opts.max) { this.error(path, `must be <= ${opts.max}`); return false; }
    return true;
  }

  /** A boolean when present. */
  bool(v: unknown, path: string, required = false): void {
    if (v === undefined) { if (required) this.error(path, 'is required'); return; }
    if (typeof v !== 'boolean') this.error(path, 'must be true or false');
  }

  /** One of the listed strings. */
  oneOf(v: unknown, path: string, allowed: readonly string[], required = true): void {
    if (v === undefined) { if (required) this.error(path, `is required (one of ${allowed.join(', ')})`); return; }
    if (typeof v !== 'string' || !allowed.includes(v)) this.error(path, `must be one of ${allowed.join(', ')}`);
  }

  /** A map of string to string (labels). */
  labels(v: unknown, path: string, required = false): void {
    const o = this.obj(v, path, required);
    if (!o) return;
    for (const [k, val] of Object.entries(o)) if (typeof val !== 'string') this.error(`${path}.${k}`, 'must be a string');
  }

  /** A list of strings. */
  strings(v: unknown, path: string, required = false): string[] {
    const out: string[] = [];
    this.arr(v, path, required).forEach((s, i) => { if (this.str(s, `${path}[${i}]`, { empty: true })) out.push(s); });
    return out;
  }

  /** An RE2 regex that compiles. */
  regex(v: unknown, path: string): void {
    if (!this.str(v, path, { empty: true })) return;
    try {
      (load('re2js') as typeof import('re2js')).RE2JS.compile(v);
    } catch (err) {
      this.error(path, `is not a valid RE2 regex: ${(err as Error).message}`);
    }
  }

  /** Istio StringMatch: exactly one of exact / prefix / regex. With `present`, also `{present: bool}`. */
  stringMatch(v: unknown, path: string, allowPresent = false): void {
    const o = this.obj(v, path);
    if (!o) return;
    const keys = Object.keys(o);
    const allowed = allowPresent ? ['exact', 'prefix', 'regex', 'present'] : ['exact', 'prefix', 'regex'];
    if (keys.length !== 1 || !allowed.includes(keys[0]!)) {
      this.error(path, `must have exactly one of ${allowed.join(', ')}`);
      return;
    }
    const k = keys[0]!;
    if (k === 'regex') this.regex(o.regex, `${path}.regex`);
    else if (k === 'present') this.bool(o.present, `${path}.present`, true);
    else this.str(o[k], `${path}.${k}`, { empty: true });
  }

  /** Reports duplicates of `name` among items seen so far under `what`. */
  unique(seen: Set<string>, name: unknown, path: string, what: string): void {
    if (typeof name !== 'string') return;
    if (seen.has(name)) this.error(path, `duplicate ${what} name "${name}"`);
    seen.add(name);
  }
}
