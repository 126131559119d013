/** Mesh settings for the proxy, from Istio's MeshConfig. */
import type { MeshConfig } from '../../api/types/mesh.js';
import type { MeshSettings } from '../../proxy-config/types.js';
import type { Generator } from './generator.js';

/** Converts MeshConfig to the proxy's MeshSettings. */
export function meshSettings(m: MeshConfig): MeshSettings {
  const file = m.accessLogFile ?? '';
  const out: MeshSettings = {
    tracingSampling: m.defaultConfig?.tracing?.sampling ?? 1,
    accessLog: file ? { enabled: true, encoding: m.accessLogEncoding ?? 'TEXT', path: file } : { enabled: false, encoding: m.accessLogEncoding ?? 'TEXT' },
    autoMtls: m.enableAutoMtls ?? true,
    outboundTrafficPolicy: m.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY',
  };
  const zipkin = m.defaultConfig?.tracing?.zipkin?.address;
  if (zipkin) out.tracing = { zipkin: { url: `http://${zipkin}/api/v2/spans` } };
  return out;
}

/** Generates the mesh settings (one resource, the same for every proxy). */
export const meshGenerator: Generator = {
  type: 'mesh',
  kinds: ['mesh'],
  parts: (snap) => [{ scope: 'mesh', build: () => [meshSettings(snap.mesh)] }],
};
