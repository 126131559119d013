// The Kubernetes registry against a real kube-apiserver and kube-controller-manager (test/support/
// kube-cluster.ts), the test playing the kubelet. `bowline up --kubeconfig FILE` reads the cluster
// with a service account's token from a kubeconfig (no in-cluster account: the DC/OS seed):
// - an RBAC-forbidden list (pods) is reported by name in the log, /debug/registryz and
//   bowline_registry_up / bowline_registry_errors_total, the rest is served, and it recovers
//   once the ClusterRole allows it;
// - a Service scaled from 1 to 3 ready Pods reaches every proxy's endpoints within 1 s of the
//   apiserver holding the EndpointSlice with 3 ready endpoints (what the controller writes when
//   the last Pod turns Ready);
// - MeshConfig discoverySelectors limit discovery to the namespaces they select (the root namespace
//   always in), following namespace label changes; the root namespace's network label is the
//   network of the cluster's endpoints;
// - a control plane whose role cannot read EndpointSlices (written for an older cluster) reads
//   core/v1 Endpoints instead, says so, and stays healthy;
// - with the apiserver stopped, the registry says so and the proxies keep the last endpoints.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import type { KubeObject } from '../support/kube-api.js';
import { kubeBinariesBuilt, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { canRunKubelet } from '../support/kubelet.js';
import { runBowline, startBowline, type Child } from '../support/process.js';
import { waitFor, waitForOutput } from '../support/wait.js';
import { built } from './bookinfo-harness.js';
import { tempDir } from '../support/temp.js';

const canRun = canRunKubelet() && built;
const home = tempDir('bowline-e2e-kube-registry-');
const HOST = 'hello.default.svc.cluster.local';
const SERVER = `require('http').createServer((q, s) => s.end(process.env.POD_NAME)).listen(8080, process.env.POD_IP)`;
const children: Child[] = [];
const readyAt = new Map<string, number>();
let kube: KubeCluster;
let cp: Child;
let api = '';
const proxies: number[] = [];

const READ_RULES = [
  { apiGroups: [''], resources: ['services', 'nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
];

interface Registryz {
  registries: Array<{ registry: string; healthy: boolean; error?: string; errors?: number; failures?: Array<{ resource: string; namespace?: string; reason: string; message: string }> }>;
  services: Array<{ hostname: string; addresses?: string[]; source: string; ports: Array<{ port: number; protocol: string }> }>;
  endpoints: Record<string, Array<{ address: string; port: number; health?: string; serviceAccount?: string; network?: string }>>;
}
const registryz = async (at = api) => (await (await fetch(`${at}/debug/registryz`)).json()) as Registryz;
const metrics = async () => (await fetch(`${api}/metrics`)).text();

/** Healthy endpoints a proxy holds for hello:80 (its admin /clusters). */
function endpointsOf(admin: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: admin, path: '/clusters', agent: false }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { t += c; });
      res.on('end', () => {
        try {
          const c = (JSON.parse(t) as Array<{ name: string; endpoints?: Array<{ address: string; port: number; health?: string }> }>).find((x) => x.name === `outbound|80||${HOST}`);
          resolve((c?.endpoints ?? []).filter((e) => (e.health ?? 'healthy') === 'healthy').map((e) => `${e.address}:${e.port}`).sort());
        } catch (e) { reject(e); }
      });
    }).on('error', reject);
  });
}

async function startProxy(name: string, push: number): Promise<number> {
  const portsFile = join(home, `${name}.ports.json`);
  const p = startBowline(['proxy', '--server', `127.0.0.1:${push}`, '--name', name, '--labels', `app=${name}`, '--outbound-port', '0', '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', portsFile]);
  children.push(p);
  return (await waitFor(() => readPortsFile(portsFile, ['admin'])?.admin, { timeoutMs: 20_000, what: () => `proxy ${name}:\n${p.output()}` }))!;
}

beforeAll(async () => {
  if (!canRun) return;
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  kube = await startKubeCluster({
    kubelet: {
      labels: { 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-a' },
      run: (pod, sb) => void sb.spawn(process.execPath, ['-e', SERVER], { env: { POD_NAME: pod.metadata.name, POD_IP: sb.ip } }),
      onStatus: (pod, ready) => { if (ready) readyAt.set(pod.metadata.name, Date.now()); },
    },
  });
  // The control plane's identity: a service account whose ClusterRole lacks pods for now.
  await kube.api.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bowline-registry' }, rules: READ_RULES });
  await kube.api.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bowline-registry' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bowline-registry' }, subjects: [{ kind: 'ServiceAccount', name: 'bowline', namespace: 'default' }] });
  const kubeconfig = kube.writeKubeconfig('bowline', await kube.serviceAccountToken('default', 'bowline'));

  await kube.api.create('/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello' }, spec: { selector: { app: 'hello' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await kube.api.create('/apis/apps/v1/namespaces/default/deployments', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hello' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'hello' } }, template: { metadata: { labels: { app: 'hello' } }, spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'hello', ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 } } }] } } },
  });
  await waitFor(() => readyAt.size === 1, { timeoutMs: 30_000, what: () => `the first hello pod ready:\n${kube.kubelet!.output()}` });

  const portsFile = join(home, 'cp.ports.json');
  cp = startBowline(['up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--push-plaintext', '--ports-file', portsFile, '--kubeconfig', kubeconfig], { env: { BOWLINE_HOME: home } });
  children.push(cp);
  await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 30_000, what: () => `bowline up:\n${cp.output()}` });
  api = `http://127.0.0.1:${(JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number }).api}`;
}, 120_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  await kube?.stop();
});

describe.skipIf(!canRun)('the Kubernetes registry against a real kube-apiserver (bowline up --kubeconfig)', () => {
  it('reports an RBAC-forbidden list by name, serves what it can read, and recovers when allowed', async () => {
    const z = await waitFor(async () => { const r = await registryz(); return r.registries[0]?.failures?.length ? r : undefined; }, { what: 'a failure in /debug/registryz' });
    expect(z!.registries).toEqual([expect.objectContaining({ registry: 'kubernetes', healthy: false, failures: [expect.objectContaining({ resource: 'pods', namespace: '*', reason: 'Forbidden' })] })]);
    expect(z!.registries[0]!.failures![0]!.message).toMatch(/cannot list pods in all namespaces: .*system:serviceaccount:default:bowline/);
    // Log lines reach us through a pipe, possibly after /debug/registryz shows the state: wait for them.
    await waitForOutput(cp, /registry kubernetes: cannot list pods in all namespaces at https:\/\/127\.0\.0\.1:\d+: Forbidden/);
    const m = await metrics();
    expect(m).toMatch(/^bowline_registry_up\{registry="kubernetes"\} 0$/m);
    expect(Number(/^bowline_registry_errors_total\{registry="kubernetes"\} (\d+)$/m.exec(m)?.[1])).toBeGreaterThan(0);
    // Services and EndpointSlices are readable: the Service and its endpoint are there (without the Pod's identity).
    const svc = z!.services.find((s) => s.hostname === HOST)!;
    expect(svc).toMatchObject({ source: 'kubernetes', ports: [{ port: 80, protocol: 'HTTP' }] });
    expect(svc.addresses?.[0]).toMatch(/^10\.96\./);
    expect(z!.endpoints[HOST]).toEqual([expect.objectContaining({ port: 8080, health: 'healthy' })]);
    expect(z!.endpoints[HOST]![0]!.serviceAccount).toBeUndefined();

    await kube.api.mergePatch('/apis/rbac.authorization.k8s.io/v1/clusterroles/bowline-registry', { rules: [...READ_RULES, { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] });
    await waitFor(async () => (await registryz()).registries[0]?.healthy, { timeoutMs: 20_000, what: 'the registry healthy once pods are allowed' });
    expect(await metrics()).toMatch(/^bowline_registry_up\{registry="kubernetes"\} 1$/m);
    await waitForOutput(cp, 'registry kubernetes: pods in all namespaces read again');
    await waitFor(async () => (await registryz()).endpoints[HOST]?.[0]?.serviceAccount === 'default', { what: 'the endpoint with its Pod\'s service account' });
  });

  it('a Service scaled from 1 to 3 ready Pods updates every proxy\'s endpoints within 1 s', async () => {
    const push = (JSON.parse(readFileSync(join(home, 'cp.ports.json'), 'utf8')) as { push: number }).push;
    proxies.push(await startProxy('client-a', push), await startProxy('client-b', push));
    for (const admin of proxies) await waitFor(async () => (await endpointsOf(admin)).length === 1, { timeoutMs: 20_000, what: 'one endpoint in each proxy' });

    // When the apiserver holds an EndpointSlice with 3 ready endpoints: a watch of our own sees it at once. (The
    // EndpointSlice controller itself may take ~1 s after the last Pod turns Ready: its retry after a stale cache.)
    let sliceAt = 0;
    const watching = new AbortController();
    void kube.api.listWatch('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dhello', (ev) => {
      const ready = ((ev.object['endpoints'] as Array<{ conditions: { ready?: boolean } }> | undefined) ?? []).filter((e) => e.conditions.ready).length;
      if (ready === 3 && !sliceAt) sliceAt = Date.now();
    }, watching.signal);
    await kube.api.mergePatch('/apis/apps/v1/namespaces/default/deployments/hello/scale', { spec: { replicas: 3 } });
    const seen = await Promise.all(proxies.map((admin) => waitFor(async () => ((await endpointsOf(admin)).length === 3 ? Date.now() : 0), { timeoutMs: 30_000, intervalMs: 10, what: `3 endpoints in proxy ${admin}` })));
    watching.abort();
    const lag = Math.max(...seen) - sliceAt;
    console.log(`FIGURE kube-registry: EndpointSlice with 3 ready endpoints -> every proxy has them: ${lag} ms (last Pod Ready -> every proxy: ${Math.max(...seen) - Math.max(...readyAt.values())} ms)`);
    expect(sliceAt).toBeGreaterThan(0);
    expect(lag).toBeLessThan(1000);
    // Every endpoint is a Pod IP on the node's bridge, and answers there.
    const pods = (await kube.api.call<{ items: KubeObject[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dhello')).items;
    expect((await endpointsOf(proxies[0]!)).sort()).toEqual(pods.map((p) => `${p.status.podIP}:8080`).sort());
    for (const p of pods) expect(await (await fetch(`http://${p.status.podIP}:8080/`)).text()).toBe(p.metadata.name);
  });

  it('keeps the last endpoints while the apiserver is down, says so, and follows it again when it is back', async () => {
    await kube.stopApiserver();
    // The watches break first (the stream closes), then every retry is refused.
    const z = await waitFor(async () => { const r = await registryz(); return r.registries[0]?.failures?.some((f) => f.reason === 'ECONNREFUSED') ? r : undefined; }, { timeoutMs: 20_000, what: 'unhealthy registry, connection refused' });
    expect(z!.registries[0]!.healthy).toBe(false);
    expect(z!.endpoints[HOST]).toHaveLength(3);
    await waitForOutput(cp, /registry kubernetes: cannot (list|watch) \S+ .* ECONNREFUSED.*keeping the last known endpoints \(3\)/);
    for (const admin of proxies) expect(await endpointsOf(admin)).toHaveLength(3);
    expect(await metrics()).toMatch(/^bowline_registry_up\{registry="kubernetes"\} 0$/m);

    await kube.restartApiserver();
    await waitFor(async () => {
      const r = await registryz();
      if (!r.registries[0]?.healthy) throw new Error(JSON.stringify(r.registries)); // shown if it never turns healthy
      return true;
    }, { timeoutMs: 30_000, what: 'healthy again' });
    await kube.api.mergePatch('/apis/apps/v1/namespaces/default/deployments/hello/scale', { spec: { replicas: 2 } });
    for (const admin of proxies) await waitFor(async () => (await endpointsOf(admin)).length === 2, { timeoutMs: 30_000, what: 'scaled down to 2 after the apiserver came back' });
  });

  it('discoverySelectors keep only the namespaces they select (the root namespace always), following label changes', async () => {
    const apply = async (name: string, yaml: string) => {
      const file = join(home, `${name}.yaml`);
      writeFileSync(file, yaml);
      const r = await runBowline(['apply', '-f', file, '--server', api], { env: { BOWLINE_HOME: home } });
      expect(r.code, r.out + r.err).toBe(0);
    };
    await kube.api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system', labels: { 'topology.istio.io/network': 'net-k' } } });
    await kube.api.create('/api/v1/namespaces/istio-system/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'istio-ingressgateway', namespace: 'istio-system' }, spec: { selector: { istio: 'ingressgateway' }, ports: [{ name: 'http2', port: 80 }] } });
    const GW = 'istio-ingressgateway.istio-system.svc.cluster.local';
    // The root namespace's network label is the network of the cluster's endpoints.
    await waitFor(async () => (await registryz()).endpoints[HOST]?.every((e) => e.network === 'net-k'), { timeoutMs: 20_000, what: 'endpoints on network net-k' });

    await apply('mesh-selectors', `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    discoverySelectors:
    - matchLabels: {mesh: "on"}
`);
    await waitFor(async () => { const z = await registryz(); return !z.services.some((x) => x.hostname === HOST) && z.services.some((x) => x.hostname === GW); }, { timeoutMs: 20_000, what: 'hello (namespace default, unselected) gone, the root namespace kept' });
    for (const admin of proxies) await waitFor(async () => (await endpointsOf(admin)).length === 0, { timeoutMs: 20_000, what: `no hello endpoints in proxy ${admin}` });

    await kube.api.mergePatch('/api/v1/namespaces/default', { metadata: { labels: { mesh: 'on' } } });
    await waitFor(async () => (await registryz()).endpoints[HOST]?.length === 2, { timeoutMs: 20_000, what: 'hello back (2 endpoints) once namespace default is labelled mesh=on' });
    for (const admin of proxies) await waitFor(async () => (await endpointsOf(admin)).length === 2, { timeoutMs: 20_000, what: `hello endpoints back in proxy ${admin}` });
  });

  it('reads core/v1 Endpoints where its role cannot read EndpointSlices, says so, and stays healthy', async () => {
    const oldRules = [
      { apiGroups: [''], resources: ['services', 'nodes', 'namespaces', 'pods', 'endpoints'], verbs: ['get', 'list', 'watch'] },
    ];
    await kube.api.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bowline-old' }, rules: oldRules });
    await kube.api.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bowline-old' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bowline-old' }, subjects: [{ kind: 'ServiceAccount', name: 'bowline-old', namespace: 'default' }] });
    const kubeconfig = kube.writeKubeconfig('bowline-old', await kube.serviceAccountToken('default', 'bowline-old'));
    const home2 = tempDir('bowline-e2e-kube-registry-old-');
    const portsFile = join(home2, 'cp.ports.json');
    const old = startBowline(['up', '--home', home2, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--push-plaintext', '--ports-file', portsFile, '--kubeconfig', kubeconfig], { env: { BOWLINE_HOME: home2 } });
    children.push(old);
    await waitFor(() => old.output().includes('control plane ready'), { timeoutMs: 30_000, what: () => `bowline up (old role):\n${old.output()}` });
    const api2 = `http://127.0.0.1:${(JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number }).api}`;
    const z = await waitFor(async () => { const r = await registryz(api2); return r.endpoints[HOST]?.length === 2 && r.registries[0]?.healthy ? r : undefined; }, { timeoutMs: 30_000, what: () => `hello's endpoints from core/v1 Endpoints:\n${old.output()}` });
    const pods = (await kube.api.call<{ items: KubeObject[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dhello')).items;
    expect(z!.endpoints[HOST]!.map((e) => e.address).sort()).toEqual(pods.map((p) => p.status.podIP as string).sort());
    expect(z!.endpoints[HOST]!.every((e) => e.health === 'healthy' && e.serviceAccount === 'default')).toBe(true);
    await waitForOutput(old, /registry kubernetes: cannot list endpointslices\.discovery\.k8s\.io in all namespaces at \S+: Forbidden \(HTTP 403\); reading endpoints in all namespaces instead/);
    // Scaling is followed through the Endpoints too.
    await kube.api.mergePatch('/apis/apps/v1/namespaces/default/deployments/hello/scale', { spec: { replicas: 1 } });
    await waitFor(async () => (await registryz(api2)).endpoints[HOST]?.filter((e) => e.health === 'healthy').length === 1, { timeoutMs: 30_000, what: 'scaled to 1 through core/v1 Endpoints' });
  });
});
