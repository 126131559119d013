import { describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../proxy-config/types.js';
import { ClusterManager } from './cluster/index.js';
import { compileListeners, type RouteTableCache } from './listeners.js';
import { oneRouteConfig } from './sample-config.js';

/** A 90/10 canary, plus an unrelated cluster whose endpoint port is `n` (what changes with each push). */
function canary(n: number): ProxyConfig {
  return oneRouteConfig(1000, (c) => {
    c.routes[0]!.virtualHosts[0]!.routes[0]!.route!.destinations = [{ cluster: 'v1', weight: 90 }, { cluster: 'v2', weight: 10 }];
    c.clusters = [{ name: 'v1', discovery: 'eds', protocol: 'http1' }, { name: 'v2', discovery: 'eds', protocol: 'http1' }, { name: 'other', discovery: 'eds', protocol: 'http1' }];
    c.endpoints = [
      { cluster: 'v1', endpoints: [{ address: '127.0.0.1', port: 1001 }, { address: '127.0.0.1', port: 1002 }] },
      { cluster: 'v2', endpoints: [{ address: '127.0.0.1', port: 2001 }] },
      { cluster: 'other', endpoints: [{ address: '127.0.0.1', port: 3000 + n }] },
    ];
  });
}

describe('picker state across pushes that do not change its inputs', () => {
  it('a 90/10 canary still splits 90/10 when every request is followed by an unrelated push', () => {
    const cache: RouteTableCache = new Map();
    const cm = new ClusterManager();
    const counts: Record<string, number> = {};
    const ports: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const cfg = canary(i);
      const table = compileListeners(cfg, undefined, () => {}, cache).get('outbound')!.runtime.routes!;
      cm.update(cfg.clusters, cfg.endpoints, cfg.node);
      const d = table.select({ method: 'GET', path: '/', authority: 'svc', scheme: 'http', port: 80, header: () => undefined });
      if (d.kind !== 'forward') throw new Error(d.kind);
      counts[d.cluster] = (counts[d.cluster] ?? 0) + 1;
      const ep = cm.pick(d.cluster)!.endpoint.key;
      ports[ep] = (ports[ep] ?? 0) + 1;
    }
    expect(counts).toEqual({ v1: 180, v2: 20 });
    // Round robin over v1's two endpoints keeps its position too.
    expect(ports['127.0.0.1:1001']).toBe(90);
    expect(ports['127.0.0.1:1002']).toBe(90);
  });
  it('a changed table is compiled anew; the cache keeps only the running tables', () => {
    const cache: RouteTableCache = new Map();
    const a = compileListeners(canary(0), undefined, () => {}, cache).get('outbound')!.runtime.routes;
    expect(compileListeners(canary(1), undefined, () => {}, cache).get('outbound')!.runtime.routes).toBe(a);
    const changed = canary(1);
    changed.routes[0]!.virtualHosts[0]!.routes[0]!.route!.destinations[0]!.weight = 80;
    expect(compileListeners(changed, undefined, () => {}, cache).get('outbound')!.runtime.routes).not.toBe(a);
    expect(cache.size).toBe(1);
  });
});
