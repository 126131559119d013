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
import { UnknownWorkloadError, type ExplainSources } from './workloads.js';

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

function mesh(configs: Resource[]): ExplainSources {
  const view = announcementsView(BOOKINFO.map((a) => ({ proxyId: `${a.name}.${a.namespace}`, announcement: a })));
  return { snapshot: buildSnapshot({ configs, ...view, mesh: defaultMeshConfig() }), proxies: [], configOf: () => undefined };
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
