/**
 * Prometheus text exposition format 0.0.4: escaping and number rendering. Used only when a
 * scrape builds the page, never on the request path.
 */

/** The Content-Type of the text exposition format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(v: string): string {
  if (!/[\\\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Renders a sample value: integers plainly, `+Inf`, `-Inf`, `NaN`. */
export function formatValue(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/** Renders `{a="x",b="y"}` for label names and values (empty string for no labels). */
export function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  let s = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += ',';
    s += `${names[i]}="${escapeLabelValue(values[i]!)}"`;
  }
  return s + '}';
}

/** `{...}` text with one more label appended (for a histogram's `le`). */
export function withLabel(text: string, name: string, value: string): string {
  const pair = `${name}="${escapeLabelValue(value)}"`;
  return text === '' ? `{${pair}}` : `${text.slice(0, -1)},${pair}}`;
}
