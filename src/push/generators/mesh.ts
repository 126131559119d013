/** Mesh settings for the proxy, from Istio's MeshConfig. */
import type { MeshConfig } from '../../api/types/mesh.js';
import type { MeshSettings } from '../../proxy-config/types.js';
import type { Generator } from './generator.js';
import { parseDuration } from '../../api/duration.js';
import { applyTelemetry, meshMetrics, telemetryOverrides } from './telemetry-kind.js';
import { accessLogSettings, tracingSampling, tracingSettings } from './mesh-telemetry.js';

/** Converts MeshConfig to the proxy's MeshSettings. */
export function meshSettings(m: MeshConfig): MeshSettings {
  const out: MeshSettings = {
    tracingSampling: tracingSampling(m),
    accessLog: accessLogSettings(m),
    autoMtls: m.enableAutoMtls ?? true,
    outboundTrafficPolicy: m.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY',
  };
  // The mesh id in force (src/control/mesh.ts: --mesh-id, else defaultConfig.meshId, else the trust domain).
  if (typeof m.meshId === 'string' && m.meshId !== '') out.meshId = m.meshId;
  const pn = (m.pathNormalization as { normalization?: string } | undefined)?.normalization;
  if (pn !== undefined && pn !== 'DEFAULT') out.pathNormalization = pn as NonNullable<MeshSettings['pathNormalization']>;
  // ProxyConfig drainDuration (Istio default 45s): only when the mesh config sets it, else the proxy keeps its own (5 s).
  const drain = typeof m.defaultConfig?.drainDuration === 'string' ? parseDuration(m.defaultConfig.drainDuration) : undefined;
  if (drain !== undefined) out.drainDurationMs = Math.round(drain);
  // ProxyConfig terminationDrainDuration (Istio default 5 s): the shutdown drain, only when set (the proxy's default is 5 s too).
  const termination = typeof m.defaultConfig?.terminationDrainDuration === 'string' ? parseDuration(m.defaultConfig.terminationDrainDuration) : undefined;
  if (termination !== undefined) out.terminationDrainDurationMs = Math.round(termination);
  const tracing = tracingSettings(m);
  if (tracing) out.tracing = tracing;
  const metrics = meshMetrics(m);
  if (metrics) out.metrics = metrics;
  return out;
}

/** Generates the mesh settings: the same for every proxy, unless Telemetry resources select it (telemetry-kind.ts). */
export const meshGenerator: Generator = {
  type: 'mesh',
  kinds: ['mesh', 'Telemetry'],
  parts: (snap, proxy) => {
    const o = telemetryOverrides(snap, proxy);
    if (!o) return [{ scope: 'mesh', build: () => [meshSettings(snap.mesh)] }];
    return [{ scope: `mesh|${JSON.stringify(o)}`, build: () => [applyTelemetry(meshSettings(snap.mesh), o, snap.mesh, { accessLog: accessLogSettings, tracing: tracingSettings })] }];
  },
};
