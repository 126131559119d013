import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../proxy-config/types.js';
import { parseBootstrap } from '../bootstrap.js';
import { distributeWeights, localityMatches, priorityOf } from './locality.js';

const node = (locality: string, labels: Record<string, string> = {}): NodeInfo => ({ id: 'p', role: 'sidecar', workload: 'p', namespace: 'default', serviceAccount: 'p', labels, locality });

describe('locality priorities', () => {
  it('same subzone, zone, region, failover region, the rest', () => {
    const n = node('us/a/1');
    const lb = { failover: [{ from: 'us', to: 'eu' }] };
    expect(['us/a/1', 'us/a/2', 'us/b/1', 'eu/x/1', 'ap/y/1', undefined].map((l) => priorityOf(lb, n, l === undefined ? {} : { locality: l }))).toEqual([0, 1, 2, 3, 4, 4]);
  });

  it('failoverPriority: how many of the keys, in order, differ from this proxy (localities for topology keys)', () => {
    const n = node('us/a/1', { 'topology.istio.io/network': 'n1' });
    const lb = { failoverPriority: ['topology.istio.io/network', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'] };
    expect(priorityOf(lb, n, { locality: 'us/a/9', labels: { 'topology.istio.io/network': 'n1' } })).toBe(0);
    expect(priorityOf(lb, n, { locality: 'us/b/1', labels: { 'topology.istio.io/network': 'n1' } })).toBe(1);
    expect(priorityOf(lb, n, { locality: 'us/a/1', labels: { 'topology.istio.io/network': 'n2' } })).toBe(3);
  });
});

describe('distribute', () => {
  it('patterns with * and shares split evenly among the localities a pattern matches', () => {
    expect(localityMatches('us/*', 'us/a/1')).toBe(true);
    expect(localityMatches('us/a/*', 'us/b/1')).toBe(false);
    expect(localityMatches('*', 'eu/x/1')).toBe(true);
    const w = distributeWeights([{ from: 'eu/*', to: { '*': 100 } }, { from: 'us/a/*', to: { 'us/a/*': 80, 'us/b/*': 20 } }], 'us/a/1', ['us/a/1', 'us/a/2', 'us/b/1', 'eu/x/1']);
    expect(Object.fromEntries(w!)).toEqual({ 'us/a/1': 40, 'us/a/2': 40, 'us/b/1': 20, 'eu/x/1': 0 });
    expect(distributeWeights([{ from: 'eu/*', to: { '*': 100 } }], 'us/a/1', ['us/a/1'])).toBeUndefined();
  });
});

describe('bowline proxy --locality', () => {
  it('goes into the node (the proxy\'s own) and the announcement (its endpoints in the registry)', () => {
    const b = parseBootstrap({ server: '127.0.0.1:15010', name: 'reviews', locality: 'us-east1/us-east1-b/rack7' });
    expect(b.node.locality).toBe('us-east1/us-east1-b/rack7');
    expect(b.workload.locality).toBe('us-east1/us-east1-b/rack7');
    expect(() => parseBootstrap({ server: '127.0.0.1:15010', name: 'reviews', locality: 'a//b' })).toThrow(/REGION\[\/ZONE\[\/SUBZONE\]\]/);
  });
});
