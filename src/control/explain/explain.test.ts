// `bowline explain` on the seeds' puzzles, evaluated through generated Bookinfo proxy configs
// (the generators and the proxy's own router / chain match / authorization engine, no stand-ins).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { defaultMeshConfig } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot } from '../../model/snapshot.js';
import { announcementsView, type Announcement } from '../../registry/universal/universal.js';
import { explain } from './explain.js';
import { SOURCE_ANNOTATION } from './origin.js';
import type { CertificateFacts, ProxyStatus } from '../../push/server/connection.js';
import { UnknownWorkloadError, workloadConfig, type ExplainSources } from './workloads.js';

let nextPort = 20000;
const wl = (app: string, version: string): Announcement => ({ name: `${app}-${version}`, namespace: 'default', serviceAccount: `bookinfo-${app}`, labels: { app, version }, address: '127.0.0.1', services: [{ service: app, port: 9080, protocol: 'HTTP', targetPort: nextPort++ }] });
const BOOKINFO = [wl('productpage', 'v1'), wl('details', 'v1'), wl('reviews', 'v1'), wl('reviews', 'v2'), wl('reviews', 'v3'), wl('ratings', 'v1')];

/** The sample files as `bowline apply` stores them (with the source annotation it records). */
function sample(name: string): Resource[] {
  const file = `samples/networking/${name}`;
  const text = readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as Resource).filter(Boolean).map((r) => ({
    ...r, metadata: { ...r.metadata, namespace: r.metadata.namespace ?? 'default', creationTimestamp: '2026-01-01T00:00:00Z', annotations: { [SOURCE_ANNOTATION]: `${file}:1` } },
  }));
}

function mesh(configs: Resource[], announcements: Announcement[] = BOOKINFO): ExplainSources {
  const view = announcementsView(announcements.map((a) => ({ proxyId: `${a.name}.${a.namespace}`, announcement: a })));
  return { snapshot: buildSnapshot({ configs, ...view, mesh: defaultMeshConfig() }), proxies: [], configOf: () => undefined, certificateOf: () => undefined, now: NOW };
}

/** The time explain judges certificates at (the handler passes Date.now()): within ISSUED's validity. */
const NOW = Date.parse('2026-01-01T12:00:00.000Z');

const ISSUED: CertificateFacts = { spiffeId: 'spiffe://cluster.local/ns/default/sa/bookinfo', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-01-02T00:00:00.000Z', issuedAt: 0, rotations: 1 };
const NONE: CertificateFacts = { rotations: 0 };

/**
 * The Bookinfo mesh with every workload's proxy connected, as the push server reports them: its config
 * (the one a sidecar of it gets) and its certificate facts (`ISSUED` unless `certs` says otherwise).
 * `disabled` workloads announce `tlsMode: disabled`, as a sidecar started without --token-file does.
 */
function connected(configs: Resource[], certs: Record<string, CertificateFacts>, disabled: string[] = [], skews: Record<string, number> = {}): ExplainSources {
  const base = mesh(configs, BOOKINFO.map((a) => (disabled.includes(a.name) ? { ...a, tlsMode: 'disabled' as const } : a)));
  const proxies: ProxyStatus[] = BOOKINFO.map((a) => ({
    id: `${a.name}-0.${a.namespace}`, role: 'sidecar', workload: a.name, namespace: a.namespace, address: a.address, connectedAt: 0, types: {}, pushes: 1, acks: 1, nacks: 0,
    ...(skews[a.name] !== undefined ? { clockSkewMs: skews[a.name] } : {}),
  }));
  const byId = new Map(proxies.map((p) => [p.id, workloadConfig(base, p.workload, p.namespace)!.config]));
  return { ...base, proxies, configOf: (id) => byId.get(id), certificateOf: (id) => (byId.has(id) ? certs[id.replace(/-0\.default$/, '')] ?? ISSUED : undefined) };
}

const dr = (name: string, spec: unknown): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' }, spec } as Resource);

describe('bowline explain: the seeds puzzles', () => {
  const jasonMesh = mesh([...sample('destination-rule-all.yaml'), ...sample('virtual-service-reviews-test-v2.yaml')]);

  it('jason goes to reviews v2 by rule 0 of VirtualService default/reviews, with the file it was applied from', () => {
    const e = explain(jasonMesh, { from: 'productpage', url: 'http://reviews:9080/reviews/0', headers: { 'End-User': 'jason' } });
    const route = e.steps.find((s) => s.step === 'route')!;
    expect(route.decision).toMatch(/^#0\b/);
    expect(route.reason).toContain('header end-user = "jason"');
    expect(route.origin).toBe('VirtualService default/reviews http[0] (applied from samples/networking/virtual-service-reviews-test-v2.yaml:1)');
    expect(e.destinations.map((d) => d.cluster)).toEqual(['outbound|9080|v2|reviews.default.svc.cluster.local']);
    const eps = e.destinations[0]!.steps.find((s) => s.step === 'endpoints')!;
    expect(eps.reason).toContain('reviews-v2');
    expect(eps.reason).not.toContain('reviews-v1');
    expect(e.outcome).toMatchObject({ ok: true });
    expect(e.from).toMatchObject({ workload: 'productpage-v1', namespace: 'default' });
  });

  it('anyone else falls through rule 0 to rule 1 and reviews v1', () => {
    const e = explain(jasonMesh, { from: 'productpage-v1.default', url: 'http://reviews:9080/reviews/0' });
    const route = e.steps.find((s) => s.step === 'route')!;
    expect(route.decision).toMatch(/^#1\b/);
    expect(route.reason).toContain('not matched before it: #0 (header end-user = "jason")');
    expect(route.origin).toContain('http[1]');
    expect(e.destinations.map((d) => d.cluster)).toEqual(['outbound|9080|v1|reviews.default.svc.cluster.local']);
  });

  it('the 7 s fault for jason on ratings, while the route to reviews sets no timeout (productpage\'s own 6 s budget decides)', () => {
    const m = mesh([...sample('destination-rule-all.yaml'), ...sample('virtual-service-reviews-test-v2.yaml'), ...sample('virtual-service-ratings-test-delay.yaml')]);
    const toRatings = explain(m, { from: 'reviews-v2', url: 'http://ratings:9080/ratings/0', headers: { 'end-user': 'jason' } });
    const fault = toRatings.steps.find((s) => s.step === 'fault')!;
    expect(fault.decision).toBe('delay 7s for 100%');
    expect(toRatings.steps.find((s) => s.step === 'route')!.origin).toContain('virtual-service-ratings-test-delay.yaml:1');
    const toReviews = explain(m, { from: 'productpage', url: 'http://reviews:9080/reviews/0', headers: { 'end-user': 'jason' } });
    expect(toReviews.steps.find((s) => s.step === 'timeout')!.decision).toBe('none');
    const other = explain(m, { from: 'reviews-v2', url: 'http://ratings:9080/ratings/0' });
    expect(other.steps.find((s) => s.step === 'fault')!.decision).toBe('none');
  });

  it('the 503 after a STRICT PeerAuthentication with a DISABLE DestinationRule: the server chain refuses plaintext, with the fix', () => {
    const m = mesh([...sample('peer-authentication-strict.yaml'), dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } })]);
    const e = explain(m, { from: 'productpage', url: 'http://reviews:9080/reviews/0' });
    expect(e.outcome.ok).toBe(false);
    expect(e.outcome.status).toBe(503);
    const d = e.destinations[0]!;
    expect(d.steps.find((s) => s.step === 'client TLS')).toMatchObject({ decision: 'plaintext', reason: 'set by DestinationRule default/reviews' });
    const server = d.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: STRICT');
    expect(server.reason).toContain('PeerAuthentication istio-system/default');
    expect(server.reason).toContain('set trafficPolicy.tls.mode ISTIO_MUTUAL');
    expect(server.origin).toContain('peer-authentication-strict.yaml:1');
    // Without the DestinationRule, auto-mTLS makes the same request work.
    const fixed = explain(mesh(sample('peer-authentication-strict.yaml')), { from: 'productpage', url: 'http://reviews:9080/reviews/0' });
    expect(fixed.outcome.ok).toBe(true);
    expect(fixed.destinations[0]!.steps.find((s) => s.step === 'client TLS')!.decision).toBe('ISTIO_MUTUAL (auto)');
  });

  it('an AuthorizationPolicy that denies: 403 with the deciding policy', () => {
    const deny = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'no-delete', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { selector: { matchLabels: { app: 'reviews' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] } } as Resource;
    const m = mesh([deny]);
    const e = explain(m, { from: 'productpage', method: 'DELETE', url: 'http://reviews:9080/reviews/0' });
    expect(e.outcome).toMatchObject({ ok: false, status: 403 });
    expect(e.destinations[0]!.steps.find((s) => s.step === 'authorization' && !s.ok)!.reason).toContain('default/no-delete');
    expect(explain(m, { from: 'productpage', url: 'http://reviews:9080/reviews/0' }).outcome.ok).toBe(true);
  });

  it('an unknown workload lists the known ones; a host outside the mesh passes through (ALLOW_ANY)', () => {
    const m = mesh([]);
    expect(() => explain(m, { from: 'nope', url: 'http://reviews:9080/' })).toThrow(UnknownWorkloadError);
    try {
      explain(m, { from: 'reviews', url: 'http://reviews:9080/' });
    } catch (err) {
      expect((err as UnknownWorkloadError).message).toContain('ambiguous');
      expect((err as UnknownWorkloadError).known).toContain('ratings-v1.default');
    }
    const out = explain(m, { from: 'productpage', url: 'http://example.com/' });
    expect(out.destinations[0]!.cluster).toBe('PassthroughCluster');
  });
});

describe('bowline explain: a proxy without a workload certificate', () => {
  const URL_ = 'http://reviews:9080/reviews/0';
  const reviewsWithout = { 'reviews-v1': NONE, 'reviews-v2': NONE, 'reviews-v3': NONE };

  it('client without a certificate and a DestinationRule ISTIO_MUTUAL: 503 UH at the client TLS step, BOWLINE_E_IDENTITY_NO_CERTIFICATE', () => {
    const m = connected([dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], { 'productpage-v1': NONE });
    const e = explain(m, { from: 'productpage', url: URL_ });
    expect(e.from.proxy).toBe('productpage-v1-0.default');
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.outcome.summary).toContain('503 UH');
    expect(e.outcome.summary).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
    const tls = e.destinations[0]!.steps.find((s) => s.step === 'client TLS')!;
    expect(tls).toMatchObject({ ok: false, decision: 'ISTIO_MUTUAL: no workload certificate' });
    expect(tls.reason).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
    expect(tls.reason).toContain('proxy productpage-v1-0.default has no workload certificate');
    expect(tls.reason).toContain('--token-file');
    expect(tls.reason).toContain('set by DestinationRule default/reviews');
    // Nothing is sent: the server side is not evaluated.
    expect(e.destinations[0]!.steps.some((s) => s.step === 'server mTLS')).toBe(false);
  });

  it('client without a certificate under auto-mTLS: it connects in plaintext, which a STRICT server refuses', () => {
    const permissive = explain(connected([], { 'productpage-v1': NONE }), { from: 'productpage', url: URL_ });
    expect(permissive.outcome.ok).toBe(true);
    expect(permissive.destinations[0]!.steps.find((s) => s.step === 'client TLS')!.decision).toBe('plaintext (auto-mTLS, no workload certificate)');
    const strict = explain(connected(sample('peer-authentication-strict.yaml'), { 'productpage-v1': NONE }), { from: 'productpage', url: URL_ });
    expect(strict.outcome).toMatchObject({ ok: false, status: 503 });
    expect(strict.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!.reason).toContain('accepts a plaintext connection');
    expect(strict.outcome.summary).toContain('productpage-v1.default sent plaintext: its proxy has no workload certificate');
  });

  it('server without a certificate on a STRICT port refuses every connection (it announced tlsMode disabled, so auto-mTLS sends plaintext)', () => {
    const m = connected(sample('peer-authentication-strict.yaml'), reviewsWithout, ['reviews-v1', 'reviews-v2', 'reviews-v3']);
    const e = explain(m, { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.outcome.summary).toContain("reviews-v1.default's proxy has no workload certificate");
    const server = e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: STRICT, no workload certificate');
    expect(server.reason).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
    expect(server.reason).toContain('proxy reviews-v1-0.default has no workload certificate');
    expect(server.origin).toContain('peer-authentication-strict.yaml:1');
  });

  it('server without a certificate (announced istio) on a STRICT port: the mTLS connection is refused', () => {
    const e = explain(connected(sample('peer-authentication-strict.yaml'), reviewsWithout), { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!.reason).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
  });

  it('server without a certificate on a PERMISSIVE port: refused when the client sends mTLS, served in plaintext otherwise', () => {
    const mtls = explain(connected([dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], reviewsWithout, ['reviews-v1', 'reviews-v2', 'reviews-v3']), { from: 'productpage', url: URL_ });
    expect(mtls.outcome).toMatchObject({ ok: false, status: 503 });
    const server = mtls.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: PERMISSIVE, no workload certificate');
    expect(server.reason).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
    const plain = explain(connected([], reviewsWithout, ['reviews-v1', 'reviews-v2', 'reviews-v3']), { from: 'productpage', url: URL_ });
    expect(plain.outcome.ok).toBe(true);
  });

  it('both proxies with certificates: no false failure (STRICT, ISTIO_MUTUAL, and auto-mTLS)', () => {
    const strict = sample('peer-authentication-strict.yaml');
    expect(explain(connected(strict, {}), { from: 'productpage', url: URL_ }).outcome.ok).toBe(true);
    const e = explain(connected([...strict, dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], {}), { from: 'productpage', url: URL_ });
    expect(e.outcome.ok).toBe(true);
    expect(e.destinations[0]!.steps.every((s) => s.ok)).toBe(true);
  });

  it('no connected proxy (the generated config): no certificate facts, the outcome is unchanged', () => {
    const strict = sample('peer-authentication-strict.yaml');
    const e = explain(mesh([...strict, dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })]), { from: 'productpage', url: URL_ });
    expect(e.from.proxy).toBeUndefined();
    expect(e.outcome.ok).toBe(true);
    expect(JSON.stringify(e)).not.toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
  });
});

describe('bowline explain: a proxy whose workload certificate expired', () => {
  const URL_ = 'http://reviews:9080/reviews/0';
  const EXPIRED: CertificateFacts = { ...ISSUED, notBefore: '2025-12-31T00:00:00.000Z', notAfter: '2026-01-01T00:00:00.000Z' };
  const reviewsExpired = { 'reviews-v1': EXPIRED, 'reviews-v2': EXPIRED, 'reviews-v3': EXPIRED };
  const mutual = dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } });

  it('client certificate expired, ISTIO_MUTUAL: the server refuses it after the handshake, 503 UC/URX, BOWLINE_E_TLS_PEER_EXPIRED with the expiry time', () => {
    const e = explain(connected([mutual], { 'productpage-v1': EXPIRED }), { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.outcome.summary).toContain('flag UC/URX');
    expect(e.outcome.summary).toContain('expired at 2026-01-01T00:00:00.000Z');
    expect(e.outcome.summary).toContain('BOWLINE_E_TLS_PEER_EXPIRED');
    const d = e.destinations[0]!;
    expect(d.steps.find((s) => s.step === 'client TLS')!.decision).toBe('ISTIO_MUTUAL, client certificate expired');
    const server = d.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: PERMISSIVE, client certificate expired');
    expect(server.reason).toContain('proxy productpage-v1-0.default presents its workload certificate, which expired at 2026-01-01T00:00:00.000Z');
    expect(server.reason).toContain('client certificate refused: peer certificate has expired (BOWLINE_E_TLS_PEER_EXPIRED)');
    expect(server.reason).toContain('mtlsPeerExpired');
    expect(server.reason).toContain('BOWLINE_E_IDENTITY_RENEWAL_FAILED');
    expect(server.reason).toContain('--token-file');
    // Nothing reaches authorization.
    expect(d.steps.some((s) => s.step === 'authorization')).toBe(false);
  });

  it('client certificate expired under auto-mTLS (STRICT): refused the same way', () => {
    const e = explain(connected(sample('peer-authentication-strict.yaml'), { 'productpage-v1': EXPIRED }), { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.destinations[0]!.steps.find((s) => s.step === 'client TLS')!.decision).toBe('ISTIO_MUTUAL (auto), client certificate expired');
    expect(e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!.decision).toBe('reviews-v1.default: STRICT, client certificate expired');
  });

  it('server certificate expired: the client refuses it while verifying, 503 UF/URX', () => {
    const e = explain(connected([mutual], reviewsExpired), { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.outcome.summary).toContain('flag UF/URX');
    expect(e.outcome.summary).toContain('that expired at 2026-01-01T00:00:00.000Z (BOWLINE_E_TLS_PEER_EXPIRED)');
    const server = e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: PERMISSIVE, server certificate expired');
    expect(server.reason).toContain('proxy reviews-v1-0.default presents its workload certificate, which expired at 2026-01-01T00:00:00.000Z');
    // The client's proxy names the refusal with its code and counts it (tls/upstream.ts upstreamTlsFailure).
    expect(server.reason).toContain('its log says "upstream connect failure to ...: TLS: peer certificate has expired (BOWLINE_E_TLS_PEER_EXPIRED)", counted in its upstreamTlsPeerExpired, flag UF');
  });

  it('a certificate not valid yet (clock skew) is refused as BOWLINE_E_TLS_PEER_NOT_YET_VALID', () => {
    const early: CertificateFacts = { ...ISSUED, notBefore: '2026-01-01T13:00:00.000Z', notAfter: '2026-01-02T13:00:00.000Z' };
    const e = explain(connected([mutual], { 'productpage-v1': early }), { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    const server = e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.reason).toContain('is not valid until 2026-01-01T13:00:00.000Z');
    expect(server.reason).toContain('BOWLINE_E_TLS_PEER_NOT_YET_VALID');
  });

  it('the same certificates judged before they expire, or a plaintext cluster: no false failure', () => {
    const before = { ...connected([mutual], { 'productpage-v1': EXPIRED, ...reviewsExpired }), now: Date.parse('2025-12-31T12:00:00.000Z') };
    const e = explain(before, { from: 'productpage', url: URL_ });
    expect(e.outcome.ok).toBe(true);
    expect(JSON.stringify(e)).not.toContain('BOWLINE_E_TLS_PEER_EXPIRED');
    const plain = dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } });
    expect(explain(connected([plain], { 'productpage-v1': EXPIRED, ...reviewsExpired }), { from: 'productpage', url: URL_ }).outcome.ok).toBe(true);
  });

  it('no connected proxy: no certificate facts, the outcome is unchanged at any time', () => {
    const e = explain({ ...mesh([mutual]), now: Date.parse('2099-01-01T00:00:00.000Z') }, { from: 'productpage', url: URL_ });
    expect(e.from.proxy).toBeUndefined();
    expect(e.outcome.ok).toBe(true);
    expect(JSON.stringify(e)).not.toContain('BOWLINE_E_TLS_PEER');
  });
});

describe('bowline explain: a proxy whose host clock is off', () => {
  // A certificate is judged in the handshake by the verifying proxy's clock: the control plane's plus the skew the
  // proxy reports on its stream (hello and pings carry its clock, docs/push-protocol.md).
  const URL_ = 'http://reviews:9080/reviews/0';
  const mutual = dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } });
  const HOURS = 3600_000;
  const reviewsSkew = (ms: number) => ({ 'reviews-v1': ms, 'reviews-v2': ms, 'reviews-v3': ms });

  it("the server's clock 13 hours behind: the client's fresh certificate is not valid yet there, and explain names that clock, not the certificate", () => {
    const e = explain(connected([mutual], {}, [], reviewsSkew(-13 * HOURS)), { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.outcome.summary).toContain('not valid until 2026-01-01T00:00:00.000Z (BOWLINE_E_TLS_PEER_NOT_YET_VALID; by reviews-v1.default\'s clock, 46800 s behind the control plane\'s)');
    const d = e.destinations[0]!;
    expect(d.steps.find((s) => s.step === 'client TLS')!.decision).toBe('ISTIO_MUTUAL'); // valid by the control plane's clock
    const server = d.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: PERMISSIVE, client certificate not valid yet');
    expect(server.reason).toContain("is not valid until 2026-01-01T00:00:00.000Z (by proxy reviews-v1-0.default's clock, 46800 s behind the control plane's; by the control plane's clock it is valid)");
    expect(server.reason).toContain("Fix: the clock of reviews-v1.default's host is 46800 s behind the control plane's (the CA's): synchronise it (NTP); the certificate itself is fine");
    expect(server.reason).not.toContain('--token-file');
  });

  it("the client's clock two days ahead: the server's certificate has expired there, 503 UF/URX, and the fix is the client's clock", () => {
    const e = explain(connected([mutual], {}, [], { 'productpage-v1': 48 * HOURS }), { from: 'productpage', url: URL_ });
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.outcome.summary).toContain('flag UF/URX');
    expect(e.outcome.summary).toContain("which the client refuses by its clock, 172800 s ahead of the control plane's");
    const server = e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: PERMISSIVE, server certificate expired');
    expect(server.reason).toContain("expired at 2026-01-02T00:00:00.000Z (by proxy productpage-v1-0.default's clock, 172800 s ahead of the control plane's; by the control plane's clock it is valid)");
    expect(server.reason).toContain("Fix: the clock of productpage-v1.default's host is 172800 s ahead of the control plane's");
  });

  it('clocks within a second, or an expired certificate whatever the clocks: judged as before, the skew not named', () => {
    const close = explain(connected([mutual], {}, [], { 'productpage-v1': 400, ...reviewsSkew(-700) }), { from: 'productpage', url: URL_ });
    expect(close.outcome.ok).toBe(true);
    expect(JSON.stringify(close)).not.toContain('clock');
    const EXPIRED: CertificateFacts = { ...ISSUED, notBefore: '2025-12-31T00:00:00.000Z', notAfter: '2026-01-01T00:00:00.000Z' };
    const e = explain(connected([mutual], { 'productpage-v1': EXPIRED }, [], reviewsSkew(300)), { from: 'productpage', url: URL_ });
    expect(e.outcome.summary).toContain('its proxy is not renewing it');
    const server = e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.reason).toContain("which expired at 2026-01-01T00:00:00.000Z (by proxy reviews-v1-0.default's clock)");
    expect(server.reason).toContain('BOWLINE_E_IDENTITY_RENEWAL_FAILED');
  });

  it("a skewed client whose server's clock is right: the server judges the client's certificate by its own clock, which is fine", () => {
    // productpage's host is 13 hours behind; its certificate (issued by the CA's clock) is valid where reviews checks it.
    const e = explain(connected([mutual], {}, [], { 'productpage-v1': -13 * HOURS, ...reviewsSkew(0) }), { from: 'productpage', url: URL_ });
    // ...but productpage's own proxy checks reviews' certificate by its clock: not valid yet there.
    expect(e.outcome).toMatchObject({ ok: false, status: 503 });
    expect(e.outcome.summary).toContain("which the client refuses by its clock, 46800 s behind the control plane's");
    const server = e.destinations[0]!.steps.find((s) => s.step === 'server mTLS' && !s.ok)!;
    expect(server.decision).toBe('reviews-v1.default: PERMISSIVE, server certificate not valid yet');
  });
});
