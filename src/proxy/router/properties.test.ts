// Property tests (fast-check): the route table and the weighted picker hold their promises
// for arbitrary inputs, not just the examples in compile.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeInfo, Route } from '../../proxy-config/types.js';
import { SmoothWeighted } from './smooth-weighted.js';
import { compileRouteConfig } from './compile.js';
import { stripPort } from './virtual-hosts.js';

const node: NodeInfo = { id: 'n', role: 'sidecar', workload: 'w', namespace: 'default', serviceAccount: 's', labels: { app: 'a' } };

describe('properties', () => {
  it('smooth weighting is exact over every full cycle, for any weights', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 3 }), (weights, cycles) => {
      const p = new SmoothWeighted(weights.map((weight, item) => ({ item, weight })));
      const total = weights.reduce((a, b) => a + b, 0);
      const counts = weights.map(() => 0);
      for (let i = 0; i < total * cycles; i++) counts[p.next()!]!++;
      expect(counts).toEqual(weights.map((w) => w * cycles));
    }));
  });

  it('select never throws and always answers one of the four kinds, whatever the request', () => {
    const routes: Route[] = [
      { match: [{ uri: { regex: '/a/[0-9]+' }, queryParams: { q: { prefix: 'x' } } }], route: { destinations: [{ cluster: 'a', weight: 1 }], rewrite: { uriRegex: { match: '/a/([0-9]+)', rewrite: '/b/\\1' } } } },
      { match: [{ headers: { h: { regex: '.*z.*' } }, ignoreUriCase: true, uri: { prefix: '/CASE' } }], redirect: { scheme: 'https', port: 8443 } },
      { match: [{ withoutHeaders: { k: { present: true } }, uri: { exact: '/d' } }], directResponse: { status: 418 } },
      { match: [{ uri: { prefix: '/p' } }], route: { destinations: [{ cluster: 'p', weight: 3 }, { cluster: 'q', weight: 1 }], rewrite: { uri: '' } } },
    ];
    const rt = compileRouteConfig({ name: 'r', virtualHosts: [{ name: 'v', domains: ['svc', '*.svc', 'pre*'], routes }] }, node);
    const str = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(fc.property(str, str, str, fc.dictionary(fc.constantFrom('h', 'k', 'x'), str), (path, authority, method, headers) => {
      const d = rt.select({ method, path, authority, scheme: 'http', port: 80, header: (n) => headers[n] });
      expect(['forward', 'redirect', 'direct', 'none']).toContain(d.kind);
      if (d.kind === 'forward') expect(typeof d.path).toBe('string');
    }), { numRuns: 300 });
  });

  it('stripPort keeps the host part of any host:port', () => {
    fc.assert(fc.property(fc.domain(), fc.integer({ min: 0, max: 65535 }), (host, port) => {
      expect(stripPort(`${host}:${port}`)).toBe(host);
      expect(stripPort(host)).toBe(host);
      expect(stripPort(`[::1]:${port}`)).toBe('[::1]');
    }));
  });
});
