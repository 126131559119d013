/**
 * Istio's Telemetry `metrics` overrides on the istio_* metrics a proxy exposes (mesh.metrics):
 * a metric disabled per reporter side (CLIENT: reporter=source, SERVER: reporter=destination),
 * labels removed, or set from a CEL expression (an existing label replaced in place, a new one
 * appended). The default families keep recording with Istio's labels (the push stream's stats
 * report reads them); an overridden metric is exposed from families of its own, shaped by the
 * overrides, rendered in place of the default one. Only overridden metrics cost anything: the
 * request's label values are copied and the expressions evaluated once per request.
 */
import type { MetricOverride, MetricsSettings } from '../../proxy-config/index.js';
import { compileExpression, type Expression, labelValue } from '../expression.js';
import type { RequestRecord, TcpRecord } from '../record.js';
import { BYTE_BUCKETS, DURATION_BUCKETS_MS, HTTP_LABELS, type HttpSeries, type IstioMetrics, TCP_LABELS, type TcpSeries } from './istio.js';
import { CounterChild, Family, HistogramChild, type Registry } from './registry.js';

type Metric = MetricOverride['metric'];
type Side = 'source' | 'destination';
type Column = number | Expression;

/** Each overridable metric: its family on IstioMetrics, its labels, its kind. */
const METRICS = {
  REQUEST_COUNT: { family: 'requests', labels: HTTP_LABELS, buckets: undefined },
  REQUEST_DURATION: { family: 'duration', labels: HTTP_LABELS, buckets: DURATION_BUCKETS_MS },
  REQUEST_SIZE: { family: 'requestBytes', labels: HTTP_LABELS, buckets: BYTE_BUCKETS },
  RESPONSE_SIZE: { family: 'responseBytes', labels: HTTP_LABELS, buckets: BYTE_BUCKETS },
  TCP_OPENED_CONNECTIONS: { family: 'tcpOpened', labels: TCP_LABELS, buckets: undefined },
  TCP_CLOSED_CONNECTIONS: { family: 'tcpClosed', labels: TCP_LABELS, buckets: undefined },
  TCP_SENT_BYTES: { family: 'tcpSent', labels: TCP_LABELS, buckets: undefined },
  TCP_RECEIVED_BYTES: { family: 'tcpReceived', labels: TCP_LABELS, buckets: undefined },
} as const satisfies Record<Exclude<Metric, 'ALL_METRICS'>, { family: keyof IstioMetrics; labels: readonly string[]; buckets: readonly number[] | undefined }>;
type Name = keyof typeof METRICS;

/** What the overrides decide for one metric on one reporter side. */
interface Plan {
  disabled: boolean;
  tags: Map<string, { operation: 'UPSERT' | 'REMOVE'; value?: string }>;
}

/** One reporter side of an overridden metric: its family and where each label value comes from. */
interface Output {
  family: Family<CounterChild | HistogramChild>;
  columns: Column[];
}

/** The overridden metrics of one proxy, recording and rendering them. */
export class MetricOverrides {
  private readonly outputs = new Map<Name, Partial<Record<Side, Output>>>();
  private readonly expressions = new Map<string, Expression>();

  constructor(private readonly istio: IstioMetrics, private readonly registry: Registry, readonly settings: MetricsSettings) {
    const plans = plansOf(settings);
    for (const name of Object.keys(METRICS) as Name[]) {
      const p = plans.get(name)!;
      const off = settings.enabled === false;
      const identity = !off && (['source', 'destination'] as const).every((s) => !p[s].disabled && p[s].tags.size === 0);
      if (identity) continue;
      const out: Partial<Record<Side, Output>> = {};
      for (const side of ['source', 'destination'] as const) if (!off && !p[side].disabled) out[side] = this.output(name, p[side]);
      this.outputs.set(name, out);
      const family = this.istio[METRICS[name].family];
      registry.setRenderer(family.name, (lines) => {
        let header = true;
        for (const o of [out.source, out.destination]) {
          if (!o || o.family.size === 0) continue;
          o.family.render(lines, header);
          header = false;
        }
      });
    }
  }

  /** Whether any metric is overridden (nothing to record otherwise). */
  get active(): boolean {
    return this.outputs.size > 0;
  }

  /** Puts the default renderings back (the overrides are replaced or gone). */
  dispose(): void {
    for (const name of this.outputs.keys()) this.registry.setRenderer(this.istio[METRICS[name].family].name, undefined);
  }

  private output(name: Name, plan: Plan): Output {
    const m = METRICS[name];
    const labels: string[] = [];
    const columns: Column[] = [];
    m.labels.forEach((l, i) => {
      const t = plan.tags.get(l);
      if (t?.operation === 'REMOVE') return;
      labels.push(l);
      columns.push(t?.operation === 'UPSERT' ? this.expression(t.value ?? '') : i);
    });
    for (const [l, t] of plan.tags) {
      if (t.operation !== 'UPSERT' || m.labels.includes(l as never)) continue;
      labels.push(l);
      columns.push(this.expression(t.value ?? ''));
    }
    const base = this.istio[m.family];
    const bounds = m.buckets ? Float64Array.from(m.buckets) : undefined;
    const family = new Family<CounterChild | HistogramChild>(base.kind, base.name, base.help, labels, (t) => (bounds ? new HistogramChild(t, bounds) : new CounterChild(t)), 20_000);
    return { family, columns };
  }

  private expression(src: string): Expression {
    let e = this.expressions.get(src);
    if (!e) this.expressions.set(src, (e = compileExpression(src)));
    return e;
  }

  /** Records a finished request into the overridden HTTP metrics. */
  http(r: RequestRecord, series: HttpSeries): void {
    const full = series.values(r.status, r.responseFlags || '-', r.grpcStatus ?? '');
    const side: Side = full[0] === 'destination' ? 'destination' : 'source';
    const cache = new Map<Expression, string>();
    this.record('REQUEST_COUNT', side, full, r, cache, (c) => (c as CounterChild).inc());
    this.record('REQUEST_DURATION', side, full, r, cache, (c) => (c as HistogramChild).observe(r.durationMs));
    this.record('REQUEST_SIZE', side, full, r, cache, (c) => (c as HistogramChild).observe(r.bytesReceived));
    this.record('RESPONSE_SIZE', side, full, r, cache, (c) => (c as HistogramChild).observe(r.bytesSent));
  }

  /** Records TCP activity into the overridden TCP metrics: an opening, bytes, or a closing. */
  tcp(r: TcpRecord, series: TcpSeries, what: { opened?: boolean; closed?: boolean }): void {
    const full = series.values(r.responseFlags ?? '-');
    const side: Side = full[0] === 'destination' ? 'destination' : 'source';
    const cache = new Map<Expression, string>();
    if (what.opened) this.record('TCP_OPENED_CONNECTIONS', side, full, r, cache, (c) => (c as CounterChild).inc());
    if (r.sentBytes) this.record('TCP_SENT_BYTES', side, full, r, cache, (c) => (c as CounterChild).inc(r.sentBytes));
    if (r.receivedBytes) this.record('TCP_RECEIVED_BYTES', side, full, r, cache, (c) => (c as CounterChild).inc(r.receivedBytes));
    if (what.closed) this.record('TCP_CLOSED_CONNECTIONS', side, full, r, cache, (c) => (c as CounterChild).inc());
  }

  private record(name: Name, side: Side, full: string[], r: RequestRecord | TcpRecord, cache: Map<Expression, string>, add: (c: CounterChild | HistogramChild) => void): void {
    const o = this.outputs.get(name)?.[side];
    if (!o) return;
    const values = o.columns.map((c) => {
      if (typeof c === 'number') return full[c]!;
      let v = cache.get(c);
      if (v === undefined) cache.set(c, (v = labelValue(c(r))));
      return v;
    });
    add(o.family.labels(...values));
  }
}

/** Folds the overrides, in order, into a plan per metric and reporter side. */
function plansOf(s: MetricsSettings): Map<Name, Record<Side, Plan>> {
  const plans = new Map<Name, Record<Side, Plan>>();
  for (const n of Object.keys(METRICS) as Name[]) plans.set(n, { source: { disabled: false, tags: new Map() }, destination: { disabled: false, tags: new Map() } });
  for (const o of s.overrides) {
    const names = o.metric === 'ALL_METRICS' ? (Object.keys(METRICS) as Name[]) : [o.metric];
    const sides: Side[] = o.mode === 'CLIENT' ? ['source'] : o.mode === 'SERVER' ? ['destination'] : ['source', 'destination'];
    for (const n of names) {
      for (const side of sides) {
        const p = plans.get(n)![side];
        if (o.disabled !== undefined) p.disabled = o.disabled;
        for (const t of o.tags ?? []) p.tags.set(t.name, { operation: t.operation, value: t.value });
      }
    }
  }
  return plans;
}
