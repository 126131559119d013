// Bowline's admission webhooks called by a real kube-apiserver (test/support/kube-cluster.ts), as a
// user drives it with kubectl: `bowline install kubernetes | kubectl apply -f -` is accepted (the
// control plane's own Deployment cannot run here: no kubelet for it; `bowline up` runs beside the
// cluster instead, reached by URL as the install values base.validationURL / istiodRemote.injectionURL
// allow), the control plane writes its CA into the webhook configurations' caBundle, invalid Istio
// YAML is refused with Bowline's text, pods in a namespace labelled istio-injection=enabled are stored
// with the sidecar (Pods created by kubectl and by the ReplicaSet controller alike), `bowline
// kube-inject | kubectl apply` works with webhooks off for that namespace, and uninstall removes it all.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import type { KubeObject } from '../support/kube-api.js';
import { kubeBinariesBuilt, kubeBinDir, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { repoRoot, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

let kube: KubeCluster;
let cp: Child;
let tmp: string;
let webhookPort: number;
let installArgs: string[];

/** Runs a command with optional stdin; resolves to its exit code and output (never throws on exit codes). */
function run(cmd: string, args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? 1, out, err }));
    p.stdin.end(stdin ?? '');
  });
}
const kubectl = (args: string[], stdin?: string) => run(join(kubeBinDir(), 'kubectl'), ['--kubeconfig', kube.kubeconfig, ...args], stdin);
const bowline = (args: string[], stdin?: string) => run(process.execPath, [join(repoRoot, 'bin/bowline'), ...args], stdin);

beforeAll(async () => {
  if (!kubeBinariesBuilt()) throw new Error('run `bash test/kube/build.sh` first (scripts/test.sh does)');
  kube = await startKubeCluster();
  tmp = tempDir('bk-webhooks-');
  const portsFile = join(tmp, 'ports.json');
  cp = startBowline(['up', '--home', join(tmp, 'home'), '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0',
    '--listen-webhook', '127.0.0.1:0', '--kubeconfig', kube.kubeconfig, '--inject-image', 'bowline/bowline:e2e', '--ports-file', portsFile,
    '--inject-identity', 'minted']); // the DC/OS seed's way (no service-account tokens); kube-bookinfo covers the projected token
  const ports = (await waitFor(() => readPortsFile(portsFile, ['api', 'webhook']), { timeoutMs: 30_000, what: () => `control plane ports (${cp.output()})` }))!;
  webhookPort = ports['webhook']!;
  installArgs = ['install', 'kubernetes', '--set', `base.validationURL=https://127.0.0.1:${webhookPort}/validate`, '--set', `istiodRemote.injectionURL=https://127.0.0.1:${webhookPort}/inject`];
}, 120_000);

afterAll(async () => {
  await cp?.stop();
  await kube?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const get = <T = KubeObject>(path: string) => kube.api.call<T>('GET', path);
const podsOf = async (ns: string, selector: string) => (await get<{ items: KubeObject[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
const names = (objs: Array<{ name?: string }>) => objs.map((c) => c.name);

describe('webhooks called by a real kube-apiserver', () => {
  it('`bowline install kubernetes | kubectl apply -f -` is accepted, and the control plane writes its CA into both webhook configurations', async () => {
    const manifests = await bowline(installArgs);
    expect(manifests.code, manifests.err).toBe(0);
    const applied = await kubectl(['apply', '-f', '-'], manifests.out);
    expect(applied.code, applied.err + applied.out).toBe(0);
    for (const line of ['namespace/istio-system created', 'customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io created',
      'deployment.apps/bowline created', 'service/istio-ingressgateway created', 'validatingwebhookconfiguration.admissionregistration.k8s.io/bowline-validator-istio-system created',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/bowline-sidecar-injector created']) expect(applied.out).toContain(line);
    // The EKS seed's command for the gateway's port works on our Service.
    const port = await kubectl(['-n', 'istio-system', 'get', 'service', 'istio-ingressgateway', '-o', 'jsonpath={.spec.ports[?(@.name=="http2")].port}']);
    expect(port.out).toBe('80');
    const bundles = await waitFor(async () => {
      const v = await get<{ webhooks: Array<{ clientConfig: { caBundle?: string } }> }>('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/bowline-validator-istio-system');
      const m = await get<{ webhooks: Array<{ clientConfig: { caBundle?: string } }> }>('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/bowline-sidecar-injector');
      const all = [...v.webhooks, ...m.webhooks].map((w) => w.clientConfig.caBundle ?? '');
      return all.every((b) => b !== '') ? all : undefined;
    }, { timeoutMs: 20_000, what: () => `caBundle patched (${cp.output().slice(-2000)})` });
    expect(new Set(bundles).size).toBe(1);
    expect(Buffer.from(bundles![0]!, 'base64').toString()).toContain('-----BEGIN CERTIFICATE-----');
    // The ingress gateway's join token: written by the control plane into the Secret its Deployment mounts.
    const secret = await waitFor(async () => (await kube.api.raw('GET', '/api/v1/namespaces/istio-system/secrets/bowline-join-istio-ingressgateway')).status === 200
      ? await get<{ data: { token: string } }>('/api/v1/namespaces/istio-system/secrets/bowline-join-istio-ingressgateway') : undefined, { timeoutMs: 25_000, what: () => `gateway join Secret (${cp.output().slice(-1500)})` });
    const token = Buffer.from(secret!.data.token, 'base64').toString();
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ ns: 'istio-system', sa: 'istio-ingressgateway', max: 10_000 });
    // The CRDs were established by the apiserver (Bowline's schemas are structural).
    await waitFor(async () => (await get<KubeObject>('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io')).status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True'), { timeoutMs: 20_000, what: 'CRD established' });
  }, 60_000);

  it('refuses invalid Istio YAML applied with kubectl with Bowline\'s violation text, and accepts the valid one', async () => {
    // A regex RE2 cannot compile: the CRD's OpenAPI schema lets it through, Bowline's validator does not.
    const vs = (regex: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts: [reviews]
  http:
    - match:
        - uri:
            regex: "${regex}"
      route:
        - destination: {host: reviews, subset: v1}
`;
    const bad = join(tmp, 'bad-vs.yaml');
    writeFileSync(bad, vs('(a'));
    let last = '';
    const refused = await waitFor(async () => {
      const r = await kubectl(['apply', '-f', bad]);
      last = r.err + r.out;
      return r.err.includes('denied the request') ? r : undefined; // until the apiserver trusts the patched bundle
    }, { timeoutMs: 20_000, intervalMs: 500, what: 'the validating webhook answering' }).catch((e: Error) => { throw new Error(`${e.message}; kubectl said: ${last}`); });
    expect(refused!.code).toBe(1);
    expect(refused!.err).toContain('admission webhook "validation.istio.io" denied the request: VirtualService default/reviews is invalid: BOWLINE_E_API_REGEX spec.http[0].match[0].uri.regex: regex "(a" is not valid RE2');
    const good = join(tmp, 'good-vs.yaml');
    writeFileSync(good, vs('/reviews/[0-9]+'));
    const ok = await kubectl(['apply', '-f', good]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('virtualservice.networking.istio.io/reviews created');
    expect((await kubectl(['apply', '-f', join(repoRoot, 'samples/networking/destination-rule-all.yaml')])).code).toBe(0);
  }, 60_000);

  it('stores pods of a namespace labelled istio-injection=enabled with the sidecar, from kubectl and from the ReplicaSet controller', async () => {
    expect((await kubectl(['label', 'namespace', 'default', 'istio-injection=enabled'])).code).toBe(0);
    const applied = await kubectl(['apply', '-f', join(repoRoot, 'samples/kubernetes/bookinfo.yaml')]);
    expect(applied.code, applied.err).toBe(0);
    const pods = (await waitFor(async () => { const p = await podsOf('default', 'app'); return p.length === 6 ? p : undefined; }, { timeoutMs: 30_000, what: 'six Bookinfo pods from the Deployments' }))!;
    for (const pod of pods) {
      expect(names(pod.spec.containers)[0], pod.metadata.name).toBe('istio-proxy');
      expect(names(pod.spec.initContainers)).toEqual(['istio-init']);
      const status = JSON.parse(pod.metadata.annotations!['sidecar.istio.io/status']!) as { containers: string[] };
      expect(status.containers).toEqual(['istio-proxy']);
      // A token minted for this pod's identity, delivered as a file from its own annotation.
      const claims = JSON.parse(Buffer.from(pod.metadata.annotations!['bowline.io/bootstrap-token']!.split('.')[1]!, 'base64url').toString()) as { ns: string; sa: string };
      expect(claims).toMatchObject({ ns: 'default', sa: pod.spec.serviceAccountName });
      const app = pod.spec.containers.find((c: { name: string }) => c.name !== 'istio-proxy');
      expect(app.readinessProbe.httpGet).toEqual({ path: `/app-health/${app.name}/readyz`, port: 15021, scheme: 'HTTP' });
    }
    // Opting out still works in a labelled namespace.
    const optOut = await kubectl(['run', 'plain', '--image', 'x', '--labels', 'sidecar.istio.io/inject=false', '--restart', 'Never']);
    expect(optOut.code, optOut.err).toBe(0);
    expect(names((await get<KubeObject>('/api/v1/namespaces/default/pods/plain')).spec.containers)).toEqual(['plain']);
  }, 90_000);

  it('refuses a pod whose injection fails (failurePolicy Fail) with the reason', async () => {
    const pod = join(tmp, 'bad-pod.yaml');
    writeFileSync(pod, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: badprobe\nspec:\n  containers:\n    - name: web\n      image: x\n      readinessProbe:\n        httpGet: {path: /, port: admin}\n');
    const r = await kubectl(['apply', '-f', pod]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('denied the request: bowline sidecar injection failed for pod default/badprobe: container "web" readinessProbe: port "admin" names no port');
  });

  it('`bowline kube-inject -f bookinfo.yaml | kubectl apply -f -` in a namespace without injection', async () => {
    expect((await kubectl(['create', 'namespace', 'plain'])).code).toBe(0);
    const injected = await bowline(['kube-inject', '-f', 'samples/kubernetes/bookinfo.yaml', '--image', 'bowline/bowline:e2e']);
    expect(injected.code, injected.err).toBe(0);
    const r = await kubectl(['apply', '-n', 'plain', '-f', '-'], injected.out);
    expect(r.code, r.err).toBe(0);
    const pods = (await waitFor(async () => { const p = await podsOf('plain', 'app'); return p.length === 6 ? p : undefined; }, { timeoutMs: 30_000, what: 'six pods in plain' }))!;
    for (const pod of pods) {
      expect(names(pod.spec.containers)[0]).toBe('istio-proxy');
      expect(pod.metadata.annotations?.['bowline.io/bootstrap-token']).toBeUndefined(); // not the webhook's doing
      expect(pod.spec.volumes.find((v: { name: string }) => v.name === 'bowline-join')).toMatchObject({ name: 'bowline-join', secret: { secretName: `bowline-join-${pod.spec.serviceAccountName}` } });
    }
    // Applying kube-inject's output again changes nothing.
    const again = await kubectl(['apply', '-n', 'plain', '-f', '-'], (await bowline(['kube-inject', '-f', '-', '--image', 'bowline/bowline:e2e'], injected.out)).out);
    expect(again.out.split('\n').filter(Boolean).every((l) => l.endsWith(' unchanged')), again.out).toBe(true);
  }, 60_000);

  it('uninstalls with `bowline install kubernetes | kubectl delete -f -`', async () => {
    const manifests = await bowline(installArgs);
    const r = await kubectl(['delete', '--wait=false', '-f', '-'], manifests.out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('validatingwebhookconfiguration.admissionregistration.k8s.io "bowline-validator-istio-system" deleted');
    const left = await kubectl(['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations', '-o', 'name']);
    expect(left.out).not.toContain('bowline');
  }, 60_000);
});
