// `bowline explain` (and `bowline analyze` on the live mesh) against a real control plane with
// connected sidecars (test/e2e/mesh-harness.ts): the seeds' puzzles, each explanation checked
// against what a real request through the client's sidecar does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { join } from 'node:path';
import { repoRoot } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { call, TestMesh, type Sidecar } from './mesh-harness.js';

const mesh = new TestMesh();
let productpage: Sidecar;
let reviewsV2: Sidecar;
const sample = (name: string) => join(repoRoot, 'samples/networking', `${name}.yaml`);
const JASON = { 'end-user': 'jason' };

async function apply(...files: string[]) {
  const r = await mesh.cli(['apply', ...files.flatMap((f) => ['-f', f])]);
  expect(r.code, r.out).toBe(0);
}

/** Waits until a call through `from` answers with a body starting with `app` (the config has reached the proxy). */
async function until(from: Sidecar, url: string, app: string, headers: Record<string, string> = {}) {
  await waitFor(async () => (await call(from.outbound, url, { headers })).body.startsWith(app), { timeoutMs: 20_000, what: `${url} answered by ${app}` });
}

/** One call through an outbound listener that may take up to 10 s (the harness's call gives up after 5 s). */
function slowCall(port: number, url: string, headers: Record<string, string>): Promise<{ body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: url, headers: { host: new URL(url).host, ...headers }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ body, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ body: '', ms: performance.now() - t0 }));
    req.end();
  });
}

beforeAll(async () => {
  await mesh.up();
  productpage = await mesh.sidecar('productpage-v1', 'default', 'bookinfo-productpage', 9080, 'app=productpage,version=v1', 'productpage');
  await mesh.sidecar('reviews-v1', 'default', 'bookinfo-reviews', 9080, 'app=reviews,version=v1', 'reviews');
  reviewsV2 = await mesh.sidecar('reviews-v2', 'default', 'bookinfo-reviews', 9080, 'app=reviews,version=v2', 'reviews');
  await mesh.sidecar('ratings-v1', 'default', 'bookinfo-ratings', 9080, 'app=ratings,version=v1', 'ratings');
}, 120_000);
afterAll(async () => {
  await mesh.down();
});

describe('bowline explain and analyze on a running mesh', () => {
  it('jason -> reviews v2: rule 0 of VirtualService default/reviews, the file:line apply recorded, the connected proxy\'s config', async () => {
    await apply(sample('destination-rule-all'), sample('virtual-service-reviews-test-v2'));
    await until(productpage, 'http://reviews:9080/reviews/0', 'reviews-v2', JASON);
    await until(productpage, 'http://reviews:9080/reviews/0', 'reviews-v1');
    const r = await mesh.cli(['explain', '--from', 'productpage', '-H', 'end-user: jason', 'http://reviews:9080/reviews/0']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('evaluated with the configuration of connected proxy productpage-v1');
    expect(r.out).toMatch(/route\s+#0/);
    expect(r.out).toContain(`from: VirtualService default/reviews http[0] (applied from ${sample('virtual-service-reviews-test-v2')}:2)`);
    expect(r.out).toContain('destination outbound|9080|v2|reviews.default.svc.cluster.local (100%)');
    expect(r.out).toMatch(/client TLS\s+ISTIO_MUTUAL \(auto\)/);
    expect(r.out).toMatch(/server mTLS\s+reviews-v2\.default: PERMISSIVE/);
    const other = await mesh.cli(['explain', '--from', 'productpage-v1.default', 'http://reviews:9080/reviews/0', '-o', 'json']);
    expect(other.code, other.out).toBe(0);
    const e = JSON.parse(other.out);
    expect(e.destinations.map((d: { cluster: string }) => d.cluster)).toEqual(['outbound|9080|v1|reviews.default.svc.cluster.local']);
    expect(e.from.proxy).toMatch(/^productpage-v1/);
  }, 60_000);

  it('the 7 s delay for jason on ratings: the fault with its file, no mesh timeout on the reviews route; a real call waits 7 s', async () => {
    await apply(sample('virtual-service-ratings-test-delay'));
    const toRatings = await mesh.cli(['explain', '--from', 'reviews-v2', '-H', 'end-user: jason', 'http://ratings:9080/ratings/0']);
    expect(toRatings.code, toRatings.out).toBe(0);
    expect(toRatings.out).toMatch(/fault\s+delay 7s for 100%/);
    expect(toRatings.out).toContain('virtual-service-ratings-test-delay.yaml:2');
    const toReviews = await mesh.cli(['explain', '--from', 'productpage', '-H', 'end-user: jason', 'http://reviews:9080/reviews/0']);
    expect(toReviews.out).toMatch(/timeout\s+none/);
    await waitFor(async () => {
      const r = await slowCall(reviewsV2.outbound, 'http://ratings:9080/ratings/0', JASON);
      return r.body.startsWith('ratings-v1') && r.ms >= 6_900;
    }, { timeoutMs: 30_000, what: 'the 7 s delay on ratings for jason' });
  }, 60_000);

  it('the 503 after a STRICT PeerAuthentication with a DISABLE DestinationRule: exit 1, the refusing chain and the fix; analyze exits 79', async () => {
    const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: default\nspec:\n  host: reviews\n  trafficPolicy:\n    tls:\n      mode: DISABLE\n  subsets:\n  - name: v1\n    labels: {version: v1}\n  - name: v2\n    labels: {version: v2}\n';
    expect((await mesh.apply('reviews-disable', dr)).code).toBe(0);
    await apply(sample('peer-authentication-strict'));
    await waitFor(async () => (await call(productpage.outbound, 'http://reviews:9080/reviews/0')).status === 503, { timeoutMs: 20_000, what: 'reviews refused after STRICT + DISABLE' });
    const r = await mesh.cli(['explain', '--from', 'productpage', 'http://reviews:9080/reviews/0']);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/client TLS\s+plaintext/);
    expect(r.out).toContain(`from: DestinationRule default/reviews (applied from ${join(mesh.home, 'reviews-disable.yaml')}:1)`);
    expect(r.out).toMatch(/server mTLS\s+reviews-v1\.default: STRICT \[FAILS\]/);
    expect(r.out).toContain('set trafficPolicy.tls.mode ISTIO_MUTUAL');
    expect(r.out).toMatch(/Outcome: FAILS: 503/);
    const a = await mesh.cli(['analyze']);
    expect(a.code, a.out).toBe(79);
    expect(a.out).toMatch(/^Error \[BOWLINE_E_ANALYZE_MTLS_CONFLICT\] \(DestinationRule reviews\.default \S+reviews-disable\.yaml:1\) requests from namespace default to reviews\.default\.svc\.cluster\.local:9080 fail/m);
  }, 60_000);

  it('an unknown workload: exit 1 and the known ones listed; a wrong command line: exit 2', async () => {
    const r = await mesh.cli(['explain', '--from', 'nosuch', 'http://reviews:9080/']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('BOWLINE_E_EXPLAIN_UNKNOWN_WORKLOAD');
    expect(r.out).toContain('productpage-v1.default');
    expect((await mesh.cli(['explain', 'http://reviews:9080/'])).code).toBe(2);
  }, 30_000);
});
