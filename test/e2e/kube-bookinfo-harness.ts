// What the three Bookinfo-on-Kubernetes files share (kube-bookinfo: helm; kube-bookinfo-manifests:
// `bowline install kubernetes | kubectl apply`; kube-bookinfo-inject: webhooks off, `bowline
// kube-inject`): one KubeMesh per file, the product page found on its Pod, and the routing steps of
// the demo's scenario tests applied with kubectl to the real apiserver.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { KubeObject } from '../support/kube-api.js';
import { kubeBinariesBuilt } from '../support/kube-cluster.js';
import { canRunKubelet } from '../support/kubelet.js';
import { repoRoot } from '../support/process.js';
import { request, reviewsVersions, signIn, untilReviews } from './bookinfo-harness.js';
import { startKubeMesh, type KubeMesh } from './kube-mesh-harness.js';

/** True when this machine can run a KubeMesh (the Kubernetes binaries are built and the test can play the node). */
export const canRunKubeMesh = canRunKubelet() && kubeBinariesBuilt();

/**
 * One KubeMesh for the calling test file: started before its tests (and handed to `use`), stopped
 * after them; after a failed test its diagnostics (control plane, node, every container) are printed.
 */
export function kubeMeshForFile(opts: { webhooks: boolean }, use: (mesh: KubeMesh) => void): void {
  let mesh: KubeMesh | undefined;
  beforeAll(async () => {
    if (!canRunKubeMesh) return;
    mesh = await startKubeMesh(opts);
    use(mesh);
  }, 120_000);
  afterAll(async () => { await mesh?.stop(); });
  afterEach((ctx) => { if (ctx.task.result?.state === 'fail' && mesh) process.stderr.write(`${mesh.diagnostics()}\n`); });
}

/** samples/networking/NAME.yaml */
export const networkingSample = (name: string) => join(repoRoot, 'samples/networking', `${name}.yaml`);

/** The product page's URL on its Pod's address (one of the Ready `pods`), checked to serve the book. */
export async function productpageOf(pods: KubeObject[]): Promise<string> {
  const base = `http://${pods.find((p) => p.metadata.labels?.['app'] === 'productpage')!.status.podIP}:9080`;
  const page = await request(`${base}/productpage`);
  expect(page.status).toBe(200);
  expect(page.text).toContain('The Comedy of Errors');
  return base;
}

/** destination-rule-all and virtual-service-all-v1 applied with kubectl: reviews v1 only, no stars. */
export async function expectAllV1(mesh: KubeMesh, base: string): Promise<void> {
  await mesh.applyIstio(networkingSample('destination-rule-all'), networkingSample('virtual-service-all-v1'));
  await untilReviews(base, 'v1');
  expect(await reviewsVersions(base, 20)).toEqual(Array(20).fill('v1'));
  expect((await request(`${base}/productpage`)).text).not.toContain('class="stars');
}

/** virtual-service-reviews-test-v2 applied with kubectl: jason (signed in through the form) sees v2's black stars, everyone else v1. */
export async function expectJasonRule(mesh: KubeMesh, base: string): Promise<void> {
  await mesh.applyIstio(networkingSample('virtual-service-reviews-test-v2'));
  const jason = await signIn(base, 'jason');
  await untilReviews(base, 'v2', jason);
  const page = await request(`${base}/productpage`, { headers: { cookie: jason } });
  expect(page.text).toContain('<strong id="signed-in-user">jason</strong>');
  expect(page.text).toContain('stars-black');
  expect(await reviewsVersions(base, 10)).toEqual(Array(10).fill('v1'));
}
