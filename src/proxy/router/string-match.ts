/**
 * Istio StringMatch compiled to a closure: exact, prefix, or regex with RE2 semantics
 * (linear time, full-string match) through re2js. Regexes compile once, here, never per request.
 */
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import type { StringMatch } from '../../proxy-config/types.js';

/** A compiled string condition. */
export type StringMatcher = (s: string) => boolean;

/** Compiles an RE2 pattern (throws RE2JS syntax errors; validation reports them earlier). */
export function compileRegex(pattern: string, ignoreCase = false): RE2JS {
  const re2 = re2js();
  return re2.compile(pattern, ignoreCase ? re2.CASE_INSENSITIVE : 0);
}

// re2js loads with the first regex: a route table without regexes never pays its memory.
const load = createRequire(import.meta.url);
let engine: typeof RE2JS | undefined;
function re2js(): typeof RE2JS {
  return (engine ??= (load('re2js') as typeof import('re2js')).RE2JS);
}

/** Compiles one StringMatch. With `ignoreCase`, exact and prefix compare lowercased and regexes are case-insensitive. */
export function compileStringMatch(m: StringMatch, ignoreCase = false): StringMatcher {
  if ('exact' in m) {
    if (!ignoreCase) { const v = m.exact; return (s) => s === v; }
    const v = m.exact.toLowerCase();
    return (s) => s.length === v.length && s.toLowerCase() === v;
  }
  if ('prefix' in m) {
    if (!ignoreCase) { const v = m.prefix; return (s) => s.startsWith(v); }
    const v = m.prefix.toLowerCase();
    return (s) => s.length >= v.length && s.slice(0, v.length).toLowerCase() === v;
  }
  const re = compileRegex(m.regex, ignoreCase);
  const lit = ignoreCase ? '' : literalPrefix(m.regex);
  if (lit) return (s) => s.startsWith(lit) && re.matches(s);
  return (s) => re.matches(s);
}

const META = new Set(['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$']);

/**
 * The literal text every full match of `pattern` must start with ('' when unsure), so most
 * non-matching inputs are rejected by a startsWith before the regex engine runs. Conservative:
 * any alternation gives '', and a literal followed by a quantifier loses its last character.
 */
export function literalPrefix(pattern: string): string {
  if (pattern.includes('|')) return '';
  let i = 0;
  while (i < pattern.length && !META.has(pattern[i]!)) i++;
  let lit = pattern.slice(0, i);
  const next = pattern[i];
  if (next === '*' || next === '?' || next === '{' || next === '+') lit = lit.slice(0, -1);
  return lit;
}
