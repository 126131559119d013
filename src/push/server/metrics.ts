/** Push metrics, rendered in Prometheus text format for the control plane's /metrics. */

const BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Counters and the convergence histogram of the push server. */
export class PushMetrics {
  connects = 0;
  pushes = 0;
  acks = 0;
  nacks = 0;
  bytes = 0;
  typePushes: Record<string, number> = {};
  drops: Record<string, number> = {};
  private counts = new Array<number>(BUCKETS.length).fill(0);
  private sum = 0;
  private n = 0;

  /** Records one proxy's convergence time (change seen -> ACK). */
  observeConvergence(ms: number): void {
    this.sum += ms;
    this.n++;
    for (let i = 0; i < BUCKETS.length; i++) if (ms <= BUCKETS[i]!) this.counts[i]!++;
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
    return l.join('\n') + '\n';
  }
}
