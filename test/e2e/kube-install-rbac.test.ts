// The RBAC of `bowline install kubernetes` is enough for the control plane it installs: after
// `bowline install kubernetes | kubectl apply -f -` against a real kube-apiserver, `bowline up
// --config-source kubernetes` runs with a kubeconfig holding only the token of the installed
// ServiceAccount istio-system/bowline (the DC/OS seed's hand-made kubeconfig with a token, issue 15
// item 6): it opens its store (root namespace, Istio's CRDs), keeps the CA and the KEK in Secrets,
// takes the leader Lease, follows Istio YAML applied with kubectl and writes its status, and
// exchanges a pod's projected service-account token with a TokenReview.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCsr } from '../../src/ca/testing/csr.js';
import { kubeBinariesBuilt, kubeBinDir, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { startBowline, type Child } from '../support/process.js';
import { waitFor, waitForOutput } from '../support/wait.js';
import { run } from './kube-mesh-harness.js';
import { tempDir } from '../support/temp.js';

let kube: KubeCluster;
let cp: Child | undefined;
let api = '';
const dir = tempDir('bk-install-rbac-');

beforeAll(async () => {
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  kube = await startKubeCluster();
  const manifests = await run(process.execPath, ['bin/bowline', 'install', 'kubernetes', '--set', 'sidecarInjectorWebhook.enabled=false', '--set', 'global.configValidation=false']);
  expect(manifests.code, manifests.err).toBe(0);
  const applied = await run(join(kubeBinDir(), 'kubectl'), ['--kubeconfig', kube.kubeconfig, '--cache-dir', join(dir, 'kubectl-cache'), 'apply', '-f', '-'], manifests.out);
  expect(applied.code, applied.err).toBe(0);
  const sa = kube.writeKubeconfig('bowline-sa', await kube.serviceAccountToken('istio-system', 'bowline'));
  const ports = join(dir, 'ports.json');
  const c = startBowline(['up', '--config-source', 'kubernetes', '--kubeconfig', sa, '--home', join(dir, 'home'), '--replica-id', 'only',
    '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--ports-file', ports]);
  cp = c;
  const exited = new Promise<never>((_, reject) => c.proc.once('exit', (code) => reject(new Error(`bowline up exited with ${code}:\n${c.output()}`))));
  await Promise.race([exited, waitFor(() => c.output().includes('control plane ready'), { timeoutMs: 90_000, what: () => `bowline up ready:\n${c.output()}` })]);
  api = `http://127.0.0.1:${(JSON.parse(readFileSync(ports, 'utf8')) as { api: number }).api}`;
}, 180_000);

afterAll(async () => {
  await cp?.stop();
  await kube?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the install\'s RBAC, used by bowline up --config-source kubernetes with the ServiceAccount\'s token', () => {
  it('starts: CA state and KEK in Secrets of istio-system, the leader Lease taken, no permission refused', async () => {
    // The election's line may reach us after the ready line (another write, another read of the pipe): wait for it.
    await waitForOutput(cp!, 'leader election: only is now the leader');
    expect(cp!.output()).not.toMatch(/forbidden/i);
    expect(await kube.api.get('/api/v1/namespaces/istio-system/secrets/bowline-ca-kek')).toBeDefined();
    const secrets = await kube.api.call<{ items: Array<{ metadata: { annotations: Record<string, string> } }> }>('GET', '/api/v1/namespaces/istio-system/secrets?labelSelector=bowline.io%2Fraw');
    expect(secrets.items.map((s) => s.metadata.annotations['bowline.io/key'])).toEqual(expect.arrayContaining(['ca/state', 'ca/token-key']));
  });

  it('follows a VirtualService applied to the apiserver and writes its status', async () => {
    await kube.api.create('/apis/networking.istio.io/v1/namespaces/default/virtualservices', { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'orphan', namespace: 'default' }, spec: { hosts: ['orphan.example'], http: [{ delegate: { name: 'missing', namespace: 'default' } }] } });
    await waitFor(async () => ((await kube.api.get<{ status?: { validationMessages?: unknown[] } }>('/apis/networking.istio.io/v1/namespaces/default/virtualservices/orphan'))?.status?.validationMessages ?? []).length > 0,
      { timeoutMs: 20_000, what: () => `the status of VirtualService orphan:\n${cp!.output().slice(-2000)}` });
  });

  it('exchanges a projected service-account token of audience istio-ca for a certificate (TokenReview allowed)', async () => {
    await kube.serviceAccountToken('default', 'bookinfo-details'); // creates the account
    const token = (await kube.api.call<{ status: { token: string } }>('POST', '/api/v1/namespaces/default/serviceaccounts/bookinfo-details/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['istio-ca'], expirationSeconds: 600 } })).status.token;
    const { csrPem } = await makeCsr({ uris: ['spiffe://cluster.local/ns/default/sa/bookinfo-details'] });
    const r = await fetch(`${api}/v1/ca/certificates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csr: csrPem, token }) });
    const body = await r.text();
    expect(r.status, body).toBe(200);
    expect((JSON.parse(body) as { spiffeId: string }).spiffeId).toBe('spiffe://cluster.local/ns/default/sa/bookinfo-details');
  });
});
