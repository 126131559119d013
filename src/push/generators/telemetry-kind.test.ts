// The Telemetry kind's `metrics` folded into a proxy's mesh settings (what the proxy's MetricOverrides applies).
import { describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../api/index.js';
import type { MeshConfig } from '../../api/types/mesh.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot } from '../../model/snapshot.js';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import { announcementsView } from '../../registry/universal/universal.js';
import { bookinfoWorkloads, productpageProxy } from '../testdata/bookinfo.js';
import { generateProxyConfig } from './index.js';

const tel = (name: string, ns: string, spec: unknown, at = 0): Resource => ({ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name, namespace: ns, creationTimestamp: new Date(1_700_000_000_000 + at).toISOString() }, spec });

function mesh(configs: Resource[], m: Partial<MeshConfig> = {}) {
  const domains = { clusterDomain: 'cluster.local', extraDomains: [] as string[] };
  const universal = announcementsView(bookinfoWorkloads.map((a) => ({ proxyId: a.name, announcement: a })), domains);
  const cfg = generateProxyConfig(buildSnapshot({ configs, ...universal, mesh: { ...defaultMeshConfig(), ...m }, domains }), productpageProxy);
  expect(validateProxyConfig(cfg).errors).toEqual([]);
  return cfg.mesh;
}

describe('Telemetry metrics -> mesh.metrics', () => {
  it('no Telemetry, or one without metrics: no metrics settings (Istio labels, everything on)', () => {
    expect(mesh([]).metrics).toBeUndefined();
    expect(mesh([tel('t', 'default', { accessLogging: [{ disabled: true }] })]).metrics).toBeUndefined();
  });

  it('overrides from the mesh-wide, namespace and workload levels, broadest first, with Istio defaults for match', () => {
    const m = mesh([
      tel('wl', 'default', { selector: { matchLabels: { app: 'productpage' } }, metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT', mode: 'SERVER' }, tagOverrides: { request_protocol: { operation: 'REMOVE' }, tenant: { value: "request.headers['x-tenant']" } } }] }] }),
      tel('root', 'istio-system', { metrics: [{ overrides: [{ disabled: true }] }] }),
      tel('other', 'default', { selector: { matchLabels: { app: 'reviews' } }, metrics: [{ overrides: [{ disabled: false }] }] }),
    ]);
    expect(m.metrics).toEqual({ overrides: [
      { metric: 'ALL_METRICS', mode: 'CLIENT_AND_SERVER', disabled: true },
      { metric: 'REQUEST_COUNT', mode: 'SERVER', tags: [{ name: 'request_protocol', operation: 'REMOVE' }, { name: 'tenant', operation: 'UPSERT', value: "request.headers['x-tenant']" }] },
    ] });
  });

  it('providers: overrides apply only under a Prometheus provider; the most specific providers naming none turn istio_* off', () => {
    const providers = { extensionProviders: [{ name: 'prom2', prometheus: {} }, { name: 'sd', stackdriver: {} }] } as Partial<MeshConfig>;
    expect(mesh([tel('t', 'default', { metrics: [{ providers: [{ name: 'sd' }], overrides: [{ disabled: true }] }] })], providers).metrics).toEqual({ enabled: false, overrides: [] });
    // The last entry naming providers decides the scope; an entry without providers has the previous one's.
    expect(mesh([tel('t', 'default', { metrics: [
      { providers: [{ name: 'sd' }], overrides: [{ match: { metric: 'RESPONSE_SIZE' }, disabled: true }] },
      { overrides: [{ match: { metric: 'TCP_SENT_BYTES' }, disabled: true }] },
      { providers: [{ name: 'sd' }, { name: 'prom2' }], overrides: [{ match: { metric: 'REQUEST_SIZE' }, disabled: true }] },
      { overrides: [{ match: { metric: 'REQUEST_COUNT' }, disabled: true }] },
    ] })], providers).metrics).toEqual({ overrides: [{ metric: 'REQUEST_SIZE', mode: 'CLIENT_AND_SERVER', disabled: true }, { metric: 'REQUEST_COUNT', mode: 'CLIENT_AND_SERVER', disabled: true }] });
    // A broader level's providers are out of scope once a narrower one names others.
    expect(mesh([tel('root', 'istio-system', { metrics: [{ providers: [{ name: 'prometheus' }], overrides: [{ disabled: true }] }] }), tel('ns', 'default', { metrics: [{ providers: [{ name: 'prom2' }] }] })], providers).metrics).toBeUndefined();
    // A narrower Telemetry naming Prometheus again turns them back on.
    expect(mesh([tel('root', 'istio-system', { metrics: [{ providers: [{ name: 'sd' }] }] }), tel('ns', 'default', { metrics: [{ providers: [{ name: 'prometheus' }] }] })], providers).metrics).toBeUndefined();
    // MeshConfig defaultProviders.metrics without Prometheus: off unless a Telemetry names it.
    expect(mesh([], { ...providers, defaultProviders: { metrics: ['sd'] } } as Partial<MeshConfig>).metrics).toEqual({ enabled: false, overrides: [] });
  });

  it('customMetric and gRPC message counts name nothing the proxy has: skipped, not sent', () => {
    expect(mesh([tel('t', 'default', { metrics: [{ overrides: [{ match: { customMetric: 'my_metric' }, disabled: true }, { match: { metric: 'GRPC_REQUEST_MESSAGES' }, disabled: true }] }] })]).metrics).toBeUndefined();
  });
});
