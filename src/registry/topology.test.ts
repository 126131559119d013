import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../model/service.js';
import { AggregateRegistry, type Registry, type RegistryView } from './registry.js';
import { localityFromLabels, withTopology } from './topology.js';

const ep = (labels: Record<string, string>, extra: Partial<Endpoint> = {}): Endpoint => ({ service: 's.default.svc.cluster.local', servicePort: 80, address: '10.0.0.1', port: 80, labels, workload: 'w', namespace: 'default', tlsMode: 'istio', ...extra });

describe('topology of endpoints', () => {
  it('stamps this cluster, the network label or the cluster network, and locality from the well-known labels', () => {
    const view: RegistryView = { services: [], workloads: [], endpoints: [
      ep({}),
      ep({ 'topology.istio.io/network': 'network-2', 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1' }),
      ep({ 'topology.kubernetes.io/region': 'us' }, { locality: 'ap/ap-1', cluster: 'cluster-9', network: 'network-9' }),
    ] };
    const out = withTopology(view, { cluster: 'cluster-1', network: 'network-1' }).endpoints;
    expect(out.map((e) => [e.cluster, e.network, e.locality])).toEqual([
      ['cluster-1', 'network-1', undefined],
      ['cluster-1', 'network-2', 'eu/eu-1'],
      ['cluster-9', 'network-9', 'ap/ap-1'],
    ]);
    expect(withTopology(view, { cluster: 'c', network: '' }).endpoints[0]!.network).toBeUndefined();
  });

  it('locality needs a region; missing zone and subzone are left off', () => {
    expect(localityFromLabels({ 'topology.kubernetes.io/zone': 'z' })).toBeUndefined();
    expect(localityFromLabels({ 'topology.kubernetes.io/region': 'r', 'topology.istio.io/subzone': 's' })).toBe('r//s');
  });

  it('the aggregate registry stamps every registry\'s endpoints', () => {
    const one: Registry = { name: 'x', start: async () => {}, stop: async () => {}, onChange: () => () => {}, view: () => ({ services: [], workloads: [], endpoints: [ep({})] }) };
    expect(new AggregateRegistry([one], { cluster: 'cluster-2', network: 'network-2' }).view().endpoints[0]).toMatchObject({ cluster: 'cluster-2', network: 'network-2' });
  });
});
