/** Push metrics: plain counters the server bumps, exposed as families on a telemetry Registry (the project's one renderer). */
import { CONVERGENCE_MS_BUCKETS, PUSH_SECONDS_BUCKETS } from '../../telemetry/control.js';
import { type HistogramChild, Registry } from '../../telemetry/metrics/registry.js';

/** Counters and histograms of the push server; `registry` renders them (attach it to the control plane's /metrics). */
export class PushMetrics {
  connects = 0;
  pushes = 0;
  acks = 0;
  nacks = 0;
  bytes = 0;
  typePushes: Record<string, number> = {};
  drops: Record<string, number> = {};
  /** Stats reports received from proxies (the dashboard's request counts). */
  statsReports = 0;
  /** The families, refreshed from the fields above on every scrape. */
  readonly registry = new Registry();
  private readonly convergence: HistogramChild;
  private readonly durations;

  /** `connected` gives the current number of streams when scraped. */
  constructor(connected: () => number = () => 0) {
    const r = this.registry;
    const proxies = r.gauge({ name: 'bowline_push_proxies', help: 'Proxies connected to the push stream.' }).labels();
    const connects = r.counter({ name: 'bowline_push_connects_total', help: 'Streams that completed their hello.' }).labels();
    const pushes = r.counter({ name: 'bowline_push_pushes_total', help: 'Pushes sent, by resource type.', labelNames: ['type'] });
    const acks = r.counter({ name: 'bowline_push_acks_total', help: 'ACKs received.' }).labels();
    const nacks = r.counter({ name: 'bowline_push_nacks_total', help: 'NACKs received (proxy kept its last good config).' }).labels();
    const bytes = r.counter({ name: 'bowline_push_bytes_total', help: 'Bytes of config written to streams.' }).labels();
    const drops = r.counter({ name: 'bowline_push_disconnects_total', help: 'Streams closed by the control plane, by error code.', labelNames: ['code'] });
    const stats = r.counter({ name: 'bowline_push_stats_reports_total', help: 'Request statistics reports received from proxies.' }).labels();
    this.convergence = r.histogram({ name: 'bowline_push_convergence_milliseconds', help: 'Time from a config change to the proxy ACK.', buckets: CONVERGENCE_MS_BUCKETS }).labels();
    this.durations = r.histogram({ name: 'bowline_push_duration_seconds', help: 'Time to generate one resource type of a push for one proxy.', labelNames: ['type'], buckets: PUSH_SECONDS_BUCKETS });
    r.onCollect(() => {
      proxies.set(connected());
      connects.value = this.connects;
      acks.value = this.acks;
      nacks.value = this.nacks;
      bytes.value = this.bytes;
      stats.value = this.statsReports;
      for (const [t, v] of Object.entries(this.typePushes)) pushes.labels(t).value = v;
      for (const [c, v] of Object.entries(this.drops)) drops.labels(c).value = v;
    });
  }

  /** Records one proxy's convergence time (change seen -> ACK). */
  observeConvergence(ms: number): void {
    this.convergence.observe(ms);
  }

  /** Records the time (seconds) spent generating one resource type of one push to one proxy. */
  observePushDuration(type: string, seconds: number): void {
    this.durations.labels(type).observe(seconds);
  }

  /** Prometheus exposition text of these metrics alone. */
  render(): string {
    return this.registry.expose();
  }
}
