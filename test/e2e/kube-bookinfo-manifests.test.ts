// Issue 15's acceptance, the EKS seed's steps with the install as plain manifests instead of helm:
// `bowline install kubernetes | kubectl apply -f -` (webhooks on), `kubectl label namespace default
// istio-injection=enabled`, `kubectl apply -f samples/kubernetes/bookinfo.yaml`: every Pod injected by
// the real apiserver calling Bowline's webhook and run by the test's node; then destination-rule-all +
// virtual-service-all-v1 and the jason rule `kubectl apply`ed to the real apiserver (the control plane
// runs with --config-source kubernetes): the product page behaves as in the demo's scenario tests.
// The helm variant, with mTLS, invalid YAML and scaling, is kube-bookinfo.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { canRunKubeMesh, expectAllV1, expectJasonRule, kubeMeshForFile, productpageOf } from './kube-bookinfo-harness.js';
import type { KubeMesh } from './kube-mesh-harness.js';

let mesh: KubeMesh;
let base = '';
kubeMeshForFile({ webhooks: true }, (m) => { mesh = m; });

describe.skipIf(!canRunKubeMesh)('Bookinfo on a real kube-apiserver with Bowline installed by bowline install kubernetes | kubectl apply', () => {
  it('bowline install kubernetes | kubectl apply -f -, label the namespace, kubectl apply bookinfo.yaml: every pod is injected and turns Ready', async () => {
    const manifests = await mesh.bowline(['install', 'kubernetes', '--set', `base.validationURL=https://127.0.0.1:${mesh.ports['webhook']}/validate`, '--set', `istiodRemote.injectionURL=https://127.0.0.1:${mesh.ports['webhook']}/inject`]);
    expect(manifests.code, manifests.err).toBe(0);
    const installed = await mesh.kubectl(['apply', '-f', '-'], manifests.out);
    expect(installed.code, installed.err).toBe(0);
    expect(installed.out).toContain('mutatingwebhookconfiguration.admissionregistration.k8s.io/bowline-sidecar-injector created');
    expect((await mesh.kubectl(['label', 'namespace', 'default', 'istio-injection=enabled'])).code).toBe(0);
    await waitFor(async () => (await mesh.kubectl(['get', 'mutatingwebhookconfiguration', 'bowline-sidecar-injector', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])).out !== '', { timeoutMs: 20_000, what: 'caBundle patched' });
    const applied = await mesh.kubectl(['apply', '-f', join(repoRoot, 'samples/kubernetes/bookinfo.yaml')]);
    expect(applied.code, applied.err).toBe(0);
    const pods = await mesh.readyPods('default', 'app', 6, 90_000);
    for (const p of pods) {
      expect(p.spec.containers[0].name, p.metadata.name).toBe('istio-proxy');
      expect(p.spec.volumes.some((v: { name: string }) => v.name === 'istio-token'), p.metadata.name).toBe(true);
    }
    base = await productpageOf(pods);
  }, 120_000);

  it('destination-rule-all and virtual-service-all-v1 applied with kubectl: reviews v1 only, no stars', async () => {
    await expectAllV1(mesh, base);
  }, 60_000);

  it('the jason rule: jason sees v2\'s black stars, everyone else v1', async () => {
    await expectJasonRule(mesh, base);
  }, 60_000);
});
