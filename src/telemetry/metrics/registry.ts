/**
 * A small Prometheus registry built for hot paths: a caller resolves a labelled child once
 * (`family.labels(...)`) and keeps it; recording is then a plain number update on a
 * preallocated object (no strings, no maps). Histogram buckets are found by index and stored
 * non-cumulatively; the text page is built only when scraped (`registry.expose()`).
 *
 * Used by the proxy (Istio's istio_* metrics) and the control plane (bowline_* metrics).
 */
import { TelemetryCodes, TelemetryError } from '../errors.js';
import { escapeHelp, formatValue, labelText, withLabel } from './exposition.js';

/** Metric name rule (Prometheus data model). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Label name rule; names starting with `__` are reserved. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Default cap on distinct label sets per family; extra label sets share one `overflow` child. */
export const DEFAULT_MAX_SERIES = 10_000;

/** A counter's labelled child: only ever goes up. */
export class CounterChild {
  /** Current value. */
  value = 0;
  constructor(/** Rendered `{...}` label text. */ readonly labelText: string) {}
  /** Adds `n` (default 1); negative amounts are ignored. */
  inc(n = 1): void {
    if (n > 0) this.value += n;
  }
}

/** A gauge's labelled child: set, increased or decreased. */
export class GaugeChild {
  /** Current value. */
  value = 0;
  constructor(/** Rendered `{...}` label text. */ readonly labelText: string) {}
  /** Sets the value. */
  set(v: number): void {
    this.value = v;
  }
  /** Adds `n` (default 1). */
  inc(n = 1): void {
    this.value += n;
  }
  /** Subtracts `n` (default 1). */
  dec(n = 1): void {
    this.value -= n;
  }
}

/** A histogram's labelled child: counts per bucket index (not cumulative), sum and count. */
export class HistogramChild {
  /** Per-bucket counts; the last slot is the +Inf overflow. */
  readonly counts: Float64Array;
  /** Sum of observed values. */
  sum = 0;
  /** Number of observations. */
  count = 0;
  constructor(
    /** Rendered `{...}` label text. */ readonly labelText: string,
    /** Upper bounds, ascending (shared with the family). */ readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  /** Records one value: a linear scan from the smallest bucket (most observations are small). */
  observe(v: number): void {
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    while (i < n && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

type Kind = 'counter' | 'gauge' | 'histogram';
type Child = CounterChild | GaugeChild | HistogramChild;

/** Options shared by every metric family. */
export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Cap on distinct label sets (default DEFAULT_MAX_SERIES). */
  maxSeries?: number;
}

/** A metric family: a name, its help and type, and one child per distinct label set. */
export class Family<C extends Child> {
  /** Children by joined label values (joined only when a child is first resolved). */
  private readonly children = new Map<string, C>();
  private overflow: C | undefined;
  private readonly maxSeries: number;

  constructor(
    readonly kind: Kind,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly make: (labelText: string) => C,
    maxSeries?: number,
  ) {
    this.maxSeries = maxSeries ?? DEFAULT_MAX_SERIES;
  }

  /** The child for these label values, created on first use. Resolve once, keep the result. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new TelemetryError(TelemetryCodes.LABEL_COUNT, `${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    }
    const key = values.join('\u0000');
    let c = this.children.get(key);
    if (c) return c;
    if (this.children.size >= this.maxSeries) {
      this.overflow ??= this.make(labelText(this.labelNames, this.labelNames.map(() => 'overflow')));
      return this.overflow;
    }
    c = this.make(labelText(this.labelNames, values));
    this.children.set(key, c);
    return c;
  }

  /** Calls `fn` with each label set's values and child (the overflow child included). Cold path only. */
  forEachSeries(fn: (values: readonly string[], child: C) => void): void {
    for (const [key, c] of this.children) fn(key.split('\u0000'), c);
    if (this.overflow) fn(this.labelNames.map(() => 'overflow'), this.overflow);
  }

  /** Number of distinct label sets (without the overflow child). */
  get size(): number {
    return this.children.size;
  }

  /** Appends this family's HELP, TYPE (unless `header` is false) and samples to `out`. */
  render(out: string[], header = true): void {
    if (this.children.size === 0 && !this.overflow) return;
    if (header) out.push(`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.kind}\n`);
    const all = [...this.children.values()];
    if (this.overflow) all.push(this.overflow);
    for (const c of all) {
      if (c instanceof HistogramChild) renderHistogram(this.name, c, out);
      else out.push(`${this.name}${c.labelText} ${formatValue(c.value)}\n`);
    }
  }
}

function renderHistogram(name: string, c: HistogramChild, out: string[]): void {
  let cum = 0;
  let s = '';
  for (let i = 0; i < c.bounds.length; i++) {
    cum += c.counts[i]!;
    s += `${name}_bucket${withLabel(c.labelText, 'le', formatValue(c.bounds[i]!))} ${cum}\n`;
  }
  cum += c.counts[c.bounds.length]!;
  s += `${name}_bucket${withLabel(c.labelText, 'le', '+Inf')} ${cum}\n`;
  s += `${name}_sum${c.labelText} ${formatValue(c.sum)}\n${name}_count${c.labelText} ${c.count}\n`;
  out.push(s);
}

/** A set of metric families that renders as one Prometheus text page. */
export class Registry {
  private readonly families = new Map<string, Family<Child>>();
  private readonly collectors: Array<() => void> = [];

  /** Registers (or returns the identical existing) counter family. */
  counter(o: MetricOptions): Family<CounterChild> {
    return this.family('counter', o, undefined, (t) => new CounterChild(t)) as Family<CounterChild>;
  }

  /** Registers (or returns the identical existing) gauge family. */
  gauge(o: MetricOptions): Family<GaugeChild> {
    return this.family('gauge', o, undefined, (t) => new GaugeChild(t)) as Family<GaugeChild>;
  }

  /** Registers (or returns the identical existing) histogram family with ascending finite `buckets`. */
  histogram(o: MetricOptions & { buckets: readonly number[] }): Family<HistogramChild> {
    const b = o.buckets;
    if (b.length === 0 || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]!))) {
      throw new TelemetryError(TelemetryCodes.BUCKETS, `${o.name}: buckets must be finite and strictly ascending`);
    }
    const bounds = Float64Array.from(b);
    return this.family('histogram', o, b.join(','), (t) => new HistogramChild(t, bounds)) as Family<HistogramChild>;
  }

  /** Runs `fn` before every exposition (e.g. to refresh gauges from live state). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  /** The family registered under `name`, if any. */
  get(name: string): Family<Child> | undefined {
    return this.families.get(name);
  }

  /** The whole page in Prometheus text format 0.0.4. */
  expose(): string {
    for (const fn of this.collectors) {
      try {
        fn();
      } catch {
        // A broken collector must not break the scrape.
      }
    }
    const out: string[] = [];
    for (const f of this.families.values()) {
      const r = this.renderers.get(f.name);
      if (r) r(out);
      else f.render(out);
    }
    return out.join('');
  }

  private readonly renderers = new Map<string, (out: string[]) => void>();

  /** Renders family `name` with `fn` instead of its own samples (Telemetry metric overrides); undefined restores it. */
  setRenderer(name: string, fn: ((out: string[]) => void) | undefined): void {
    if (fn) this.renderers.set(name, fn);
    else this.renderers.delete(name);
  }

  private readonly signatures = new Map<string, string>();

  private family(kind: Kind, o: MetricOptions, extra: string | undefined, make: (t: string) => Child): Family<Child> {
    if (!METRIC_NAME.test(o.name)) throw new TelemetryError(TelemetryCodes.METRIC_NAME, `invalid metric name ${JSON.stringify(o.name)}`);
    const labels = o.labelNames ?? [];
    for (const l of labels) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || (kind === 'histogram' && l === 'le')) {
        throw new TelemetryError(TelemetryCodes.LABEL_NAME, `${o.name}: invalid label name ${JSON.stringify(l)}`);
      }
    }
    const sig = `${kind}|${o.help}|${labels.join(',')}|${extra ?? ''}`;
    const existing = this.families.get(o.name);
    if (existing) {
      if (this.signatures.get(o.name) !== sig) {
        throw new TelemetryError(TelemetryCodes.METRIC_CONFLICT, `${o.name} is already registered with a different type, help, labels or buckets`);
      }
      return existing;
    }
    const f = new Family(kind, o.name, o.help, labels, make, o.maxSeries);
    this.families.set(o.name, f);
    this.signatures.set(o.name, sig);
    return f;
  }
}
