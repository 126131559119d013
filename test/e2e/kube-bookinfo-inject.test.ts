// Issue 15's acceptance, the EKS seed before admission webhooks were allowed, against a real
// kube-apiserver (test/e2e/kube-mesh-harness.ts): `bowline install kubernetes --set
// global.configValidation=false --set sidecarInjectorWebhook.enabled=false | kubectl apply -f -`
// (no webhook configuration exists, the control plane serves none), one join Secret per service
// account as docs/platforms/kubernetes.md says, then `bowline kube-inject -f bookinfo.yaml |
// kubectl apply -f -` (with --native-sidecar when the cluster has native sidecars, 1.29+: the proxy
// is an init container with restartPolicy Always); the test's node runs each Pod as the apiserver stored it (capture, DNS proxy,
// the proxy with the Secret's join token); then destination-rule-all + virtual-service-all-v1 and
// the jason rule, `kubectl apply`ed to the real apiserver (the control plane runs with
// --config-source kubernetes): the product page behaves as in the demo's scenario tests. The control plane runs
// as a host process pointed at the apiserver by kubeconfig (no kubelet here runs its image).
import { describe, expect, it } from 'vitest';
import { canRunKubeMesh, expectAllV1, expectJasonRule, kubeMeshForFile, productpageOf } from './kube-bookinfo-harness.js';
import type { KubeMesh } from './kube-mesh-harness.js';

let mesh: KubeMesh;
let base = '';
let native = false;
kubeMeshForFile({ webhooks: false }, (m) => { mesh = m; });

describe.skipIf(!canRunKubeMesh)('Bookinfo on a real kube-apiserver with webhooks off and bowline kube-inject', () => {
  it('bowline install kubernetes (webhooks off) | kubectl apply, join Secrets, bowline kube-inject (native sidecar) | kubectl apply: every pod runs its sidecar and turns Ready', async () => {
    const manifests = await mesh.bowline(['install', 'kubernetes', '--set', 'global.configValidation=false', '--set', 'sidecarInjectorWebhook.enabled=false']);
    expect(manifests.code, manifests.err).toBe(0);
    const installed = await mesh.kubectl(['apply', '-f', '-'], manifests.out);
    expect(installed.code, installed.err).toBe(0);
    expect(installed.out).toContain('deployment.apps/bowline created');
    expect(installed.out).not.toContain('webhookconfiguration');
    expect((await mesh.kubectl(['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations', '-o', 'name'])).out).toBe('');

    for (const sa of ['details', 'ratings', 'reviews', 'productpage']) {
      const token = await mesh.bowline(['token', 'create', '--namespace', 'default', '--service-account', `bookinfo-${sa}`, '--max-uses', '100', '--ttl', '720h', '--server', `http://127.0.0.1:${mesh.ports['api']}`]);
      expect(token.code, token.err).toBe(0);
      const secret = await mesh.kubectl(['create', 'secret', 'generic', `bowline-join-bookinfo-${sa}`, `--from-literal=token=${token.out.trim()}`]);
      expect(secret.code, secret.err).toBe(0);
    }
    // The proxy as a native sidecar (an init container with restartPolicy Always) when the cluster has them (Kubernetes 1.29+).
    const version = JSON.parse((await mesh.kubectl(['version', '-o', 'json'])).out) as { serverVersion: { major: string; minor: string } };
    native = Number(version.serverVersion.major) > 1 || Number.parseInt(version.serverVersion.minor, 10) >= 29;
    const injected = await mesh.bowline(['kube-inject', '-f', 'samples/kubernetes/bookinfo.yaml', '--image', 'bowline/bowline:e2e', '--server', `${mesh.kube.kubelet!.hostIP}:${mesh.ports['pushTls']}`, ...(native ? ['--native-sidecar'] : [])]);
    expect(injected.code, injected.err).toBe(0);
    const applied = await mesh.kubectl(['apply', '-f', '-'], injected.out);
    expect(applied.code, applied.err).toBe(0);
    const pods = await mesh.readyPods('default', 'app', 6, 90_000);
    for (const p of pods) {
      const inits = p.spec.initContainers as Array<{ name: string; restartPolicy?: string }>;
      if (native) {
        expect(inits.map((c) => [c.name, c.restartPolicy]), p.metadata.name).toEqual([['istio-init', undefined], ['istio-proxy', 'Always']]);
        expect(p.spec.containers.map((c: { name: string }) => c.name)).not.toContain('istio-proxy');
        // The node ran istio-init to completion, then started the proxy before the app, as a kubelet does.
        expect(p.status.initContainerStatuses.find((c: { name: string }) => c.name === 'istio-proxy')).toMatchObject({ started: true, ready: true });
      } else {
        expect(p.spec.containers[0].name, p.metadata.name).toBe('istio-proxy');
      }
      expect(mesh.procs.output('default', p.metadata.name, 'istio-init')).toContain('bowline capture: installed');
      expect(p.metadata.annotations?.['bowline.io/bootstrap-token']).toBeUndefined(); // no webhook touched it
    }
    base = await productpageOf(pods);
  }, 120_000);

  it('destination-rule-all and virtual-service-all-v1: reviews v1 only, no stars', async () => {
    await expectAllV1(mesh, base);
  }, 60_000);

  it('the jason rule: jason sees v2\'s black stars, everyone else v1', async () => {
    await expectJasonRule(mesh, base);
  }, 60_000);
});
