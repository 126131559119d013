const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const whole = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * Parses a duration as Istio accepts it (Go's syntax: '7s', '0.5s', '100ms', '1h', '1m30s'; '0' alone)
 * into milliseconds; undefined when the text is not a valid, non-negative duration.
 */
export function parseDuration(s: string): number | undefined {
  if (typeof s !== 'string') return undefined;
  const t = s.trim().replace(/^\+/, '');
  if (t === '0') return 0;
  if (t.length === 0 || t.length > 64 || !whole.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(part)) ms += Number(m[1]) * unitMs[m[2]!]!;
  return Number.isFinite(ms) ? ms : undefined;
}
