import { describe, expect, it } from 'vitest';
import type { Resource } from '../../api/types/meta.js';
import { bookinfoSnapshot, sampleResources } from '../testdata/bookinfo.js';
import { generateProxyConfig, type ProxyInfo } from './index.js';

const gateway: ProxyInfo = {
  node: { id: 'eastwest.istio-system', role: 'gateway', workload: 'istio-eastwestgateway', namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway', labels: { istio: 'eastwestgateway', 'topology.istio.io/network': 'network-2' } },
  workload: { name: 'istio-eastwestgateway', namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway', labels: { istio: 'eastwestgateway' }, address: '127.0.0.1', services: [], role: 'gateway', outboundPort: 0 },
};

function gw(hosts: string[]): Resource {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'cross-network-gateway', namespace: 'istio-system' }, spec: { selector: { istio: 'eastwestgateway' }, servers: [{ port: { number: 15443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'AUTO_PASSTHROUGH' }, hosts }] } } as unknown as Resource;
}

describe('east-west gateway generation', () => {
  it('AUTO_PASSTHROUGH on 15443: one TLS chain matching the hosts as SNI suffixes, routing by SNI', () => {
    const cfg = generateProxyConfig(bookinfoSnapshot([gw(['*.local', 'reviews.default.svc.cluster.local'])]), gateway);
    const l = cfg.listeners.find((x) => x.name === 'gateway|15443')!;
    expect(l.filterChains).toEqual([{
      name: 'auto-passthrough.15443.0.istio-system/cross-network-gateway',
      match: { transportProtocol: 'tls', serverNames: ['*.local', '*.reviews.default.svc.cluster.local'] },
      tcp: { routes: [], autoPassthrough: true, statPrefix: 'auto-passthrough.15443' },
    }]);
    expect(cfg.clusters.map((c) => c.name)).toContain('outbound|9080||reviews.default.svc.cluster.local');
  });

  it('*.global hosts: NAME.NS.global SNIs route to the local NAME.NS.svc.cluster.local, per port and subset', () => {
    const cfg = generateProxyConfig(bookinfoSnapshot([gw(['*.global']), ...sampleResources('destination-rule-all')]), gateway);
    const routes = cfg.listeners.find((x) => x.name === 'gateway|15443')!.filterChains[0]!.tcp!.routes;
    expect(routes).toContainEqual({ match: { sniHosts: ['outbound_.9080_._.reviews.default.global'] }, destinations: [{ cluster: 'outbound|9080||reviews.default.svc.cluster.local', weight: 100 }] });
    expect(routes).toContainEqual({ match: { sniHosts: ['outbound_.9080_.v2_.reviews.default.global'] }, destinations: [{ cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: 100 }] });
  });
});
