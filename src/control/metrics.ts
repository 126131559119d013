/** A minimal Prometheus text registry for the control plane; plugins add their own text with `addCollector`. */
export class Metrics {
  private counters = new Map<string, { help: string; values: Map<string, number> }>();
  private histograms = new Map<string, { help: string; buckets: number[]; series: Map<string, { counts: number[]; sum: number; count: number }> }>();
  private collectors: Array<() => string> = [];

  /** Adds `by` to counter `name` with `labels`. */
  inc(name: string, help: string, labels: Record<string, string> = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const key = labelText(labels);
    c.values.set(key, (c.values.get(key) ?? 0) + by);
  }

  /** Records one observation (seconds) in histogram `name`. */
  observe(name: string, help: string, labels: Record<string, string>, value: number, buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]): void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = { help, buckets, series: new Map() }));
    const key = labelText(labels);
    let s = h.series.get(key);
    if (!s) h.series.set(key, (s = { counts: h.buckets.map(() => 0), sum: 0, count: 0 }));
    h.buckets.forEach((b, i) => { if (value <= b) s!.counts[i]!++; });
    s.sum += value;
    s.count++;
  }

  /** Adds a function whose Prometheus text is appended to every scrape. */
  addCollector(fn: () => string): void {
    this.collectors.push(fn);
  }

  /** The whole registry in Prometheus text format 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [l, v] of c.values) out.push(`${name}${l} ${v}`);
    }
    for (const [name, h] of this.histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const [l, s] of h.series) {
        const inner = l.slice(1, -1);
        h.buckets.forEach((b, i) => out.push(`${name}_bucket{${inner ? inner + ',' : ''}le="${b}"} ${s.counts[i]}`));
        out.push(`${name}_bucket{${inner ? inner + ',' : ''}le="+Inf"} ${s.count}`, `${name}_sum${l} ${s.sum}`, `${name}_count${l} ${s.count}`);
      }
    }
    let text = out.join('\n') + '\n';
    for (const fn of this.collectors) {
      try {
        const t = fn();
        if (t) text += t.endsWith('\n') ? t : t + '\n';
      } catch {}
    }
    return text;
  }
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
