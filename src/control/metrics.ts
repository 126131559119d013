/**
 * The control plane's /metrics page. Every metric is a family on a telemetry Registry (the one
 * Prometheus text renderer of the project, src/telemetry/metrics); the parts that keep their own
 * registry (push, CA) are attached with `addRegistry` by control-plane.ts, and a scrape renders them one after another.
 */
import { FAST_SECONDS_BUCKETS } from '../telemetry/control.js';
import { type CounterChild, type Family, type HistogramChild, Registry } from '../telemetry/metrics/registry.js';

/** The control plane's metrics: its own registry plus the registries of its parts (push, CA). */
export class Metrics {
  /** The control plane's own families (API requests, config writes, store calls). */
  readonly registry = new Registry();
  private readonly attached: Registry[] = [];
  private readonly counters = new Map<string, Family<CounterChild>>();
  private readonly histograms = new Map<string, Family<HistogramChild>>();

  /** Adds `by` to counter `name` with `labels` (label names are fixed by the first call). */
  inc(name: string, help: string, labels: Record<string, string> = {}, by = 1): void {
    let f = this.counters.get(name);
    if (!f) this.counters.set(name, (f = this.registry.counter({ name, help, labelNames: Object.keys(labels) })));
    f.labels(...f.labelNames.map((l) => labels[l] ?? '')).inc(by);
  }

  /** Records one observation (seconds) in histogram `name`. */
  observe(name: string, help: string, labels: Record<string, string>, value: number, buckets: readonly number[] = FAST_SECONDS_BUCKETS): void {
    let f = this.histograms.get(name);
    if (!f) this.histograms.set(name, (f = this.registry.histogram({ name, help, labelNames: Object.keys(labels), buckets })));
    f.labels(...f.labelNames.map((l) => labels[l] ?? '')).observe(value);
  }

  /** Appends another registry's families to every scrape (a part's metrics). */
  addRegistry(r: Registry): void {
    if (r !== this.registry && !this.attached.includes(r)) this.attached.push(r);
  }

  /** The whole page in Prometheus text format 0.0.4. */
  render(): string {
    let text = this.registry.expose();
    for (const r of this.attached) text += r.expose();
    return text;
  }
}
