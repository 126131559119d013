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
 *    `providers` -> the collectors of those extensionProviders.
 */
import type { Resource } from '../../api/types/meta.js';
import type { MeshConfig } from '../../api/types/mesh.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { MeshSettings } from '../../proxy-config/types.js';
import type { ProxyInfo } from './generator.js';
import { byAge, labelsMatch } from './scope.js';

interface Mode { mode?: 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER' }
interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: unknown;
  targetRefs?: unknown[];
  accessLogging?: Array<{ match?: Mode; providers?: Array<{ name: string }>; disabled?: boolean }>;
  tracing?: Array<{ match?: Mode; providers?: Array<{ name: string }>; randomSamplingPercentage?: number; disableSpanReporting?: boolean }>;
}

/** What the Telemetry resources of one proxy decide; absent fields: the mesh config's. */
export interface TelemetryOverrides {
  accessLogDisabled?: boolean;
  accessLogProviders?: string[];
  samplingPercent?: number;
  disableSpanReporting?: boolean;
  tracingProviders?: string[];
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
  return out;
}
