// `bowline explain` for proxies without a workload certificate (started without --token-file, on a
// control plane with --push-plaintext), each prediction checked against a real call through the
// client's sidecar: a client with a DestinationRule ISTIO_MUTUAL (503 UH), a server on a STRICT port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { call, settle, TestMesh, type Sidecar } from './mesh-harness.js';

const mesh = new TestMesh();
let productpage: Sidecar;
let legacy: Sidecar;

async function apply(name: string, yaml: string) {
  const r = await mesh.apply(name, yaml);
  expect(r.code, r.out).toBe(0);
}

beforeAll(async () => {
  await mesh.up(['--push-plaintext']);
  productpage = await mesh.sidecar('productpage-v1', 'default', 'bookinfo-productpage', 9080, 'app=productpage,version=v1', 'productpage');
  await mesh.sidecar('reviews-v1', 'default', 'bookinfo-reviews', 9080, 'app=reviews,version=v1', 'reviews');
  legacy = await mesh.sidecarWithoutCertificate('legacy-v1', 'default', 'legacy', 9080, 'app=legacy,version=v1', 'legacy');
  await mesh.sidecarWithoutCertificate('ratings-v1', 'default', 'bookinfo-ratings', 9080, 'app=ratings,version=v1', 'ratings');
}, 120_000);
afterAll(async () => {
  await mesh.down();
});

describe('bowline explain: proxies without a workload certificate', () => {
  it('a client without one: auto-mTLS sends plaintext (works); a DestinationRule ISTIO_MUTUAL makes it 503 UH, and explain says why', async () => {
    await settle(legacy.outbound, 'http://reviews:9080/reviews/0', 200);
    const before = await mesh.cli(['explain', '--from', 'legacy', 'http://reviews:9080/reviews/0']);
    expect(before.code, before.out).toBe(0);
    expect(before.out).toMatch(/client TLS\s+plaintext \(auto-mTLS, no workload certificate\)/);
    await apply('reviews-mtls', 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: default\nspec:\n  host: reviews\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n');
    await settle(legacy.outbound, 'http://reviews:9080/reviews/0', 503);
    const r = await mesh.cli(['explain', '--from', 'legacy', 'http://reviews:9080/reviews/0']);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/client TLS\s+ISTIO_MUTUAL: no workload certificate \[FAILS\]/);
    expect(r.out).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
    expect(r.out).toMatch(/Outcome: FAILS: 503 UH/);
    // productpage has a certificate: the same rule works for it, and explain says so.
    expect((await call(productpage.outbound, 'http://reviews:9080/reviews/0')).status).toBe(200);
    expect((await mesh.cli(['explain', '--from', 'productpage', 'http://reviews:9080/reviews/0'])).code).toBe(0);
  }, 60_000);

  it('a server without one on a STRICT port refuses every connection, and explain names its proxy', async () => {
    await settle(productpage.outbound, 'http://ratings:9080/ratings/0', 200);
    expect((await mesh.cli(['explain', '--from', 'productpage', 'http://ratings:9080/ratings/0'])).code).toBe(0);
    await apply('strict', 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: istio-system\nspec:\n  mtls:\n    mode: STRICT\n');
    await waitFor(async () => (await call(productpage.outbound, 'http://ratings:9080/ratings/0')).status === 503, { timeoutMs: 20_000, what: 'ratings refused after STRICT' });
    const r = await mesh.cli(['explain', '--from', 'productpage', 'http://ratings:9080/ratings/0']);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/server mTLS\s+ratings-v1\.default: STRICT, no workload certificate \[FAILS\]/);
    expect(r.out).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
  }, 60_000);
});
