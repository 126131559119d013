/** Push metrics, rendered in Prometheus text format for the control plane's /metrics. */

const BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** Seconds buckets of bowline_push_duration_seconds (generation is usually well under 1 ms). */
const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Counters and the convergence histogram of the push server. */
export class PushMetrics {
  connects = 0;
  pushes = 0;
  acks = 0;
  nacks = 0;
  bytes = 0;
  typePushes: Record<string, number> = {};
  drops: Record<string, number> = {};
  /** Per resource type: generation time histogram of the pushes sent (counts per bucket, sum, n). */
  private durations = new Map<string, { counts: number[]; sum: number; n: number }>();
  private counts = new Array<number>(BUCKETS.length).fill(0);
  private sum = 0;
  private n = 0;

  /** Records one proxy's convergence time (change seen -> ACK). */
  observeConvergence(ms: number): void {
    this.sum += ms;
    this.n++;
    for (let i = 0; i < BUCKETS.length; i++) if (ms <= BUCKETS[i]!) this.counts[i]!++;
  }

  /** Records the time (seconds) spent generating one resource type of one push to one proxy. */
  observePushDuration(type: string, seconds: number): void {
    let d = this.durations.get(type);
    if (!d) this.durations.set(type, (d = { counts: new Array<number>(SECONDS.length).fill(0), sum: 0, n: 0 }));
    d.sum += seconds;
    d.n++;
    for (let i = 0; i < SECONDS.length; i++) if (seconds <= SECONDS[i]!) d.counts[i]!++;
  }

  /** Prometheus exposition text; `connected` is the current number of streams. */
  render(connected: number): string {
    const l: string[] = [];
    l.push('# HELP bowline_push_proxies Proxies connected to the push stream.', '# TYPE bowline_push_proxies gauge', `bowline_push_proxies ${connected}`);
    l.push('# HELP bowline_push_connects_total Streams that completed their hello.', '# TYPE bowline_push_connects_total counter', `bowline_push_connects_total ${this.connects}`);
    l.push('# HELP bowline_push_pushes_total Pushes sent, by resource type.', '# TYPE bowline_push_pushes_total counter');
    for (const [t, v] of Object.entries(this.typePushes)) l.push(`bowline_push_pushes_total{type="${t}"} ${v}`);
    l.push('# HELP bowline_push_acks_total ACKs received.', '# TYPE bowline_push_acks_total counter', `bowline_push_acks_total ${this.acks}`);
    l.push('# HELP bowline_push_nacks_total NACKs received (proxy kept its last good config).', '# TYPE bowline_push_nacks_total counter', `bowline_push_nacks_total ${this.nacks}`);
    l.push('# HELP bowline_push_bytes_total Bytes of config written to streams.', '# TYPE bowline_push_bytes_total counter', `bowline_push_bytes_total ${this.bytes}`);
    l.push('# HELP bowline_push_disconnects_total Streams closed by the control plane, by error code.', '# TYPE bowline_push_disconnects_total counter');
    for (const [c, v] of Object.entries(this.drops)) l.push(`bowline_push_disconnects_total{code="${c}"} ${v}`);
    l.push('# HELP bowline_push_convergence_milliseconds Time from a config change to the proxy ACK.', '# TYPE bowline_push_convergence_milliseconds histogram');
    BUCKETS.forEach((b, i) => l.push(`bowline_push_convergence_milliseconds_bucket{le="${b}"} ${this.counts[i]}`));
    l.push(`bowline_push_convergence_milliseconds_bucket{le="+Inf"} ${this.n}`, `bowline_push_convergence_milliseconds_sum ${this.sum}`, `bowline_push_convergence_milliseconds_count ${this.n}`);
    l.push('# HELP bowline_push_duration_seconds Time to generate one resource type of a push for one proxy.', '# TYPE bowline_push_duration_seconds histogram');
    for (const [t, d] of this.durations) {
      SECONDS.forEach((b, i) => l.push(`bowline_push_duration_seconds_bucket{type="${t}",le="${b}"} ${d.counts[i]}`));
      l.push(`bowline_push_duration_seconds_bucket{type="${t}",le="+Inf"} ${d.n}`, `bowline_push_duration_seconds_sum{type="${t}"} ${d.sum}`, `bowline_push_duration_seconds_count{type="${t}"} ${d.n}`);
    }
    return l.join('\n') + '\n';
  }
}
