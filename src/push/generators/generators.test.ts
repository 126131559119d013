import { expectGolden } from '../../../test/support/golden.js';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// eslint-disable-next-line no-restricted-imports -- a simulation test runs generated config through the real proxy router
import { compileRouteConfig } from '../../proxy/router/compile.js';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import type { ProxyConfig, RouteConfig } from '../../proxy-config/types.js';
import { bookinfoSnapshot, ingressProxy, productpageProxy, sampleResources } from '../testdata/bookinfo.js';
import { generateProxyConfig, type ProxyInfo } from './index.js';

const testdata = fileURLToPath(new URL('../testdata/', import.meta.url));

/** Compares with src/push/testdata/NAME.golden.json; a missing file fails, BOWLINE_UPDATE_GOLDEN=1 writes it (test/support/golden.ts). */
function golden(name: string, value: unknown): void {
  if ((value as ProxyConfig).node) {
    const v = validateProxyConfig(value);
    expect(v.errors, JSON.stringify(v.errors)).toEqual([]);
  }
  expectGolden(`${testdata}${name}.golden.json`, JSON.stringify(value, null, 2) + '\n');
}

/** Simulation: which cluster a request lands on through the proxy's generated route table. */
const compiledCache = new WeakMap<RouteConfig, ReturnType<typeof compileRouteConfig>>();
function land(cfg: ProxyConfig, routeConfig: string, req: { authority: string; path?: string; headers?: Record<string, string>; port?: number }): string {
  const rc = cfg.routes.find((r) => r.name === routeConfig) as RouteConfig;
  let compiled = compiledCache.get(rc);
  if (!compiled) compiledCache.set(rc, (compiled = compileRouteConfig(rc, cfg.node)));
  const d = compiled.select({ method: 'GET', path: req.path ?? '/', authority: req.authority, scheme: 'http', port: req.port ?? 15001, header: (n) => req.headers?.[n] });
  if (d.kind === 'forward') return d.cluster;
  if (d.kind === 'redirect') return `redirect ${d.status} ${d.location}`;
  if (d.kind === 'direct') return `direct ${d.status}`;
  return 'none';
}

function clusterCounts(cfg: ProxyConfig, req: Parameters<typeof land>[2], n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const c = land(cfg, 'outbound', req);
    out[c] = (out[c] ?? 0) + 1;
  }
  return out;
}

const base = ['destination-rule-all'];
const reviews = 'reviews.default.svc.cluster.local';
const gen = (rules: string[], proxy: ProxyInfo = productpageProxy) => generateProxyConfig(bookinfoSnapshot(sampleResources(...base, ...rules)), proxy);

describe('productpage sidecar (golden + simulation)', () => {
  it('no rules: default routes to every service, all versions', () => {
    const cfg = gen([]);
    golden('productpage-default', cfg);
    expect(land(cfg, 'outbound', { authority: 'reviews:9080', path: '/reviews/0' })).toBe(`outbound|9080||${reviews}`);
    expect(land(cfg, 'outbound', { authority: `${reviews}:9080` })).toBe(`outbound|9080||${reviews}`);
    expect(land(cfg, 'outbound', { authority: 'reviews.default' })).toBe(`outbound|9080||${reviews}`);
    const eds = cfg.endpoints.find((e) => e.cluster === `outbound|9080||${reviews}`)!;
    expect(eds.endpoints.map((e) => e.port)).toEqual([19082, 19083, 19084]);
    expect(cfg.endpoints.find((e) => e.cluster === `outbound|9080|v2|${reviews}`)!.endpoints.map((e) => e.labels?.version)).toEqual(['v2']);
    expect(cfg.listeners.map((l) => `${l.name}@${l.address}:${l.port}`)).toEqual(['outbound@127.0.0.1:15001', 'inbound|9080@127.0.0.1:19080']);
    expect(cfg.endpoints.find((e) => e.cluster === 'inbound|9080||')!.endpoints).toEqual([{ address: '127.0.0.1', port: 9080 }]);
    const route = cfg.routes.find((r) => r.name === 'outbound')!.virtualHosts.find((v) => v.name === `${reviews}:9080`)!.routes[0]!;
    expect(route.route!.retries).toMatchObject({ attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'] });
    expect(route.route!.timeoutMs).toBeUndefined();
  });

  it('all-v1: every service to v1', () => {
    const cfg = gen(['virtual-service-all-v1']);
    golden('productpage-all-v1', cfg);
    expect(land(cfg, 'outbound', { authority: 'reviews:9080', headers: { 'end-user': 'jason' } })).toBe(`outbound|9080|v1|${reviews}`);
    expect(land(cfg, 'outbound', { authority: 'ratings:9080' })).toBe('outbound|9080|v1|ratings.default.svc.cluster.local');
  });

  it('jason-v2-v3: jason to v2, everyone else v3', () => {
    const cfg = gen(['virtual-service-all-v1', 'virtual-service-reviews-jason-v2-v3']);
    golden('productpage-jason-v2-v3', cfg);
    expect(land(cfg, 'outbound', { authority: 'reviews:9080', headers: { 'end-user': 'jason' } })).toBe(`outbound|9080|v2|${reviews}`);
    expect(land(cfg, 'outbound', { authority: 'reviews:9080', headers: { 'end-user': 'amy' } })).toBe(`outbound|9080|v3|${reviews}`);
  });

  it('test-v2: jason to v2, others stay on v1', () => {
    const cfg = gen(['virtual-service-all-v1', 'virtual-service-reviews-test-v2']);
    expect(land(cfg, 'outbound', { authority: 'reviews:9080', headers: { 'end-user': 'jason' } })).toBe(`outbound|9080|v2|${reviews}`);
    expect(land(cfg, 'outbound', { authority: 'reviews:9080' })).toBe(`outbound|9080|v1|${reviews}`);
  });

  it('ratings delay for jason: 7 s fixed delay carried over', () => {
    const cfg = gen(['virtual-service-all-v1', 'virtual-service-reviews-test-v2', 'virtual-service-ratings-test-delay']);
    golden('productpage-ratings-delay', cfg.routes);
    const vh = cfg.routes[0]!.virtualHosts.find((v) => v.name === 'ratings.default.svc.cluster.local:9080')!;
    expect(vh.routes[0]!.fault).toEqual({ delay: { fixedDelayMs: 7000, percentage: 100 } });
    expect(vh.routes[0]!.match).toEqual([{ headers: { 'end-user': { exact: 'jason' } } }]);
  });

  it('ratings abort and details abort 555', () => {
    const cfg = gen(['virtual-service-all-v1', 'virtual-service-ratings-test-abort', 'virtual-service-details-abort-555']);
    const fault = (h: string) => cfg.routes[0]!.virtualHosts.find((v) => v.name === `${h}.default.svc.cluster.local:9080`)!.routes[0]!.fault;
    expect(fault('ratings')?.abort).toMatchObject({ httpStatus: 500, percentage: 100 });
    expect(fault('details')?.abort?.httpStatus).toBe(555);
  });

  it('50-v3: weighted split lands 50/50', () => {
    const cfg = gen(['virtual-service-all-v1', 'virtual-service-reviews-50-v3']);
    golden('productpage-50-v3', cfg.routes);
    expect(clusterCounts(cfg, { authority: 'reviews:9080' }, 1000)).toEqual({ [`outbound|9080|v1|${reviews}`]: 500, [`outbound|9080|v3|${reviews}`]: 500 });
  });

  it('80-20 and 90-10 and v3', () => {
    const c8020 = clusterCounts(gen(['virtual-service-reviews-80-20']), { authority: 'reviews:9080' }, 100);
    expect(c8020).toEqual({ [`outbound|9080|v1|${reviews}`]: 80, [`outbound|9080|v2|${reviews}`]: 20 });
    expect(land(gen(['virtual-service-reviews-v3']), 'outbound', { authority: 'reviews:9080' })).toBe(`outbound|9080|v3|${reviews}`);
  });

  it('unknown hosts pass through (ALLOW_ANY); inbound routes to the local app', () => {
    const cfg = gen([]);
    expect(land(cfg, 'outbound', { authority: 'example.com' })).toBe('PassthroughCluster');
    expect(land(cfg, 'inbound|9080', { authority: 'productpage:9080', port: 9080 })).toBe('inbound|9080||');
  });
});

describe('ingress gateway (golden + simulation)', () => {
  it('bookinfo-gateway: port 80 bound on 8080, /productpage to productpage', () => {
    const cfg = gen(['bookinfo-gateway'], ingressProxy);
    golden('ingressgateway-bookinfo', cfg);
    expect(cfg.listeners).toMatchObject([{ name: 'gateway|80', address: '127.0.0.1', port: 8080, logicalPort: 80, direction: 'gateway' }]);
    expect(land(cfg, 'http.80', { authority: 'bookinfo.example.com', path: '/productpage', port: 80 })).toBe('outbound|9080||productpage.default.svc.cluster.local');
    expect(land(cfg, 'http.80', { authority: 'x', path: '/nothing', port: 80 })).toBe('none');
    // A sidecar does not get the gateway's routes: the VS is bound to the gateway only.
    expect(land(gen(['bookinfo-gateway']), 'outbound', { authority: 'productpage:9080', path: '/productpage' })).toBe('outbound|9080||productpage.default.svc.cluster.local');
  });
});
