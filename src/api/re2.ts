import { RE2JS } from 're2js';

const explain: Array<[RegExp, string]> = [
  [/\(\?[=!]/, 'lookahead assertions ((?=...) and (?!...)) are not supported by RE2'],
  [/\(\?<[=!]/, 'lookbehind assertions ((?<=...) and (?<!...)) are not supported by RE2'],
  [/invalid escape sequence: `\\[1-9]/, 'backreferences (\\1 ...) are not supported by RE2'],
  [/invalid nested repetition operator: `(\+\+|\*\+|\?\+)/, 'possessive quantifiers (a++, a*+) are not supported by RE2'],
  [/\(\?>/, 'atomic groups ((?>...)) are not supported by RE2'],
  [/invalid repeat count/, 'repeat counts above 1000 are not supported by RE2'],
];

/**
 * Checks a regular expression with RE2's syntax and semantics (what Envoy and Istio use).
 * Returns undefined when RE2 accepts it, otherwise the reason it is rejected.
 */
export function checkRe2(pattern: string): string | undefined {
  if (typeof pattern !== 'string') return 'a regular expression must be a string';
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    for (const [re, why] of explain) {
      if (re.test(pattern) || re.test(raw)) return `${why} (${raw})`;
    }
    return raw;
  }
}
