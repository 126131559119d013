// Remote discovery (issue 16 item 4), on loopback: cluster-1 reads cluster-2's registry view after
// `bowline cluster add cluster-2 --server URL --token FILE` (a registry-read token), with no
// hand-written ServiceEntry; greeter's calls to messenger.default.svc.cluster.local go to cluster-2's
// east-west gateway (the only address cluster-1 gets for network-2), mTLS end to end. A control
// plane under another root is refused by `cluster add`, naming both roots, and shown refused by
// `cluster list` when its Secret is applied anyway; so is a control plane under the same root but of
// another mesh id (`bowline up --mesh-id`), naming both ids, and nothing of it is merged; killing cluster-2's control plane keeps the
// traffic on the last endpoints. (test/e2e/multicluster-clouds*.test.ts does the same across network
// namespaces where only the gateways are reachable.)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runBowline } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { call, settle, type Sidecar } from './mesh-harness.js';
import { ClusterMesh, sharedRoot } from './multicluster-harness.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('bowline-e2e-mc-disc-');
const one = new ClusterMesh();
const two = new ClusterMesh();
const stranger = new ClusterMesh();
const otherMesh = new ClusterMesh();
let greeter: Sidecar;
let gatewayPort = 0;
let messengerInbound = 0;
const url = 'http://messenger.default.svc.cluster.local:8080/hello';

/** A registry-read API token of `mesh`, written to a file. */
async function readerToken(mesh: ClusterMesh, name: string): Promise<string> {
  const r = await mesh.cli(['api-token', 'create', '--scope', 'registry-read', name]);
  if (r.code !== 0) throw new Error(r.out);
  const file = join(dir, `${name}.token`);
  writeFileSync(file, r.out.split('\n').find((l) => l.startsWith('bat_'))!.trim() + '\n');
  return file;
}

/** `bowline cluster ARGS` against `mesh` (its API from BOWLINE_SERVER: --server names the remote). */
function cluster(mesh: ClusterMesh, args: string[]) {
  return runBowline(['cluster', ...args], { env: { BOWLINE_HOME: mesh.home, BOWLINE_SERVER: mesh.api } });
}

beforeAll(async () => {
  const cacerts = await sharedRoot(dir, ['cluster-1', 'cluster-2', 'cluster-3']);
  await Promise.all([
    one.up(['--ca-certs-dir', cacerts['cluster-1']!, '--cluster', 'cluster-1', '--network', 'network-1']),
    two.up(['--ca-certs-dir', cacerts['cluster-2']!, '--cluster', 'cluster-2', '--network', 'network-2']),
    stranger.up(['--cluster', 'cluster-9', '--network', 'network-9']),
    otherMesh.up(['--ca-certs-dir', cacerts['cluster-3']!, '--cluster', 'cluster-3', '--network', 'network-3', '--mesh-id', 'other-mesh']),
  ]);
  const r = await two.cli(['apply', '-f', join(repoRoot, 'samples/multicluster/expose-services.yaml')]);
  expect(r.code, r.out).toBe(0);
  messengerInbound = (await two.sidecar('messenger', 'default', 'messenger', 8080)).inbound;
  gatewayPort = (await two.eastWestGateway('network-2')).port;
  greeter = await one.sidecar('greeter', 'default', 'greeter', 9080);
}, 90_000);

afterAll(async () => {
  await Promise.all([one.down(), two.down(), stranger.down(), otherMesh.down()]);
});

describe('bowline cluster add: remote discovery', () => {
  it('serves the registry view to a registry-read token only', async () => {
    const token = readFileSync(await readerToken(two, 'probe'), 'utf8').trim();
    const ok = await fetch(`${two.api}/v1/registry`, { headers: { authorization: `Bearer ${token}` } });
    const view = (await ok.json()) as { cluster: string; network: string; endpoints: Array<{ address: string; network: string }>; gateways: Array<{ ports?: Record<string, number> }> };
    expect(view).toMatchObject({ cluster: 'cluster-2', network: 'network-2' });
    expect(view.endpoints).toEqual([expect.objectContaining({ network: 'network-2', port: messengerInbound })]);
    expect(view.gateways).toEqual([expect.objectContaining({ ports: expect.objectContaining({ 15443: gatewayPort }) })]);
    // The same token cannot write config.
    const write = await fetch(`${two.api}/apis/networking.istio.io/v1/namespaces/default/serviceentries`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(write.status).toBe(403);
  });

  it("greeter reaches cluster-2's messenger through its east-west gateway, mTLS end to end, with no ServiceEntry", async () => {
    const token = await readerToken(two, 'cluster-1-reader');
    const add = await cluster(one, ['add', 'cluster-2', '--server', two.api, '--token', token]);
    expect(add.code, add.out + add.err).toBe(0);
    expect(add.err).toContain('answers as cluster cluster-2 on network network-2');
    await settle(greeter.outbound, url, 200);
    expect((await call(greeter.outbound, url)).body).toBe('messenger saw spiffe://cluster.local/ns/default/sa/greeter');
    // The only address greeter's sidecar has for messenger is the gateway's (never messenger's own inbound port).
    const eps = await one.cli(['proxy-config', 'greeter.default', 'endpoints', '-o', 'json']);
    expect(eps.out).toContain(`"port": ${gatewayPort}`);
    expect(eps.out).not.toContain(`"port": ${messengerInbound}`);
    const list = await cluster(one, ['list']);
    expect(list.out).toMatch(/cluster-2\s+bowline\s+\S+\s+synced\s+1\s+1/);
  }, 60_000);

  it('a control plane under another root is refused, naming both roots', async () => {
    const token = await readerToken(stranger, 'reader');
    const add = await cluster(one, ['add', 'cluster-9', '--server', stranger.api, '--token', token]);
    expect(add.code).toBe(1);
    expect(add.err).toMatch(/BOWLINE_E_CA_ROOT_MISMATCH: cluster cluster-9 trusts root .*but this mesh's root is/);
    const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
    expect(add.err).toContain(fp(readFileSync(join(dir, 'root', 'root-cert.pem'), 'utf8')));
    // Created anyway through the Kubernetes-style API (what kubectl apply sends): the control plane refuses it and says why.
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${stranger.api}"}}]
users: [{name: c, user: {token: "${readFileSync(token, 'utf8').trim()}"}}]
contexts: [{name: c, context: {cluster: c, user: c}}]
current-context: c
`;
    const secret = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'istio-remote-secret-cluster-9', namespace: 'istio-system', labels: { 'istio/multiCluster': 'true' }, annotations: { 'bowline.io/remote-kind': 'bowline' } }, stringData: { 'cluster-9': kubeconfig } };
    const created = await fetch(`${one.api}/api/v1/namespaces/istio-system/secrets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(secret) });
    expect(created.status, await created.text()).toBe(201);
    await waitFor(async () => /cluster-9\s+bowline\s+\S+\s+refused/.test((await cluster(one, ['list'])).out), { timeoutMs: 20_000, what: 'cluster-9 refused' });
    expect((await cluster(one, ['list', '-o', 'json'])).out).toContain('BOWLINE_E_CA_ROOT_MISMATCH');
    expect((await call(greeter.outbound, url)).status).toBe(200);
    const rm = await cluster(one, ['remove', 'cluster-9']);
    expect(rm.code, rm.err).toBe(0);
    expect((await cluster(one, ['remove', 'cluster-9'])).err).toContain('BOWLINE_E_CLUSTER_NOT_FOUND');
  }, 60_000);

  it('a control plane of another mesh id is refused, naming both ids; applied anyway, the control plane refuses it too and merges nothing', async () => {
    const other = await otherMesh.sidecar('messenger', 'default', 'messenger', 8080);
    const token = await readerToken(otherMesh, 'other-reader');
    const add = await cluster(one, ['add', 'cluster-3', '--server', otherMesh.api, '--token', token]);
    expect(add.code).toBe(1);
    expect(add.err).toContain('BOWLINE_E_CLUSTER_MESH_ID_MISMATCH: cluster cluster-3 is in mesh "other-mesh", but this control plane\'s mesh id is "cluster.local"');
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${otherMesh.api}"}}]
users: [{name: c, user: {token: "${readFileSync(token, 'utf8').trim()}"}}]
contexts: [{name: c, context: {cluster: c, user: c}}]
current-context: c
`;
    const secret = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'istio-remote-secret-cluster-3', namespace: 'istio-system', labels: { 'istio/multiCluster': 'true' }, annotations: { 'bowline.io/remote-kind': 'bowline' } }, stringData: { 'cluster-3': kubeconfig } };
    const created = await fetch(`${one.api}/api/v1/namespaces/istio-system/secrets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(secret) });
    expect(created.status, await created.text()).toBe(201);
    await waitFor(async () => /cluster-3\s+bowline\s+\S+\s+refused/.test((await cluster(one, ['list'])).out), { timeoutMs: 20_000, what: 'cluster-3 refused' });
    const listed = JSON.parse((await cluster(one, ['list', '-o', 'json'])).out) as Array<{ name: string; error?: string; endpoints: number }>;
    // The other mesh serves a messenger endpoint (its sidecar is up); none of it is merged.
    expect(other.inbound).toBeGreaterThan(0);
    expect(listed.find((c) => c.name === 'cluster-3')).toMatchObject({ endpoints: 0, error: expect.stringContaining('"other-mesh"') });
    expect((await cluster(one, ['remove', 'cluster-3'])).code).toBe(0);
  }, 60_000);

  it("a remote control plane killed: traffic keeps flowing on its last endpoints, and list shows it unreachable", async () => {
    const killed = new Promise((r) => two.cp!.proc.once('exit', r));
    two.cp!.proc.kill('SIGKILL');
    await killed;
    await waitFor(async () => /cluster-2\s+bowline\s+\S+\s+unreachable/.test((await cluster(one, ['list'])).out), { timeoutMs: 30_000, what: 'cluster-2 unreachable' });
    for (let i = 0; i < 20; i++) expect((await call(greeter.outbound, url)).body).toBe('messenger saw spiffe://cluster.local/ns/default/sa/greeter');
  }, 60_000);
});
