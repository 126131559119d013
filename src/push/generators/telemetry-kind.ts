/**
 * The Telemetry kind (telemetry.istio.io): the resources that apply to one proxy and what they
 * change in its mesh settings. Istio's precedence: the root namespace's Telemetry without a
 * selector (mesh-wide), then the proxy's namespace's without a selector, then one in that
 * namespace whose `selector` matches the workload; each narrower one overrides the fields it sets
 * (several at one level: the oldest first, as Istio picks). Resources with `targetRef(s)` (Gateway
 * API attachment) are not applied (their fields are warned at validation).
 *  - accessLogging: `disabled`, and `providers` naming MeshConfig extensionProviders
 *    (envoyFileAccessLog, or Istio's built-in `envoy`) -> accessLog settings;
 *  - tracing: `randomSamplingPercentage` -> sampling, `disableSpanReporting` -> no export,
 *    `providers` -> the collectors of those extensionProviders;
 *  - metrics: the overrides of entries whose providers (or, without, the mesh's default metrics
 *    providers) include a Prometheus provider (the built-in `prometheus`, or an extensionProvider
 *    with `prometheus`), in order -> mesh.metrics; when the most specific `providers` name no
 *    Prometheus provider, the istio_* metrics are off (the proxy: src/telemetry/metrics/overrides.ts).
 */
import type { Resource } from '../../api/types/meta.js';
import type { MeshConfig } from '../../api/types/mesh.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { expressionError } from '../../proxy-config/expression.js';
import type { MeshSettings, MetricOverride } from '../../proxy-config/types.js';
import type { ProxyInfo } from './generator.js';
import { byAge, labelsMatch } from './scope.js';

interface Mode { mode?: 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER' }
interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: unknown;
  targetRefs?: unknown[];
  accessLogging?: Array<{ match?: Mode; providers?: Array<{ name: string }>; disabled?: boolean }>;
  tracing?: Array<{ match?: Mode; providers?: Array<{ name: string }>; randomSamplingPercentage?: number; disableSpanReporting?: boolean }>;
  metrics?: Array<{ providers?: Array<{ name: string }>; overrides?: MetricsOverride[] }>;
}
interface MetricsOverride {
  match?: { metric?: string; customMetric?: string; mode?: Mode['mode'] };
  disabled?: boolean;
  tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }>;
}

/** What the Telemetry resources of one proxy decide; absent fields: the mesh config's. */
export interface TelemetryOverrides {
  accessLogDisabled?: boolean;
  accessLogProviders?: string[];
  samplingPercent?: number;
  disableSpanReporting?: boolean;
  tracingProviders?: string[];
  metrics?: NonNullable<MeshSettings['metrics']>;
}

/** The Telemetry resources that apply to `proxy`, broadest first. */
export function telemetryFor(snap: MeshSnapshot, proxy: ProxyInfo): Array<Resource<TelemetrySpec>> {
  const all = (snap.configs('Telemetry') as Array<Resource<TelemetrySpec>>).filter((r) => r.spec.targetRef === undefined && r.spec.targetRefs === undefined);
  const ns = (r: Resource) => r.metadata.namespace ?? 'default';
  const root = snap.mesh.rootNamespace;
  const hasSelector = (r: Resource<TelemetrySpec>) => Object.keys(r.spec.selector?.matchLabels ?? {}).length > 0;
  const mesh = all.filter((r) => ns(r) === root && !hasSelector(r)).sort(byAge);
  const namespace = proxy.node.namespace === root ? [] : all.filter((r) => ns(r) === proxy.node.namespace && !hasSelector(r)).sort(byAge);
  const workload = all.filter((r) => ns(r) === proxy.node.namespace && hasSelector(r) && labelsMatch(r.spec.selector?.matchLabels, proxy.node.labels ?? {})).sort(byAge);
  // At one level the oldest wins: apply the newest first so the oldest's fields land last.
  return [...mesh.reverse(), ...namespace.reverse(), ...workload.reverse()];
}

/** Folds the applicable Telemetry resources into overrides (undefined when none applies). */
export function telemetryOverrides(snap: MeshSnapshot, proxy: ProxyInfo): TelemetryOverrides | undefined {
  const list = telemetryFor(snap, proxy);
  if (list.length === 0) return undefined;
  const out: TelemetryOverrides = {};
  const metrics = metricsOf(list, snap.mesh);
  if (metrics) out.metrics = metrics;
  for (const r of list) {
    for (const a of r.spec.accessLogging ?? []) {
      if (a.match?.mode !== undefined && a.match.mode !== 'CLIENT_AND_SERVER') continue; // per-direction logging: warned
      if (a.disabled !== undefined) out.accessLogDisabled = a.disabled;
      if (a.providers?.length) out.accessLogProviders = a.providers.map((p) => p.name);
    }
    for (const t of r.spec.tracing ?? []) {
      if (t.match?.mode !== undefined && t.match.mode !== 'CLIENT_AND_SERVER') continue;
      if (t.randomSamplingPercentage !== undefined) out.samplingPercent = t.randomSamplingPercentage;
      if (t.disableSpanReporting !== undefined) out.disableSpanReporting = t.disableSpanReporting;
      if (t.providers?.length) out.tracingProviders = t.providers.map((p) => p.name);
    }
  }
  return out;
}

/** The mesh settings with the overrides applied; `base` builds settings from a mesh config. */
export function applyTelemetry(settings: MeshSettings, o: TelemetryOverrides | undefined, m: MeshConfig, providers: {
  accessLog: (m: MeshConfig) => MeshSettings['accessLog'];
  tracing: (m: MeshConfig) => MeshSettings['tracing'];
}): MeshSettings {
  if (!o) return settings;
  const out: MeshSettings = { ...settings };
  if (o.accessLogProviders) {
    // The named providers, as if the mesh config's defaultProviders named them (and no accessLogFile).
    out.accessLog = providers.accessLog({ ...m, accessLogFile: '', defaultProviders: { ...(m.defaultProviders as object | undefined), accessLogging: o.accessLogProviders } });
  }
  if (o.accessLogDisabled === true) out.accessLog = { ...out.accessLog, enabled: false };
  if (o.accessLogDisabled === false && !out.accessLog.enabled && !o.accessLogProviders) {
    // Enabled without providers: Istio's default provider (envoy: stdout, TEXT).
    out.accessLog = providers.accessLog({ ...m, accessLogFile: '', defaultProviders: { ...(m.defaultProviders as object | undefined), accessLogging: ['envoy'] } });
  }
  if (o.tracingProviders) {
    const t = providers.tracing({ ...m, enableTracing: true, defaultProviders: { ...(m.defaultProviders as object | undefined), tracing: o.tracingProviders } });
    if (t) out.tracing = t;
    else delete out.tracing;
  }
  if (o.disableSpanReporting === true) delete out.tracing;
  if (o.samplingPercent !== undefined) out.tracingSampling = o.samplingPercent;
  if (o.metrics) out.metrics = o.metrics;
  return out;
}

/** Whether provider `name` is Prometheus: the built-in `prometheus`, or an extensionProvider of that type. */
function isPrometheus(m: MeshConfig, name: string): boolean {
  const p = Array.isArray(m.extensionProviders) ? (m.extensionProviders as Array<Record<string, unknown>>).find((x) => x?.name === name) : undefined;
  return p ? typeof p.prometheus === 'object' && p.prometheus !== null : name === 'prometheus';
}

/** The mesh config's default metrics providers (Istio's default: Prometheus). */
export function defaultMetricsProviders(m: MeshConfig): string[] {
  const dp = m.defaultProviders as { metrics?: unknown } | undefined;
  const names = Array.isArray(dp?.metrics) ? dp.metrics.filter((n): n is string => typeof n === 'string') : [];
  return names.length ? names : ['prometheus'];
}

/** Metrics settings for the mesh config alone: off when its default providers name no Prometheus provider. */
export function meshMetrics(m: MeshConfig): MeshSettings['metrics'] {
  return defaultMetricsProviders(m).some((n) => isPrometheus(m, n)) ? undefined : { enabled: false, overrides: [] };
}

/** One Telemetry override as the proxy's, or undefined when it names nothing the proxy has (customMetric, gRPC message counts). */
function override(o: MetricsOverride): MetricOverride | undefined {
  const metric = o.match?.metric ?? (o.match?.customMetric !== undefined ? undefined : 'ALL_METRICS');
  if (metric === undefined || metric.startsWith('GRPC_')) return undefined;
  const out: MetricOverride = { metric: metric as MetricOverride['metric'], mode: o.match?.mode ?? 'CLIENT_AND_SERVER' };
  if (o.disabled !== undefined) out.disabled = o.disabled;
  const tags = Object.entries(o.tagOverrides ?? {})
    .map(([name, t]) => ({ name, operation: t.operation ?? 'UPSERT', ...(t.operation === 'REMOVE' ? {} : { value: t.value ?? '' }) }))
    // Validation refuses these; never send a proxy what it would refuse.
    .filter((t) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(t.name) && !t.name.startsWith('__') && t.name !== 'le' && (t.operation === 'REMOVE' || expressionError(t.value ?? '') === undefined));
  if (tags.length) out.tags = tags;
  return out;
}

/** Folds the Telemetry resources' `metrics` (broadest first) into the proxy's metrics settings. */
function metricsOf(list: Array<Resource<TelemetrySpec>>, m: MeshConfig): MeshSettings['metrics'] {
  // As Istio: the last entry that names providers decides which are in scope; an entry without
  // providers has the previous entry's (the first, the mesh's defaults); its overrides reach
  // Prometheus only when it names an in-scope Prometheus provider.
  const entries = list.flatMap((r) => r.spec.metrics ?? []);
  let inScope = defaultMetricsProviders(m);
  for (const e of entries) if (e.providers?.length) inScope = e.providers.map((p) => p.name);
  const prometheus = inScope.filter((n) => isPrometheus(m, n));
  if (prometheus.length === 0) return { enabled: false, overrides: [] };
  let parent = defaultMetricsProviders(m);
  const overrides: MetricOverride[] = [];
  for (const e of entries) {
    const names = e.providers?.length ? e.providers.map((p) => p.name) : parent;
    parent = names;
    if (!names.some((n) => prometheus.includes(n))) continue;
    for (const o of e.overrides ?? []) {
      const x = override(o);
      if (x) overrides.push(x);
    }
  }
  return overrides.length ? { overrides } : undefined;
}
