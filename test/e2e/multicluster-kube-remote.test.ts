// A Kubernetes remote (issue 16 item 4): `bowline cluster add kube-1 --kubeconfig FILE` against a
// real kube-apiserver and kube-controller-manager (test/support/kube-cluster.ts, the test playing
// the kubelet), read with a service account's token as Istio's remote secret does. The Bowline
// control plane (cluster-1, network-1) then routes a proxy's calls for a Service that exists only in
// the Kubernetes cluster to its Pods (same network: directly), follows a scale-up, keeps the last
// endpoints while the apiserver is down (`cluster list`: unreachable, with its error) and syncs again
// when it is back. `cluster remove` drops the endpoints; an Istio remote secret applied with kubectl
// (through `bowline kubeconfig`; the API serves HTTPS, `bowline up --api-tls`, as kubectl sends its
// token only over TLS) brings them back: the Secret is the interface, the CLI a shortcut.
import { execFile } from 'node:child_process';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { kubeBinariesBuilt, kubeBinDir, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { canRunKubelet } from '../support/kubelet.js';
import { runBowline, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { built } from './bookinfo-harness.js';
import { call } from './mesh-harness.js';
import { tempDir } from '../support/temp.js';

const canRun = canRunKubelet() && built && kubeBinariesBuilt();
const home = tempDir('bowline-e2e-mc-kube-');
const URL_HELLO = 'http://hello.default.svc.cluster.local/';
const SERVER = `require('http').createServer((q, s) => s.end(process.env.POD_NAME)).listen(8080, process.env.POD_IP)`;
const children: Child[] = [];
let kube: KubeCluster;
let remoteKubeconfig = '';
let api = '';
let outbound = 0;

/** kubectl (the Kubernetes build's) against the local control plane, with the kubeconfig `bowline kubeconfig` wrote. */
function kubectl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => execFile(join(kubeBinDir(), 'kubectl'), [...args, '--cache-dir', join(home, 'kube-cache')],
    { env: { PATH: process.env.PATH, HOME: home, KUBECONFIG: join(home, 'bowline.kubeconfig') }, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: String(stdout) + String(stderr) })));
}
/** GET `path` of the local control plane's HTTPS API as the admin. */
function apiGet<T>(path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    https.get(`${api}${path}`, { ca: readFileSync(join(home, 'api-ca.pem')), headers: { authorization: `Bearer ${readFileSync(join(home, 'admin-token'), 'utf8').trim()}` }, agent: false }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => { try { resolve(JSON.parse(t) as T); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}
/** `bowline ARGS` against the local control plane. */
const bowline = (args: string[]) => runBowline([...args, '--server', api], { env: { BOWLINE_HOME: home } });
/** The pod names that answered `n` calls through the client proxy (or `status N`). */
async function answers(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await call(outbound, URL_HELLO);
    out.push(r.status === 200 ? r.body : `status ${r.status}`);
  }
  return out;
}
const podNames = async (n: number) => new Set((await Promise.all(Array.from({ length: n }, () => call(outbound, URL_HELLO)))).map((r) => (r.status === 200 ? r.body : `status ${r.status}`)));
const listLine = async () => (await bowline(['cluster', 'list'])).out.split('\n').find((l) => l.startsWith('kube-1')) ?? '';

beforeAll(async () => {
  if (!canRun) return;
  kube = await startKubeCluster({ kubelet: { run: (pod, sb) => void sb.spawn(process.execPath, ['-e', SERVER], { env: { POD_NAME: pod.metadata.name, POD_IP: sb.ip } }) } });
  // What Istio's remote secret carries: a reader service account's token, with a read-only ClusterRole.
  await kube.api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
  await kube.api.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'istio-reader' }, rules: [
    { apiGroups: [''], resources: ['services', 'pods', 'nodes', 'namespaces', 'endpoints'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  ] });
  await kube.api.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'istio-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'istio-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'istio-reader-service-account', namespace: 'istio-system' }] });
  remoteKubeconfig = kube.writeKubeconfig('istio-reader', await kube.serviceAccountToken('istio-system', 'istio-reader-service-account'));
  await kube.api.create('/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello' }, spec: { selector: { app: 'hello' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await kube.api.create('/apis/apps/v1/namespaces/default/deployments', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hello' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'hello' } }, template: { metadata: { labels: { app: 'hello' } }, spec: { containers: [{ name: 'app', image: 'hello', ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 } } }] } } },
  });

  const portsFile = join(home, 'cp.ports.json');
  const cp = startBowline(['up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--push-plaintext', '--ports-file', portsFile,
    '--cluster', 'cluster-1', '--network', 'network-1', '--api-tls'], { env: { BOWLINE_HOME: home } });
  children.push(cp);
  await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 30_000, what: () => `bowline up:\n${cp.output()}` });
  const ports = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; push: number };
  api = `https://127.0.0.1:${ports.api}`;
  const kc = await runBowline(['kubeconfig', '--server', api, '--file', join(home, 'bowline.kubeconfig')], { env: { BOWLINE_HOME: home } });
  if (kc.code !== 0) throw new Error(kc.out + kc.err);
  const clientPorts = join(home, 'client.ports.json');
  const client = startBowline(['proxy', '--server', `127.0.0.1:${ports.push}`, '--name', 'client', '--labels', 'app=client', '--outbound-port', 'auto', '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', clientPorts]);
  children.push(client);
  outbound = (await waitFor(() => (readPortsFile(clientPorts, ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners?.outbound, { timeoutMs: 20_000, what: () => `client proxy:\n${client.output()}` }))!;
}, 150_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  await kube?.stop();
});

describe.skipIf(!canRun)('bowline cluster add --kubeconfig: a Kubernetes API as a remote cluster', () => {
  it("adds the remote as Istio's remote secret and routes to its Pods", async () => {
    expect((await call(outbound, URL_HELLO)).status).not.toBe(200); // nothing local serves hello
    const add = await bowline(['cluster', 'add', 'kube-1', '--kubeconfig', remoteKubeconfig, '--network', 'network-1']);
    expect(add.code, add.out + add.err).toBe(0);
    expect(add.out).toContain('cluster kube-1 added (Secret istio-system/istio-remote-secret-kube-1)');
    const got = await kubectl(['get', 'secret', '-n', 'istio-system', 'istio-remote-secret-kube-1', '-o', 'json']);
    expect(got.code, got.out).toBe(0);
    const secret = JSON.parse(got.out) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
    expect(secret.metadata.labels).toMatchObject({ 'istio/multiCluster': 'true' });
    expect(secret.metadata.annotations).toMatchObject({ 'networking.istio.io/cluster': 'kube-1', 'topology.istio.io/network': 'network-1' });

    await waitFor(async () => /kube-1\s+kubernetes\s+https:\/\/127\.0\.0\.1:\d+\s+synced\s+\d+\s+1\b/.test(await listLine()), { timeoutMs: 60_000, what: `kube-1 synced with 1 endpoint: ${await listLine()}` });
    const pod = await waitFor(async () => { const r = await call(outbound, URL_HELLO); return r.status === 200 ? r.body : undefined; }, { timeoutMs: 20_000, what: 'hello answered through the client proxy' });
    expect(pod).toMatch(/^hello-/);
    const z = await apiGet<{ endpoints: Record<string, Array<{ address: string; cluster?: string; network?: string }>> }>('/debug/registryz');
    const eps = Object.entries(z.endpoints).find(([k]) => k.includes('hello.default.svc.cluster.local'))?.[1] ?? [];
    expect(eps).toEqual([expect.objectContaining({ address: expect.stringMatching(/^10\.244\./), cluster: 'kube-1', network: 'network-1' })]);
  }, 90_000);

  it('follows the remote: a scale-up reaches the proxy', async () => {
    await kube.api.mergePatch('/apis/apps/v1/namespaces/default/deployments/hello', { spec: { replicas: 2 } });
    await waitFor(async () => (await podNames(12)).size === 2, { timeoutMs: 60_000, intervalMs: 300, what: 'both hello pods answering' });
    expect([...(await podNames(12))].every((n) => n.startsWith('hello-'))).toBe(true);
  }, 90_000);

  it('an unreachable apiserver: cluster list shows it with its error, traffic keeps the last endpoints, and it syncs again when back', async () => {
    await kube.stopApiserver();
    await waitFor(async () => /kube-1\s+kubernetes\s+\S+\s+unreachable/.test(await listLine()), { timeoutMs: 60_000, what: `kube-1 unreachable: ${await listLine()}` });
    const json = JSON.parse((await bowline(['cluster', 'list', '-o', 'json'])).out) as Array<{ name: string; error?: string }>;
    expect(json.find((c) => c.name === 'kube-1')?.error).toBeTruthy();
    const during = await answers(10);
    expect(during.filter((a) => a.startsWith('status'))).toEqual([]);
    await kube.restartApiserver();
    await waitFor(async () => /kube-1\s+kubernetes\s+\S+\s+synced\s+\d+\s+2\b/.test(await listLine()), { timeoutMs: 60_000, what: `kube-1 synced again: ${await listLine()}` });
  }, 150_000);

  it('cluster remove drops its endpoints; the same remote secret applied with kubectl brings them back', async () => {
    expect((await bowline(['cluster', 'remove', 'kube-1'])).code).toBe(0);
    await waitFor(async () => (await call(outbound, URL_HELLO)).status !== 200, { timeoutMs: 20_000, what: 'hello gone after remove' });
    // An Istio remote secret as `istioctl create-remote-secret` writes it (no Bowline annotation: a Kubernetes API).
    const secretYaml = `apiVersion: v1
kind: Secret
metadata:
  name: istio-remote-secret-kube-1
  namespace: istio-system
  labels: {istio/multiCluster: "true"}
  annotations: {networking.istio.io/cluster: kube-1, topology.istio.io/network: network-1}
type: Opaque
stringData:
  kube-1: |
${readFileSync(remoteKubeconfig, 'utf8').split('\n').map((l) => `    ${l}`).join('\n')}
`;
    writeFileSync(join(home, 'remote-secret.yaml'), secretYaml);
    const applied = await kubectl(['apply', '-f', join(home, 'remote-secret.yaml')]);
    expect(applied.code, applied.out).toBe(0);
    await waitFor(async () => /kube-1\s+kubernetes\s+\S+\s+synced\s+\d+\s+2\b/.test(await listLine()), { timeoutMs: 60_000, what: `kube-1 synced from the kubectl-applied Secret: ${await listLine()}` });
    await waitFor(async () => (await podNames(6)).size === 2, { timeoutMs: 20_000, what: 'both pods answering again' });
  }, 90_000);
});
