import { describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import type { VirtualServiceSpec } from '../../api/types/networking.js';
import { buildSnapshot } from '../../model/snapshot.js';
import { announcementsView } from '../../registry/universal/universal.js';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import { bookinfoWorkloads, productpageProxy } from '../testdata/bookinfo.js';
import { expandHttpRules, type DelegateProblem } from './delegate.js';
import { generateProxyConfig } from './index.js';

const vs = (name: string, ns: string, spec: VirtualServiceSpec): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: ns, creationTimestamp: '2026-01-01T00:00:00Z' }, spec });
function snap(configs: Resource[]) {
  const domains = { clusterDomain: 'cluster.local', extraDomains: [] as string[] };
  return buildSnapshot({ configs, ...announcementsView(bookinfoWorkloads.map((a) => ({ proxyId: a.name, announcement: a })), domains), mesh: defaultMeshConfig(), domains });
}
const ROOT = vs('reviews-root', 'default', {
  hosts: ['reviews'],
  http: [
    { match: [{ headers: { 'end-user': { exact: 'jason' } } }], delegate: { name: 'reviews-jason', namespace: 'team' }, timeout: '3s' },
    { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
  ],
});
const CHILD = vs('reviews-jason', 'team', {
  http: [
    { match: [{ uri: { prefix: '/reviews/2' } }], route: [{ destination: { host: 'reviews.default.svc.cluster.local', subset: 'v3' } }] },
    { route: [{ destination: { host: 'reviews.default.svc.cluster.local', subset: 'v2' } }] },
  ],
});
const reviewsRoutes = (configs: Resource[]) => {
  const cfg = generateProxyConfig(snap(configs), productpageProxy);
  expect(validateProxyConfig(cfg).errors).toEqual([]);
  return cfg.routes.find((r) => r.name === 'outbound')!.virtualHosts.find((v) => v.name.startsWith('reviews.default'))!.routes;
};

describe('VirtualService delegate', () => {
  it('merges the delegate rules under the root rule (matches ANDed, root fields inherited)', () => {
    const routes = reviewsRoutes([ROOT, CHILD]);
    expect(routes.map((r) => [r.match, r.route?.destinations.map((d) => d.cluster), r.route?.timeoutMs])).toEqual([
      [[{ uri: { prefix: '/reviews/2' }, headers: { 'end-user': { exact: 'jason' } } }], ['outbound|9080|v3|reviews.default.svc.cluster.local'], 3000],
      [[{ headers: { 'end-user': { exact: 'jason' } } }], ['outbound|9080|v2|reviews.default.svc.cluster.local'], 3000],
      [undefined, ['outbound|9080|v1|reviews.default.svc.cluster.local'], undefined],
    ]);
  });
  it('leaves out a delegation to a missing VirtualService (never a route without destinations) and reports it', () => {
    const routes = reviewsRoutes([ROOT]);
    expect(routes.map((r) => r.route?.destinations.map((d) => d.cluster))).toEqual([['outbound|9080|v1|reviews.default.svc.cluster.local']]);
    const problems: DelegateProblem[] = [];
    expandHttpRules(snap([ROOT]), ROOT as Resource<VirtualServiceSpec>, problems);
    expect(problems).toEqual([{ path: 'spec.http[0].delegate', message: expect.stringContaining('team/reviews-jason does not exist') }]);
  });
  it('drops a delegate rule whose match cannot hold together with the root match', () => {
    const root = vs('r', 'default', { hosts: ['reviews'], http: [{ match: [{ uri: { prefix: '/a' } }], delegate: { name: 'c' } }] });
    const child = vs('c', 'default', { http: [{ match: [{ uri: { prefix: '/b' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] }, { match: [{ uri: { exact: '/a/x' } }], route: [{ destination: { host: 'reviews', subset: 'v3' } }] }] });
    expect(reviewsRoutes([root, child]).map((r) => r.match)).toEqual([[{ uri: { exact: '/a/x' } }]]);
  });
});

describe('weights', () => {
  it('a destination without a weight gets none beside weighted ones; a single destination gets all', () => {
    const routes = reviewsRoutes([vs('reviews', 'default', { hosts: ['reviews'], http: [
      { match: [{ uri: { prefix: '/a' } }], route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }, { destination: { host: 'reviews', subset: 'v2' } }] },
      { route: [{ destination: { host: 'reviews', subset: 'v3' } }] },
    ] })]);
    expect(routes.map((r) => r.route!.destinations.map((d) => d.weight))).toEqual([[100, 0], [100]]);
  });
});
