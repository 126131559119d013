// The Sidecar resource through a real proxy: Istio YAML -> generators -> a Bowline sidecar ->
// what the app gets. egress hosts limit which services the proxy knows; outboundTrafficPolicy
// on the Sidecar overrides the mesh's for the workloads it selects (ALLOW_ANY passes unknown
// destinations through, REGISTRY_ONLY answers 502 BlackHoleCluster).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MeshConfig } from '../../src/api/index.js';
import { defaultMeshConfig } from '../../src/api/index.js';
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
