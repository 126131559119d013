// `bowline up --config-source kubernetes` against a real kube-apiserver, with two control-plane
// replicas: Istio's CRDs are installed from Bowline's schemas, Istio YAML written to the apiserver is
// the mesh's config, Bowline's own state (the CA) lives in Secrets of istio-system so both replicas
// sign under one root, one replica holds the coordination.k8s.io Lease, writes resource status (once
// per change) and patches the webhook configuration's caBundle; when it is killed, the other takes
// the Lease over and does both from then on.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCsr } from '../../src/ca/testing/csr.js';
import { VALIDATING_WEBHOOK } from '../../src/platform/kubernetes/names.js';
import { kubeBinariesBuilt, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { startBowline, type Child } from '../support/process.js';
import { waitFor, waitForOutput } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

let kube: KubeCluster;
const dir = tempDir('bowline-e2e-kcs-');
const replicas: Array<{ name: string; child: Child; api: string }> = [];
/** The key-encryption key every replica mounts (in a cluster: one Secret mounted by every pod). */
const kekFile = join(dir, 'ca-kek');

/** Starts replica NAME: its own home (admin token, ports), the shared apiserver as the store, the validating webhook. */
async function replica(name: string): Promise<{ name: string; child: Child; api: string }> {
  const home = join(dir, name);
  const ports = join(dir, `${name}.ports.json`);
  const child = startBowline(['up', '--config-source', 'kubernetes', '--kubeconfig', kube.kubeconfig, '--home', home, '--replica-id', name, '--ca-kek-file', kekFile,
    '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--listen-webhook', '127.0.0.1:0', '--webhooks', 'validate', '--ports-file', ports],
  { env: { BOWLINE_HOME: home, BOWLINE_LEADER_LEASE_MS: '3000' } });
  const exited = new Promise<never>((_, reject) => child.proc.once('exit', (code) => reject(new Error(`replica ${name} exited with ${code}:\n${child.output()}`))));
  await Promise.race([exited, waitFor(() => child.output().includes('control plane ready'), { timeoutMs: 120_000, what: () => `replica ${name} ready:\n${child.output()}` })]);
  const r = { name, child, api: `http://127.0.0.1:${(JSON.parse(readFileSync(ports, 'utf8')) as { api: number }).api}` };
  replicas.push(r);
  return r;
}

const vsPath = (name = '') => `/apis/networking.istio.io/v1/namespaces/default/virtualservices${name ? `/${name}` : ''}`;
/** A VirtualService whose delegate does not exist: the mesh reports it in the status. */
const brokenVs = (name: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: [`${name}.example`], http: [{ delegate: { name: 'missing', namespace: 'default' } }] } });
const holder = async () => (await kube.api.get<{ spec: { holderIdentity?: string } }>('/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/bowline-leader'))?.spec.holderIdentity;
type Vs = { metadata: { managedFields?: Array<{ manager: string; subresource?: string }> }; status?: { validationMessages?: unknown[] } };
const statusOf = async (name: string) => (await kube.api.get<Vs>(vsPath(name)))?.status;
const writes = (name: string) => replicas.map((r) => r.child.output().split('\n').filter((l) => l.includes(`status: wrote the status of VirtualService default/${name} `)).length).reduce((a, b) => a + b, 0);
const webhookPath = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${VALIDATING_WEBHOOK}`;
const caBundle = async () => (await kube.api.get<{ webhooks: Array<{ clientConfig: { caBundle?: string } }> }>(webhookPath))?.webhooks[0]?.clientConfig.caBundle ?? '';

beforeAll(async () => {
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  kube = await startKubeCluster();
  writeFileSync(kekFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  // The webhook configuration as the install manifests leave it: no caBundle (the control plane writes it). Its rule
  // names a group nothing here writes, so that the webhook itself stays out of this test's way.
  await kube.api.create('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: VALIDATING_WEBHOOK },
    webhooks: [{ name: 'validation.istio.io', clientConfig: { url: 'https://127.0.0.1:9/validate' }, rules: [{ operations: ['CREATE'], apiGroups: ['unused.bowline.test'], apiVersions: ['*'], resources: ['*'] }], failurePolicy: 'Ignore', sideEffects: 'None', admissionReviewVersions: ['v1'] }],
  });
  await replica('a');
  await replica('b');
}, 300_000);

afterAll(async () => {
  for (const r of replicas) await r.child.stop();
  await kube?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('config source kubernetes', () => {
  it('installs the Istio CRDs and keeps the CA in Secrets of istio-system: both replicas sign under one root', async () => {
    expect(await kube.api.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io')).toBeDefined();
    expect(await kube.api.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/authorizationpolicies.security.istio.io')).toBeDefined();
    const secrets = await kube.api.call<{ items: Array<{ metadata: { annotations: Record<string, string> } }> }>('GET', '/api/v1/namespaces/istio-system/secrets?labelSelector=bowline.io%2Fraw');
    expect(secrets.items.map((s) => s.metadata.annotations['bowline.io/key'])).toContain('ca/state');
    const [a, b] = await Promise.all(replicas.map(async (r) => ((await (await fetch(`${r.api}/v1/ca/trust-bundle`)).json()) as { rootHash: string }).rootHash));
    expect(a).toMatch(/^sha256:/);
    expect(b).toBe(a);
  });

  it('serves Istio YAML written to the apiserver as its config, and Bowline API writes land in the apiserver', async () => {
    await kube.api.create(vsPath(), { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] } });
    for (const r of replicas) await waitFor(async () => (await fetch(`${r.api}${vsPath('reviews')}`)).status === 200, { what: `replica ${r.name} sees the VirtualService` });
    const viaBowline = await fetch(`${replicas[1]!.api}${vsPath()}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'ratings', namespace: 'default' }, spec: { hosts: ['ratings'], http: [{ route: [{ destination: { host: 'ratings' } }] }] } }) });
    expect(viaBowline.status).toBe(201);
    expect((await kube.api.get<{ spec: { hosts: string[] } }>(vsPath('ratings')))?.spec.hosts).toEqual(['ratings']);
  });

  it('a projected service-account token of audience istio-ca is exchanged for the workload certificate (TokenReview); another audience is refused', async () => {
    await kube.api.create('/api/v1/namespaces/default/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bookinfo-ratings', namespace: 'default' } }).catch(() => {});
    const tokenFor = async (audiences?: string[]) => (await kube.api.call<{ status: { token: string } }>('POST', '/api/v1/namespaces/default/serviceaccounts/bookinfo-ratings/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600, ...(audiences ? { audiences } : {}) } })).status.token;
    const id = 'spiffe://cluster.local/ns/default/sa/bookinfo-ratings';
    const { csrPem } = await makeCsr({ uris: [id] });
    const ask = async (token: string) => fetch(`${replicas[0]!.api}/v1/ca/certificates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csr: csrPem, token }) });
    const ok = await ask(await tokenFor(['istio-ca']));
    const body = await ok.json() as { spiffeId?: string; certificateChain?: string };
    expect(ok.status, JSON.stringify(body)).toBe(200);
    expect(body.spiffeId).toBe(id);
    expect(body.certificateChain).toContain('-----BEGIN CERTIFICATE-----');
    const wrong = await ask(await tokenFor()); // the apiserver's own audience
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('BOWLINE_E_CA_UNAUTHENTICATED');
  });

  it('one replica leads: it alone patches the caBundle and writes status, once per change', async () => {
    const first = await waitFor(async () => holder(), { what: 'a Lease holder' });
    const leader = replicas.find((r) => r.name === first)!;
    const other = replicas.find((r) => r.name !== first)!;
    // The replica logs after the apiserver answered its Lease write: wait for the line rather than racing it.
    await waitForOutput(leader.child, `leader election: ${first} is now the leader`, { what: `${first} says it leads` });
    expect(other.child.output()).not.toContain('is now the leader');

    const bundle = Buffer.from(((await (await fetch(`${leader.api}/v1/ca/trust-bundle`)).json()) as { trustBundle: string }).trustBundle).toString('base64');
    await waitFor(async () => (await caBundle()) !== '', { timeoutMs: 20_000, what: () => `the caBundle patched:\n${leader.child.output().slice(-2000)}` });
    // The log line follows the apiserver's answer to the PATCH: wait for it rather than racing it.
    await waitFor(() => leader.child.output().includes(`webhooks: caBundle of ${VALIDATING_WEBHOOK} set to the CA's trust bundle`), { what: `${leader.name} logs the caBundle patch` });
    expect(other.child.output()).not.toContain(`caBundle of ${VALIDATING_WEBHOOK} set`);
    expect(Buffer.from(bundle, 'base64').toString()).toContain('-----BEGIN CERTIFICATE-----');
    expect(await caBundle()).toBe(bundle);

    await kube.api.create(vsPath(), brokenVs('before'));
    await waitFor(async () => ((await statusOf('before'))?.validationMessages ?? []).length > 0, { timeoutMs: 20_000, what: () => `the status of VirtualService before:\n${leader.child.output().slice(-3000)}` });
    // Another change makes new snapshots on both replicas: the settled status of `before` is not written again.
    await kube.api.create(vsPath(), brokenVs('later'));
    await waitFor(async () => ((await statusOf('later'))?.validationMessages ?? []).length > 0, { timeoutMs: 20_000, what: 'the status of VirtualService later' });
    expect(writes('before')).toBe(1);
    const managers = (await kube.api.get<Vs>(vsPath('before')))!.metadata.managedFields!.filter((f) => f.subresource === 'status').map((f) => f.manager);
    expect(managers).toEqual([`bowline-${leader.name}`]);
  });

  it('the leader SIGKILLed: the other takes the Lease over, patches the caBundle and writes status', async () => {
    const leader = replicas.find((r) => r.child.output().includes(`leader election: ${r.name} is now the leader`))!;
    const other = replicas.find((r) => r !== leader)!;
    leader.child.proc.kill('SIGKILL');
    await waitFor(async () => (await holder()) === other.name, { timeoutMs: 20_000, what: () => `${other.name} takes the Lease over:\n${other.child.output().slice(-2000)}` });
    await waitFor(() => other.child.output().includes(`leader election: ${other.name} is now the leader`), { what: `${other.name} says it leads` });

    // Someone re-applies the webhook configuration without a caBundle: the new leader writes it again.
    await kube.api.call('PATCH', webhookPath, [{ op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: '' }], 'application/json-patch+json');
    await waitFor(async () => (await caBundle()) !== '', { timeoutMs: 20_000, what: () => `the caBundle patched by ${other.name}:\n${other.child.output().slice(-2000)}` });
    await waitFor(() => other.child.output().includes(`webhooks: caBundle of ${VALIDATING_WEBHOOK} set to the CA's trust bundle`), { what: `${other.name} logs the caBundle patch` });

    await kube.api.create(vsPath(), brokenVs('after'));
    await waitFor(async () => ((await statusOf('after'))?.validationMessages ?? []).length > 0, { timeoutMs: 20_000, what: () => `the status of VirtualService after, written by the new leader:\n${other.child.output().slice(-2000)}` });
    const managers = (await kube.api.get<Vs>(vsPath('after')))!.metadata.managedFields!.filter((f) => f.subresource === 'status').map((f) => f.manager);
    expect(managers).toEqual([`bowline-${other.name}`]);
    expect(writes('before')).toBe(1);
  });
});
