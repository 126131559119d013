import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatValidationErrors, validateProxyConfig } from './validate.js';
import type { ProxyConfig } from './types.js';

/** The example in docs/proxy-config.md: it must stay valid. */
function docExample(): ProxyConfig {
  const md = readFileSync(new URL('../../docs/proxy-config.md', import.meta.url), 'utf8');
  const block = /```json\n([\s\S]*?)```/.exec(md)![1]!;
  return JSON.parse(block) as ProxyConfig;
}

function paths(obj: unknown): string[] {
  return validateProxyConfig(obj).errors.map((e) => e.path);
}

function mutate(f: (c: any) => void): unknown {
  const c = docExample();
  f(c);
  return c;
}

describe('validateProxyConfig', () => {
  it('accepts the documented example and returns it', () => {
    const r = validateProxyConfig(docExample());
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.config?.node.id).toBe('productpage-v1-1.default');
  });

  it('never throws, whatever it is given', () => {
    for (const v of [undefined, null, 42, 'x', [], { node: 1 }, { listeners: [null, 3], routes: {} }]) {
      const r = validateProxyConfig(v);
      expect(r.config).toBeUndefined();
      expect(r.errors.length).toBeGreaterThan(0);
    }
    const cyclic: any = docExample();
    cyclic.routes[0].virtualHosts[0].routes[0].match[0].headers = new Proxy({}, { ownKeys() { throw new Error('hostile'); } });
    expect(validateProxyConfig(cyclic).errors[0]!.message).toContain('hostile');
  });

  it('reports missing and mistyped fields with their paths, all at once', () => {
    const p = paths(mutate((c) => {
      delete c.node.namespace;
      c.mesh.tracingSampling = 150;
      c.listeners[0].port = 'x';
      c.clusters[0].discovery = 'magic';
      c.mesh.pathNormalization = 'SOMETIMES';
    }));
    expect(p).toEqual(expect.arrayContaining(['node.namespace', 'mesh.tracingSampling', 'listeners[0].port', 'clusters[0].discovery', 'mesh.pathNormalization']));
  });

  it('checks references: route tables, clusters, secrets, endpoints', () => {
    expect(paths(mutate((c) => { c.listeners[0].filterChains[0].http.routeConfig = 'nope'; }))).toEqual(['listeners[0].filterChains[0].http.routeConfig']);
    expect(paths(mutate((c) => { c.endpoints[0].cluster = 'nope'; }))).toEqual(['endpoints[0].cluster']);
    expect(paths(mutate((c) => { c.listeners[1].filterChains[0].tls = { certificateSecret: 'missing' }; }))).toEqual(['listeners[1].filterChains[0].tls.certificateSecret']);
    const wrongKind = mutate((c) => {
      c.secrets = [{ name: 'roots', kind: 'validation', trustedCa: 'PEM' }];
      c.listeners[1].filterChains[0].tls = { certificateSecret: 'roots' };
    });
    expect(validateProxyConfig(wrongKind).errors[0]!.message).toContain('expected tls-certificate');
  });

  it('an unknown cluster in a route is a warning, or an error with validateClusters', () => {
    const loose = validateProxyConfig(mutate((c) => { c.routes[0].virtualHosts[0].routes[0].route.destinations[0].cluster = 'ghost'; }));
    expect(loose.errors).toEqual([]);
    expect(loose.warnings.map((w) => w.path)).toEqual(['routes[0].virtualHosts[0].routes[0].route.destinations[0].cluster']);
    expect(paths(mutate((c) => { c.routes[0].validateClusters = true; c.routes[0].virtualHosts[0].routes[0].route.destinations[0].cluster = 'ghost'; }))).toEqual(['routes[0].virtualHosts[0].routes[0].route.destinations[0].cluster']);
  });

  it('rejects invalid RE2 regexes (and backtracking-only syntax) wherever they appear', () => {
    const r = validateProxyConfig(mutate((c) => {
      c.routes[0].virtualHosts[0].routes[0].match[0].uri = { regex: '(a' };
      c.routes[0].virtualHosts[0].routes[0].match[0].headers['x'] = { regex: '(\\w+)\\1' };
      c.routes[0].virtualHosts[0].routes[1].route.rewrite = { uriRegex: { match: '(?<=a)b', rewrite: '/' } };
    }));
    expect(r.errors.map((e) => e.path)).toEqual([
      'routes[0].virtualHosts[0].routes[0].match[0].uri.regex',
      'routes[0].virtualHosts[0].routes[0].match[0].headers.x.regex',
      'routes[0].virtualHosts[0].routes[1].route.rewrite.uriRegex.match',
    ]);
    expect(formatValidationErrors(r.errors)).toMatch(/uri\.regex: is not a valid RE2 regex/);
  });

  it('checks weights, one-of choices, enums and duplicates', () => {
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[0].routes[0].route.destinations = [{ cluster: c.clusters[0].name, weight: 0 }, { cluster: c.clusters[1].name, weight: 0 }]; }))).toEqual(['routes[0].virtualHosts[0].routes[0].route.destinations']);
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[0].routes[0].route.destinations[0].weight = -1; }))).toEqual(['routes[0].virtualHosts[0].routes[0].route.destinations[0].weight']);
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[0].routes[0].directResponse = { status: 200 }; }))).toEqual(['routes[0].virtualHosts[0].routes[0]']);
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[0].routes[0].match[0].uri = { exact: '/a', prefix: '/b' }; }))).toEqual(['routes[0].virtualHosts[0].routes[0].match[0].uri']);
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[0].routes[1].route.retries.retryOn = ['5xx', 'sometimes']; }))).toEqual(['routes[0].virtualHosts[0].routes[1].route.retries.retryOn[1]']);
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[1].routes[0].fault.delay.percentage = 101; }))).toEqual(['routes[0].virtualHosts[1].routes[0].fault.delay.percentage']);
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[1].routes[0].redirect = undefined; c.routes[0].virtualHosts[1].routes[1] = { redirect: { redirectCode: 299 } }; }))).toEqual(['routes[0].virtualHosts[1].routes[1].redirect.redirectCode']);
    expect(paths(mutate((c) => { c.routes[0].virtualHosts[1].domains.push('REVIEWS'); }))).toEqual(['routes[0].virtualHosts[1].domains[2]']);
    expect(paths(mutate((c) => { c.clusters.push({ ...c.clusters[0] }); }))).toEqual(['clusters[4].name']);
    expect(paths(mutate((c) => { c.clusters[2].loadBalancer.consistentHash.useSourceIp = true; }))).toEqual(['clusters[2].loadBalancer.consistentHash']);
    expect(paths(mutate((c) => { c.clusters[0].outlierDetection.maxEjectionPercent = 120; }))).toEqual(['clusters[0].outlierDetection.maxEjectionPercent']);
    expect(paths(mutate((c) => { c.listeners[0].filterChains[0].tcp = { routes: [] }; }))).toEqual(['listeners[0].filterChains[0]']);
    expect(paths(mutate((c) => { c.endpoints[0].endpoints[0].port = 0; }))).toEqual(['endpoints[0].endpoints[0].port']);
  });
});
