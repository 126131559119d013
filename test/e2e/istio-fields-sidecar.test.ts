// The Sidecar resource through a real proxy: Istio YAML -> generators -> a Bowline sidecar ->
// what the app gets. egress hosts limit which services the proxy knows; outboundTrafficPolicy
// on the Sidecar overrides the mesh's for the workloads it selects (ALLOW_ANY passes unknown
// destinations through, REGISTRY_ONLY answers 502 BlackHoleCluster).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MeshConfig } from '../../src/api/index.js';
import { defaultMeshConfig } from '../../src/api/index.js';
import type { ProxyInfo } from '../../src/push/generators/index.js';
import { send, Sidecar, stopWorkloads, workload, type Instance, type Workload } from './fields-harness.js';

let reviews: Workload;
let details: Workload;
let outside: Workload;
let mesh: Instance[];
const sidecars: Sidecar[] = [];

beforeAll(async () => {
  reviews = await workload('reviews-v1');
  details = await workload('details-v1');
  outside = await workload('not-in-the-mesh');
  mesh = [{ w: reviews, service: 'reviews' }, { w: details, service: 'details' }];
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
});

afterAll(async () => {
  await stopWorkloads([reviews, details, outside]);
});

async function sidecar(yaml: string, meshConfig?: MeshConfig): Promise<Sidecar> {
  const s = new Sidecar();
  sidecars.push(s);
  await s.start(mesh, yaml, meshConfig ? { mesh: meshConfig } : {});
  return s;
}

const sidecarResource = (mode: string, hosts = '["./details.default.svc.cluster.local"]') => `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: ${hosts}}]
  outboundTrafficPolicy: {mode: ${mode}}
`;

describe('Sidecar egress and outboundTrafficPolicy', () => {
  it('egress hosts: only the listed services are known; REGISTRY_ONLY on the Sidecar answers 502 for the rest', async () => {
    const s = await sidecar(sidecarResource('REGISTRY_ONLY'));
    expect((await send(s.port, 'http://details:9080/details/0')).json.name).toBe('details-v1');
    expect((await send(s.port, 'http://reviews:9080/reviews/0')).status).toBe(502);
    expect((await send(s.port, `http://127.0.0.1:${outside.port}/`)).status).toBe(502);
    expect(reviews.seen.length).toBe(0);
    expect(outside.seen.length).toBe(0);
  });

  it("the Sidecar's ALLOW_ANY overrides a REGISTRY_ONLY mesh: destinations outside the registry pass through", async () => {
    const registryOnly = { ...defaultMeshConfig(), outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' as const } };
    const plain = await sidecar('', registryOnly);
    expect((await send(plain.port, `http://127.0.0.1:${outside.port}/`)).status).toBe(502);
    const s = await sidecar(sidecarResource('ALLOW_ANY', '["*/*"]'), registryOnly);
    const r = await send(s.port, `http://127.0.0.1:${outside.port}/x`);
    expect(r.status).toBe(200);
    expect(r.json.name).toBe('not-in-the-mesh');
    expect((await send(s.port, 'http://reviews:9080/reviews/0')).json.name).toBe('reviews-v1');
  });
});

describe('Sidecar ingress', () => {
  const reviewsProxy = (appPort: number): ProxyInfo => ({
    node: { id: 'reviews-v1.default', role: 'sidecar', workload: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' } },
    workload: { name: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' }, address: '127.0.0.1', services: [{ service: 'reviews', port: 9080, protocol: 'HTTP', targetPort: appPort }], outboundPort: 0, tlsMode: 'disabled' },
  });
  const PLAINTEXT = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: DISABLE}}
`;

  it('ingress listeners replace the announced ports: each forwards to its defaultEndpoint', async () => {
    const s = new Sidecar();
    sidecars.push(s);
    // The workload announces 9080 -> the reviews app; its Sidecar says 9080 goes to details' socket, and adds 9443.
    const cfg = await s.start(mesh, `${PLAINTEXT}---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: reviews, namespace: default}
spec:
  workloadSelector: {labels: {app: reviews}}
  ingress:
  - port: {number: 9080, protocol: HTTP, name: http}
    defaultEndpoint: 127.0.0.1:${details.port}
  - port: {number: 9443, protocol: HTTP, name: http-extra}
    defaultEndpoint: 0.0.0.0:${outside.port}
`, { proxy: reviewsProxy(reviews.port) });
    expect(cfg.listeners.map((l) => l.name).filter((n) => n.startsWith('inbound')).sort()).toEqual(['inbound|9080', 'inbound|9443']);
    const a = await send(s.proxy.ports.listeners['inbound|9080']!, 'inbound:reviews:9080/r');
    expect(a.json.name).toBe('details-v1');
    const b = await send(s.proxy.ports.listeners['inbound|9443']!, 'inbound:reviews:9443/r');
    expect(b.json.name).toBe('not-in-the-mesh');
    // Without the Sidecar, the announced app port answers.
    await s.apply(mesh, PLAINTEXT, { proxy: reviewsProxy(reviews.port) });
    expect((await send(s.proxy.ports.listeners['inbound|9080']!, 'inbound:reviews:9080/r')).json.name).toBe('reviews-v1');
  });
});
