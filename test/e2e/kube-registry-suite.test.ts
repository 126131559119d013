// The shared registry suite (src/registry/registry.suite.ts) against the Kubernetes registry and a
// real kube-apiserver: each published service is a Service without a selector plus an
// EndpointSlice the test manages (label kubernetes.io/service-name, managed by this test, so the
// EndpointSlice controller leaves it alone), as a user with their own endpoints writes them.
import { afterAll, beforeAll } from 'vitest';
import { KubernetesRegistry } from '../../src/registry/kubernetes/kubernetes.js';
import { registrySuite } from '../../src/registry/registry.suite.js';
import { kubeBinariesBuilt, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';

let kube: KubeCluster;

beforeAll(async () => {
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  kube = await startKubeCluster();
}, 120_000);
afterAll(async () => { await kube?.stop(); });

const namespaces = new Set<string>();

registrySuite('kubernetes (Services and EndpointSlices in a real apiserver)', async () => {
  const registry = new KubernetesRegistry({ kubeconfig: kube.kubeconfig, backoffMs: { min: 50, max: 500 } });
  return {
    registry,
    async publish(ns, name, addresses) {
      if (!namespaces.has(ns)) {
        await kube.api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
        namespaces.add(ns);
      }
      const base = `/api/v1/namespaces/${ns}`;
      if (!(await kube.api.get(`${base}/services/${name}`))) {
        await kube.api.create(`${base}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
      }
      const slices = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
      const slice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
        metadata: { name: `${name}-suite`, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'bowline-test' } },
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })) };
      const have = await kube.api.get(`${slices}/${name}-suite`);
      if (have) await kube.api.call('PUT', `${slices}/${name}-suite`, { ...slice, metadata: { ...slice.metadata, resourceVersion: have.metadata.resourceVersion } });
      else await kube.api.create(slices, slice);
      return `${name}.${ns}.svc.cluster.local`;
    },
    async unpublish(ns, name) {
      await kube.api.delete(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}-suite`);
      await kube.api.delete(`/api/v1/namespaces/${ns}/services/${name}`);
    },
    async close() {
      // Each test's services stay in their own namespace; the cluster goes with the file.
    },
  };
}, { timeoutMs: 15_000 });
