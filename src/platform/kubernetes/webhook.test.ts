import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CertificateAuthority } from '../../ca/authority.js';
import { parseKek } from '../../ca/kek.js';
import { MemoryCaStorage } from '../../ca/storage.js';
import { verifyBootstrapToken } from '../../ca/token.js';
import { TOKEN_ANNOTATION, type Json } from './inject.js';
import { startWebhookServer, type WebhookServer } from './webhook.js';

let ca: CertificateAuthority;
let server: WebhookServer;
let ignoring: WebhookServer;
const minted: Array<[string, string, string]> = [];

beforeAll(async () => {
  ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 7), 'test kek') });
  const inject = {
    image: 'bowline/bowline:test', server: 'bowline.istio-system.svc:15012',
    mintToken: (ns: string, sa: string, wl: string) => { minted.push([ns, sa, wl]); return ca.createToken({ ns, sa, workload: wl, ttlMs: 3600_000 }).token; },
  };
  server = await startWebhookServer({ ca, host: '127.0.0.1', port: 0, dnsNames: ['bowline.istio-system.svc'], inject });
  ignoring = await startWebhookServer({ ca, host: '127.0.0.1', port: 0, dnsNames: ['bowline.istio-system.svc'], validate: false, inject: { ...inject, failurePolicy: 'Ignore' } });
});
afterAll(async () => { await server?.close(); await ignoring?.close(); });

/** POSTs like the apiserver does: TLS verified against the CA bundle, the Service's name as SNI. */
function post(s: WebhookServer, path: string, body: string): Promise<{ status: number; json?: Json; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.port, path, method: 'POST', servername: 'bowline.istio-system.svc', ca: ca.trustBundlePem(), headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        let json: Json | undefined;
        try { json = JSON.parse(text) as Json; } catch { /* text reply */ }
        resolve({ status: res.statusCode ?? 0, text, ...(json ? { json } : {}) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const review = (request: Json) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
const response = (r: { json?: Json }) => r.json!['response'] as Json;

const badVs = {
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'default', uid: 'u1', resourceVersion: '1', generation: 1, creationTimestamp: '2026-12-02T00:00:00Z', managedFields: [{ manager: 'kubectl', operation: 'Update' }] },
  spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 60 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 30 }], timeout: '3x' }] },
};

describe('admission webhooks over TLS', () => {
  it('refuses an invalid Istio resource with Bowline\'s violation text, and admits a valid one as the apiserver stores it', async () => {
    const r = await post(server, '/validate', review({ uid: 'a1', kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' }, namespace: 'default', name: 'reviews', operation: 'CREATE', object: badVs }));
    expect(r.status).toBe(200);
    const res = response(r);
    expect(res).toMatchObject({ uid: 'a1', allowed: false, status: { code: 400, reason: 'Invalid' } });
    const message = (res['status'] as Json)['message'] as string;
    expect(message).toMatch(/^VirtualService default\/reviews is invalid: /);
    // Exactly the one violation: the apiserver's metadata (uid, managedFields ...) is not one.
    expect(message).toBe('VirtualService default/reviews is invalid: BOWLINE_E_API_DURATION spec.http[0].timeout: "3x" is not a duration: expected a number with a unit (h, m, s, ms, us, ns), e.g. "7s", "0.5s", "100ms", "1m30s"');
    const good = structuredClone(badVs);
    good.spec.http[0]!.route[0]!.weight = 70;
    good.spec.http[0]!.timeout = '3s';
    // Warnings go back as admission warnings (kubectl prints them).
    const ok = response(await post(server, '/validate', review({ uid: 'a2', operation: 'UPDATE', object: good })));
    expect(ok).toMatchObject({ uid: 'a2', allowed: true });
    expect(ok['status']).toBeUndefined();
    expect((ok['warnings'] as string[] | undefined ?? []).every((w) => w.startsWith('BOWLINE_W_'))).toBe(true);
    expect(response(await post(server, '/validate', review({ uid: 'a3', operation: 'DELETE' })))).toEqual({ uid: 'a3', allowed: true });
  });

  it('injects a pod with a JSONPatch and a token minted for its namespace and service account', async () => {
    const pod = parse(readFileSync(new URL('./testdata/reviews-pod.yaml', import.meta.url), 'utf8')) as Json;
    const r = await post(server, '/inject', review({ uid: 'p1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'bookinfo', operation: 'CREATE', object: pod }));
    const res = response(r);
    expect(res).toMatchObject({ uid: 'p1', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(res['patch'] as string, 'base64').toString()) as Array<{ path: string; value: Json }>;
    expect(patch.map((op) => op.path)).toEqual(['/metadata/labels', '/metadata/annotations', '/spec/initContainers', '/spec/containers', '/spec/volumes']);
    expect(minted.at(-1)).toEqual(['bookinfo', 'bookinfo-reviews', 'reviews-v2-5c8d7f9b4']);
    const token = patch[1]!.value[TOKEN_ANNOTATION] as unknown as string;
    // The token is one the CA will redeem for exactly this identity (checked with the CA's own verifier).
    expect(await ca.redeemToken(token)).toMatchObject({ namespace: 'bookinfo', serviceAccount: 'bookinfo-reviews' });
    expect(() => verifyBootstrapToken(token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), Buffer.alloc(32))).toThrow();
  });

  it('admits an opted-out pod unchanged and mints nothing for it', async () => {
    const before = minted.length;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { 'sidecar.istio.io/inject': 'false' } }, spec: { containers: [{ name: 'a', image: 'x' }] } };
    expect(response(await post(server, '/inject', review({ uid: 'p2', kind: { kind: 'Pod' }, namespace: 'default', operation: 'CREATE', object: pod })))).toEqual({ uid: 'p2', allowed: true });
    expect(minted.length).toBe(before);
  });

  it('follows failurePolicy when injection fails: Fail refuses with the reason, Ignore admits unchanged with the reason as a warning', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'web', image: 'x', readinessProbe: { httpGet: { path: '/', port: 'admin' } } }] } };
    const req = review({ uid: 'p3', kind: { kind: 'Pod' }, namespace: 'default', operation: 'CREATE', object: pod });
    const refused = response(await post(server, '/inject', req));
    expect(refused).toMatchObject({ allowed: false, status: { code: 400 } });
    expect((refused['status'] as Json)['message']).toContain('bowline sidecar injection failed for pod default/web: container "web" readinessProbe: port "admin" names no port');
    const admitted = response(await post(ignoring, '/inject', req));
    expect(admitted).toEqual({ uid: 'p3', allowed: true, warnings: [expect.stringContaining('admitted without a sidecar (failurePolicy Ignore)')] });
  });

  it('answers malformed reviews with 400 and the reason, and a turned-off webhook with 404', async () => {
    expect(await post(server, '/validate', '{')).toMatchObject({ status: 400, text: expect.stringContaining('BOWLINE_E_KUBE_WEBHOOK_REQUEST: the body is not JSON') });
    expect(await post(server, '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }))).toMatchObject({ status: 400, text: expect.stringContaining('admissionReviewVersions: ["v1"]') });
    expect(await post(server, '/validate', review({ operation: 'CREATE' }))).toMatchObject({ status: 400, text: expect.stringContaining('no request.uid') });
    expect((await post(ignoring, '/validate', review({ uid: 'v' }))).status).toBe(404);
  });
});
