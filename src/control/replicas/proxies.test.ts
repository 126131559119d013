import { describe, expect, it } from 'vitest';
import type { ProxyStatus } from '../../push/server/connection.js';
import { findReplicaProxy, mergeProxies, peerProxies } from './proxies.js';

const proxy = (id: string, connectedAt = 1): ProxyStatus => ({ id, role: 'sidecar', namespace: 'default', workload: id.split('.')[0]!, address: '127.0.0.1', connectedAt, types: {}, pushes: 1, acks: 1, nacks: 0 });
const peer = (id: string) => ({ id, apiUrl: `http://${id}:15014`, startedAt: '2026-12-03T00:00:00.000Z' });

describe('proxies of every replica', () => {
  it('merges this replica\'s proxies with the peers\' answers, each naming its replica, and lists who did not answer', () => {
    const m = mergeProxies({ id: 'b', apiUrl: 'http://b:15014' }, [proxy('reviews-v1.default')], [
      { peer: peer('c'), proxies: [proxy('productpage-v1.default'), proxy('ratings-v1.default')] },
      { peer: peer('a'), error: 'http://a:15014: no answer within 2000 ms' },
    ]);
    expect(m.proxies.map((p) => `${p.id}@${p.replica}`)).toEqual(['productpage-v1.default@c', 'ratings-v1.default@c', 'reviews-v1.default@b']);
    expect(m.replicas).toEqual([{ id: 'b', apiUrl: 'http://b:15014', proxies: 1 }, { id: 'c', apiUrl: 'http://c:15014', proxies: 2 }]);
    expect(m.unreachable).toEqual([{ id: 'a', apiUrl: 'http://a:15014', error: 'http://a:15014: no answer within 2000 ms' }]);
    expect([...m.peers.keys()]).toEqual(['c']);
  });

  it('keeps both entries of a proxy that just moved, and finds its newest stream', () => {
    const m = mergeProxies({ id: 'a' }, [proxy('reviews-v1.default', 100)], [{ peer: peer('b'), proxies: [proxy('reviews-v1.default', 200), proxy('reviews-v2.default')] }]);
    expect(m.proxies.map((p) => `${p.id}@${p.replica}`)).toEqual(['reviews-v1.default@a', 'reviews-v1.default@b', 'reviews-v2.default@b']);
    expect(findReplicaProxy(m.proxies, 'reviews-v1.default')?.replica).toBe('b');
    expect(findReplicaProxy(m.proxies, 'reviews-v1')?.replica).toBe('b');
    expect(findReplicaProxy(m.proxies, 'reviews')).toBeUndefined(); // ambiguous prefix
    expect(findReplicaProxy(m.proxies, 'ratings')).toBeUndefined();
  });

  it('reads a peer\'s syncz answer, or says why it is not one', () => {
    expect(peerProxies(200, { proxies: [proxy('x.default')] })).toHaveLength(1);
    expect(peerProxies(401, { message: 'BOWLINE_E_API_TOKEN_INVALID: ...' })).toBe('answered 401: BOWLINE_E_API_TOKEN_INVALID: ...');
    expect(peerProxies(200, { proxies: [{ name: 'x' }] })).toBe('answered without a proxy list');
    expect(peerProxies(200, null)).toBe('answered without a proxy list');
  });
});
