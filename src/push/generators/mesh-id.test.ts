// The mesh id in force (src/control/mesh.ts meshIdOf: `bowline up --mesh-id`, else the mesh config's
// defaultConfig.meshId, else the trust domain; tested in src/control/mesh.test.ts) in every proxy's mesh settings.
import { describe, expect, it } from 'vitest';
import { defaultMeshConfig, parseMeshConfig } from '../../api/index.js';
import type { MeshConfig } from '../../api/types/mesh.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot } from '../../model/snapshot.js';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import { announcementsView } from '../../registry/universal/universal.js';
import { bookinfoWorkloads, productpageProxy } from '../testdata/bookinfo.js';
import { generateProxyConfig } from './index.js';

function meshSettingsFor(mesh: MeshConfig, configs: Resource[] = []) {
  const domains = { clusterDomain: 'cluster.local', extraDomains: [] as string[] };
  const universal = announcementsView(bookinfoWorkloads.map((a) => ({ proxyId: a.name, announcement: a })), domains);
  const cfg = generateProxyConfig(buildSnapshot({ configs, ...universal, mesh, domains }), productpageProxy);
  expect(validateProxyConfig(cfg).errors).toEqual([]);
  return cfg.mesh;
}


describe('mesh.meshId', () => {
  it('reaches the proxy as mesh.meshId', () => {
    expect(meshSettingsFor({ ...defaultMeshConfig(), meshId: 'mesh1' }).meshId).toBe('mesh1');
    expect(meshSettingsFor({ ...defaultMeshConfig(), meshId: 'mesh2' }).meshId).toBe('mesh2');
  });

  it('is kept when a Telemetry resource selects the proxy', () => {
    const tel: Resource = { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 't', namespace: 'default' }, spec: { tracing: [{ randomSamplingPercentage: 50 }] } };
    const m = meshSettingsFor({ ...defaultMeshConfig(), meshId: 'mesh1' }, [tel]);
    expect(m.tracingSampling).toBe(50);
    expect(m.meshId).toBe('mesh1');
  });

  it('defaultConfig.meshId is acted on (no BOWLINE_W_API_NOT_ENFORCED); a top-level meshId is not Istio MeshConfig and says so; a bad one is refused', () => {
    expect(parseMeshConfig('defaultConfig: {meshId: mesh1}').violations).toEqual([]);
    expect(parseMeshConfig('meshId: mesh1').violations.map((v) => v.code)).toEqual(['BOWLINE_W_API_MESH_UNKNOWN_FIELD']);
    const bad = parseMeshConfig('defaultConfig: {meshId: "mesh one"}').violations.filter((v) => v.severity === 'error');
    expect(bad.map((v) => [v.code, v.path])).toEqual([['BOWLINE_E_API_MESH_ID', 'defaultConfig.meshId']]);
  });

  it('the proxy refuses a mesh id it could not send in its peer metadata', () => {
    const cfg = generateProxyConfig(buildSnapshot({ configs: [], services: [], endpoints: [], workloads: [], mesh: { ...defaultMeshConfig(), meshId: 'mesh1' }, domains: { clusterDomain: 'cluster.local', extraDomains: [] } }), productpageProxy);
    expect(validateProxyConfig(cfg).errors).toEqual([]);
    expect(validateProxyConfig({ ...cfg, mesh: { ...cfg.mesh, meshId: 'a"b' } }).errors.map((e) => e.path)).toEqual(['mesh.meshId']);
  });
});
