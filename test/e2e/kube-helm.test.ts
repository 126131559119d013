// charts/bowline with the real helm (built by test/kube/build.sh): `helm template` yields the same
// objects as `bowline install kubernetes` for the same values (compared after parsing), and
// `helm install` into a real kube-apiserver is accepted, then `helm uninstall` removes it. The
// control plane's Deployment cannot run here (no kubelet for it): the apiserver accepting the
// objects is what is checked.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubeBinariesBuilt, kubeBinDir, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { repoRoot } from '../support/process.js';
import { tempDir } from '../support/temp.js';

let kube: KubeCluster | undefined;
let tmp: string;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    // helm keeps its caches and config under the test's directory, never in the user's home.
    const p = spawn(cmd, args, { cwd: repoRoot, env: { ...process.env, HELM_CACHE_HOME: join(tmp, 'cache'), HELM_CONFIG_HOME: join(tmp, 'config'), HELM_DATA_HOME: join(tmp, 'data') } });
    let out = ''; let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? 1, out, err }));
  });
}
const helm = (args: string[]) => run(join(kubeBinDir(), 'helm'), args);
const bowline = (args: string[]) => run(process.execPath, [join(repoRoot, 'bin/bowline'), ...args]);

type Obj = { kind: string; metadata: { name: string; namespace?: string } };
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const objects = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((o) => o !== null).sort((a, b) => key(a).localeCompare(key(b)));

beforeAll(() => {
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  tmp = tempDir('bk-helm-');
});
afterAll(async () => {
  await kube?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const VALUE_SETS: string[][] = [
  [],
  ['global.configValidation=false', 'sidecarInjectorWebhook.enabled=false'],
  ['global.configValidation=false'],
  ['gateways.istio-ingressgateway.enabled=false', 'sidecarInjectorWebhook.enabled=false'],
  ['global.hub=registry.example/mesh', 'global.tag=9.9.9', 'global.imagePullPolicy=Always', 'pilot.replicaCount=2', 'global.caBundle=Zm9v',
    'sidecarInjectorWebhook.nativeSidecar=true', 'sidecarInjectorWebhook.failurePolicy=Ignore', 'gateways.istio-ingressgateway.type=NodePort',
    'gateways.istio-ingressgateway.replicaCount=3', 'meshConfig.trustDomain=example.org',
    'base.validationURL=https://cp.example:15017/validate', 'istiodRemote.injectionURL=https://cp.example:15017/inject'],
];

describe('charts/bowline', () => {
  it.each(VALUE_SETS.map((v) => [v.join(' ') || '(defaults)', v]))('helm template renders the objects bowline install kubernetes prints: %s', async (_name, values) => {
    const sets = (values as string[]).flatMap((v) => ['--set', v]);
    const [h, b] = await Promise.all([helm(['template', 'bowline', 'charts/bowline', '--include-crds', ...sets]), bowline(['install', 'kubernetes', ...sets])]);
    expect(h.code, h.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const fromHelm = objects(h.out);
    const fromCli = objects(b.out);
    expect(fromHelm.map(key)).toEqual(fromCli.map(key));
    for (const [i, o] of fromCli.entries()) expect(fromHelm[i], key(o)).toEqual(o);
  }, 60_000);

  it('helm install into a real kube-apiserver is accepted, and helm uninstall removes it', async () => {
    kube = await startKubeCluster();
    const urls = ['--set', 'base.validationURL=https://127.0.0.1:9/validate', '--set', 'istiodRemote.injectionURL=https://127.0.0.1:9/inject'];
    const r = await helm(['install', 'bowline', 'charts/bowline', '--kubeconfig', kube.kubeconfig, '--namespace', 'default', ...urls]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toContain('STATUS: deployed');
    const svc = await kube.api.call<{ spec: { type: string; ports: Array<{ name: string; port: number }> } }>('GET', '/api/v1/namespaces/istio-system/services/istio-ingressgateway');
    expect(svc.spec.type).toBe('LoadBalancer');
    expect(svc.spec.ports.find((p) => p.name === 'http2')?.port).toBe(80);
    await kube.api.call('GET', '/apis/apps/v1/namespaces/istio-system/deployments/bowline');
    await kube.api.call('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/bowline-sidecar-injector');
    await kube.api.call('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io');
    const u = await helm(['uninstall', 'bowline', '--kubeconfig', kube.kubeconfig, '--namespace', 'default']);
    expect(u.code, u.err).toBe(0);
    const gone = await kube.api.raw('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/bowline-sidecar-injector');
    expect(gone.status).toBe(404);
  }, 120_000);
});
