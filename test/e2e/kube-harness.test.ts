// The Kubernetes test harness itself (test/support/kube-cluster.ts, kubelet.ts): a real etcd,
// kube-apiserver and kube-controller-manager on loopback, and the node's part played by the test.
// A Deployment's Pod is scheduled onto the harness's Node, runs a real server in its own network
// namespace with its Pod IP, turns Ready through its readiness probe, and appears as a ready
// endpoint in the Service's EndpointSlice; the server answers on the Pod IP over the bridge. A
// service account's token is refused what RBAC does not grant. Deleting the Pod stops it and
// removes its namespace; stopping the harness leaves no namespace, bridge or process behind.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApi, KubeApiError, type KubeObject } from '../support/kube-api.js';
import { kubeBinariesBuilt, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { canRunKubelet } from '../support/kubelet.js';
import { waitFor } from '../support/wait.js';

const canRun = canRunKubelet();
let kube: KubeCluster;

/** The server each Pod runs: answers with its Pod name on :8080 (and /healthz for the probe). */
const SERVER = `require('http').createServer((q, s) => s.end(process.env.POD_NAME)).listen(8080, process.env.POD_IP)`;

beforeAll(async () => {
  if (!canRun) return;
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  kube = await startKubeCluster({
    kubelet: {
      labels: { 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': 'z1' },
      run: (pod, sb) => void sb.spawn(process.execPath, ['-e', SERVER], { env: { POD_NAME: pod.metadata.name, POD_IP: sb.ip } }),
    },
  });
}, 120_000);

afterAll(async () => {
  await kube?.stop();
});

const slices = async () => (await kube.api.call<{ items: KubeObject[] }>('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io/service-name%3Dhello')).items;
const readyAddresses = async () => (await slices()).flatMap((s) => (s['endpoints'] as Array<{ addresses: string[]; conditions: { ready?: boolean }; zone?: string }> ?? []).filter((e) => e.conditions.ready).map((e) => `${e.addresses[0]}@${e.zone}`));

describe.skipIf(!canRun)('the Kubernetes harness: real control plane, the test as the kubelet', () => {
  it('runs a Deployment\'s Pod in a network namespace with its Pod IP, Ready by its probe, as a ready endpoint', async () => {
    await kube.api.create('/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello' }, spec: { selector: { app: 'hello' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    await kube.api.create('/apis/apps/v1/namespaces/default/deployments', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hello' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'hello' } }, template: { metadata: { labels: { app: 'hello' } }, spec: { containers: [{ name: 'app', image: 'hello', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/', port: 'http' } } }] } } },
    });
    const pod = (await waitFor(async () => (await kube.api.call<{ items: KubeObject[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dhello')).items.find((p) => p.status?.podIP && p.status.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')),
      { timeoutMs: 30_000, what: () => `a Ready hello pod:\n${kube.kubelet!.output()}` }))!;
    expect(pod.spec.nodeName).toBe(kube.kubelet!.nodeName);
    expect(pod.status.podIP).toMatch(new RegExp(`^${kube.kubelet!.podCidr.replace(/\.0\/24$/, '').replace(/\./g, '\\.')}\\.\\d+$`));
    // The route to the Pod goes over the harness's bridge, and the Pod's server answers there.
    expect(spawnSync('ip', ['route', 'get', pod.status.podIP], { encoding: 'utf8' }).stdout).toContain(`dev ${kube.kubelet!.bridge}`);
    expect(await (await fetch(`http://${pod.status.podIP}:8080/`)).text()).toBe(pod.metadata.name);
    // The EndpointSlice controller (the real one) made it a ready endpoint, with the Node's zone.
    await waitFor(async () => (await readyAddresses()).includes(`${pod.status.podIP}@z1`), { timeoutMs: 15_000, what: 'ready endpoint in the EndpointSlice' });

    // A not-ready Pod leaves the ready endpoints.
    await kube.kubelet!.setReady('default', pod.metadata.name, false);
    await waitFor(async () => (await readyAddresses()).length === 0, { timeoutMs: 15_000, what: 'endpoint not ready' });
    await kube.kubelet!.setReady('default', pod.metadata.name, true);
    await waitFor(async () => (await readyAddresses()).length === 1, { timeoutMs: 15_000, what: 'endpoint ready again' });

    // Deleting the Pod: the kubelet stops it, removes its namespace, and the ReplicaSet makes a new one.
    const netns = kube.kubelet!.sandbox('default', pod.metadata.name)!.netns;
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).toContain(netns);
    await kube.api.delete(`/api/v1/namespaces/default/pods/${pod.metadata.name}`);
    await waitFor(() => !spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(netns), { timeoutMs: 15_000, what: 'netns removed' });
    await waitFor(async () => { const a = await readyAddresses(); return a.length === 1 && !a[0]!.startsWith(`${pod.status.podIP}@`) ? a : undefined; }, { timeoutMs: 30_000, what: () => `the replacement pod ready:\n${kube.kubelet!.output()}` });
  });

  it('authenticates service-account tokens and enforces RBAC', async () => {
    const token = await kube.serviceAccountToken('default', 'reader');
    const sa = new KubeApi(kube.server, token, kube.caPem);
    try {
      const err = await sa.call('GET', '/api/v1/pods').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).status).toBe(403);
      expect((err as KubeApiError).message).toContain('system:serviceaccount:default:reader');
    } finally {
      sa.close();
    }
  });

  it('stops everything it started', async () => {
    const { bridge } = kube.kubelet!;
    await kube.stop();
    expect(spawnSync('ip', ['link', 'show', bridge]).status).not.toBe(0);
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toMatch(new RegExp(`^bk-${bridge.slice(5)}-`, 'm'));
  });
});
