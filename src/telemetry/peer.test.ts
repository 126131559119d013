import { describe, expect, it } from 'vitest';
import { decodePeerMetadata, encodePeerMetadata, meshIdOf, nodePeerMetadata, PeerCache } from './peer.js';

const node = { id: 'reviews-v2-1.default', role: 'sidecar' as const, workload: 'reviews-v2', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' } };

describe('peer metadata', () => {
  it('round-trips the node metadata through the header value', () => {
    const m = nodePeerMetadata(node);
    expect(m).toEqual({ workload: 'reviews-v2', namespace: 'default', app: 'reviews', version: 'v2', canonicalService: 'reviews', canonicalRevision: 'v2', cluster: 'Kubernetes', serviceAccount: 'bookinfo-reviews', principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', meshId: 'cluster.local' });
    expect(decodePeerMetadata(encodePeerMetadata(m))).toEqual(m);
  });

  it("carries the mesh id (Istio's MESH_ID): the pushed mesh.meshId, else the node's trust domain; an older sender's header has none", () => {
    expect(meshIdOf(node, { meshId: 'mesh1' })).toBe('mesh1');
    expect(meshIdOf({ ...node, trustDomain: 'corp.example' })).toBe('corp.example');
    expect(meshIdOf({ ...node, trustDomain: 'corp.example' }, {})).toBe('corp.example');
    const m = nodePeerMetadata(node, 'mesh1');
    expect(decodePeerMetadata(encodePeerMetadata(m))?.meshId).toBe('mesh1');
    const { meshId: _m, ...old } = m;
    expect(decodePeerMetadata(encodePeerMetadata(old as typeof m))).toEqual(old);
    expect(decodePeerMetadata(encodePeerMetadata({ ...m, meshId: 'mesh "1"' }))).toBeUndefined();
  });

  it('canonical service and revision: Istio labels first, then app.kubernetes.io/*, app/version, the workload and latest', () => {
    const canon = (labels: Record<string, string>) => { const m = nodePeerMetadata({ ...node, labels }); return [m.canonicalService, m.canonicalRevision]; };
    expect(canon({ 'service.istio.io/canonical-name': 'ratings-svc', 'service.istio.io/canonical-revision': 'r7', app: 'ratings', version: 'v1' })).toEqual(['ratings-svc', 'r7']);
    expect(canon({ 'app.kubernetes.io/name': 'k8s-name', 'app.kubernetes.io/version': '1.2', app: 'ratings', version: 'v1' })).toEqual(['k8s-name', '1.2']);
    expect(canon({ app: 'ratings', version: 'v1' })).toEqual(['ratings', 'v1']);
    expect(canon({})).toEqual(['reviews-v2', 'latest']);
    // A header without the canonical fields (an older sender) defaults them to its app and version.
    const { canonicalService: _s, canonicalRevision: _r, ...old } = nodePeerMetadata(node);
    expect(decodePeerMetadata(Buffer.from(JSON.stringify(old)).toString('base64'))).toMatchObject({ canonicalService: 'reviews', canonicalRevision: 'v2' });
  });

  it('ignores garbage, wrong shapes, oversize values and values with quotes or controls', () => {
    for (const bad of ['', '%%%', Buffer.from('[1]').toString('base64'), Buffer.from('{"workload":5}').toString('base64'), 'A'.repeat(5000), encodePeerMetadata({ ...nodePeerMetadata(node), app: 'a"b' }), encodePeerMetadata({ ...nodePeerMetadata(node), version: 'v\n1' })]) {
      expect(decodePeerMetadata(bad)).toBeUndefined();
    }
  });

  it('interns decoded peers and stops growing at its bound', () => {
    const c = new PeerCache(2);
    const v = encodePeerMetadata(nodePeerMetadata(node));
    expect(c.get(v)).toBe(c.get(v));
    c.get('junk');
    expect(c.invalid).toBe(1);
    const other = encodePeerMetadata({ ...nodePeerMetadata(node), workload: 'other' });
    expect(c.get(other)).toBeUndefined();
    expect(c.overflowed).toBe(1);
    expect(c.size).toBe(2);
  });
});
