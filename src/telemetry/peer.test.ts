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

  it('leaves out of the header value what decoding fills in, and decodes to the same metadata as the full value', () => {
    const full = (m: ReturnType<typeof nodePeerMetadata>) => Buffer.from(JSON.stringify(m)).toString('base64');
    const fields = (v: string) => Object.keys(JSON.parse(Buffer.from(v, 'base64').toString()) as object);
    // app/version labels equal to the canonical ones (the common case): both canonical fields left out.
    const common = nodePeerMetadata(node);
    expect(fields(encodePeerMetadata(common))).toEqual(['workload', 'namespace', 'app', 'version', 'cluster', 'serviceAccount', 'principal', 'meshId']);
    expect(encodePeerMetadata(common).length).toBeLessThan(full(common).length);
    // No version label: version is `unknown` (left out), the canonical revision `latest` (kept).
    const bare = nodePeerMetadata({ ...node, labels: { app: 'bench' } });
    expect(fields(encodePeerMetadata(bare))).toEqual(['workload', 'namespace', 'app', 'canonicalRevision', 'cluster', 'serviceAccount', 'principal', 'meshId']);
    const labelSets: Record<string, string>[] = [
      {}, { app: 'ratings' }, { version: 'v1' }, { app: 'ratings', version: 'v1' }, { app: 'unknown', version: 'unknown' },
      { 'service.istio.io/canonical-name': 'ratings-svc', 'service.istio.io/canonical-revision': 'r7', app: 'ratings', version: 'v1' },
      { 'service.istio.io/canonical-name': 'unknown', 'service.istio.io/canonical-revision': 'unknown', app: 'ratings', version: 'v1' },
      { 'app.kubernetes.io/name': 'k8s-name', 'app.kubernetes.io/version': '1.2' },
    ];
    for (const labels of labelSets) {
      for (const n of [{ ...node, labels }, { ...node, labels, workload: 'unknown', namespace: 'unknown', serviceAccount: 'unknown', cluster: 'unknown' }]) {
        const m = nodePeerMetadata(n);
        expect(decodePeerMetadata(encodePeerMetadata(m))).toEqual(decodePeerMetadata(full(m)));
        expect(decodePeerMetadata(encodePeerMetadata(m))).toEqual(m);
      }
    }
    const { principal: _p, meshId: _m, ...noIds } = common;
    expect(decodePeerMetadata(encodePeerMetadata(noIds as typeof common))).toEqual(noIds);
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
