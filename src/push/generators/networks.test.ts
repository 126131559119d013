import { describe, expect, it } from 'vitest';
import type { Endpoint, Workload } from '../../model/service.js';
import { networkGateways } from '../../registry/topology.js';
import type { ProxyInfo } from './generator.js';
import { splitHorizon } from './networks.js';

const ep = (address: string, network: string | undefined, extra: Partial<Endpoint> = {}): Endpoint => ({
  service: 'messenger.default.svc.cluster.local', servicePort: 8080, address, port: 8080, labels: { app: 'messenger' }, workload: 'messenger', namespace: 'default',
  serviceAccount: 'messenger', tlsMode: 'istio', ...(network !== undefined ? { network } : {}), ...extra,
});
const gw = (network: string, address: string, port?: number): Workload => ({
  id: `gw-${address}`, name: 'istio-eastwestgateway', namespace: 'istio-system', labels: { istio: 'eastwestgateway', 'topology.istio.io/network': network }, address, hasProxy: true, source: 'universal',
  ...(port ? { ports: { '15443': port } } : {}),
});
const proxy = (labels: Record<string, string>, role: 'sidecar' | 'gateway' = 'sidecar'): ProxyInfo => ({ node: { id: 'p', role, workload: 'p', namespace: 'default', serviceAccount: 'p', labels } });

describe('split horizon (endpoints on other networks through their east-west gateway)', () => {
  const gateways = networkGateways([gw('network-2', '10.2.0.10', 31443), gw('network-3', '10.3.0.10')]);

  it('keeps endpoints on the proxy\'s own network (or without a network) as they are', () => {
    const eps = [ep('10.1.0.5', 'network-1'), ep('10.9.0.5', undefined)];
    expect(splitHorizon(eps, 'network-1', gateways)).toEqual(eps);
    // A proxy on no network reaches everything directly (one flat network).
    expect(splitHorizon([ep('10.2.0.5', 'network-2')], '', gateways)).toEqual([ep('10.2.0.5', 'network-2')]);
  });

  it('replaces endpoints on another network by that network\'s gateway on 15443 (or the port it bound), weighted by the endpoints behind it', () => {
    const out = splitHorizon([ep('10.1.0.5', 'network-1'), ep('10.2.0.5', 'network-2'), ep('10.2.0.6', 'network-2'), ep('10.3.0.5', 'network-3')], 'network-1', gateways);
    expect(out.map((e) => `${e.address}:${e.port}/${e.weight ?? 1}`)).toEqual(['10.1.0.5:8080/1', '10.2.0.10:31443/2', '10.3.0.10:15443/1']);
    // The gateway endpoint keeps what the client verifies and routes by: mTLS, the service account, labels.
    expect(out[1]).toMatchObject({ tlsMode: 'istio', serviceAccount: 'messenger', labels: { app: 'messenger' }, network: 'network-2' });
    // Never a remote address.
    expect(out.some((e) => e.address.startsWith('10.2.0.5') || e.address === '10.3.0.5')).toBe(false);
  });

  it('one gateway endpoint per locality, so locality failover works across networks', () => {
    const out = splitHorizon([ep('10.2.0.5', 'network-2', { locality: 'region-b/zone-1' }), ep('10.2.0.6', 'network-2', { locality: 'region-b/zone-2' })], 'network-1', gateways);
    expect(out.map((e) => [e.locality, e.weight])).toEqual([['region-b/zone-1', 1], ['region-b/zone-2', 1]]);
  });

  it('leaves out endpoints of a network without a known gateway, and plaintext ones (a gateway passes only mTLS)', () => {
    expect(splitHorizon([ep('10.4.0.5', 'network-4'), ep('10.2.0.5', 'network-2', { tlsMode: 'disabled' })], 'network-1', gateways)).toEqual([]);
  });

  it('counts only healthy endpoints; a locality with none left is marked unhealthy', () => {
    const out = splitHorizon([ep('10.2.0.5', 'network-2', { health: 'unhealthy' }), ep('10.2.0.6', 'network-2'), ep('10.3.0.5', 'network-3', { health: 'unhealthy' })], 'network-1', gateways);
    expect(out.map((e) => [e.address, e.weight, e.health])).toEqual([['10.2.0.10', 1, undefined], ['10.3.0.10', 1, 'unhealthy']]);
  });

  it('an east-west gateway never forwards to another network\'s gateway', () => {
    const ew = proxy({ istio: 'eastwestgateway', 'topology.istio.io/network': 'network-1' }, 'gateway');
    expect(splitHorizon([ep('10.1.0.5', 'network-1'), ep('10.2.0.5', 'network-2')], 'network-1', gateways, ew).map((e) => e.address)).toEqual(['10.1.0.5']);
    const ingress = proxy({ istio: 'ingressgateway' }, 'gateway');
    expect(splitHorizon([ep('10.2.0.5', 'network-2')], 'network-1', gateways, ingress).map((e) => e.address)).toEqual(['10.2.0.10']);
  });
});
