// explain on replicas sharing a store: proxies held by a peer are read from it, and the explanation
// equals the one a single control plane holding every proxy gives. The peer here is a stub of the
// Peers interface (the real HTTP client is tested in src/control/replicas/peers.test.ts).
import { describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot } from '../../model/snapshot.js';
import type { ProxyConfig } from '../../proxy-config/types.js';
import type { CertificateFacts, ProxyStatus } from '../../push/server/connection.js';
import type { PushServer } from '../../push/server/server.js';
import { announcementsView, type Announcement } from '../../registry/universal/universal.js';
import type { Peers } from '../replicas/peers.js';
import { explain } from './explain.js';
import { explainAcrossReplicas } from './replica-sources.js';
import { workloadConfig, type ExplainSources } from './workloads.js';

const NOW = Date.parse('2026-01-01T12:00:00.000Z');
const ISSUED: CertificateFacts = { spiffeId: 'spiffe://cluster.local/ns/default/sa/x', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-01-02T00:00:00.000Z', rotations: 1 };
let port = 20000;
const wl = (app: string, tlsMode?: 'disabled'): Announcement => ({ name: `${app}-v1`, namespace: 'default', serviceAccount: `bookinfo-${app}`, labels: { app, version: 'v1' }, address: '127.0.0.1', services: [{ service: app, port: 9080, protocol: 'HTTP', targetPort: port++ }], ...(tlsMode ? { tlsMode } : {}) });
// ratings' sidecar runs without a workload certificate, on a STRICT mesh: it refuses every connection.
const WORKLOADS = [wl('productpage'), wl('reviews'), wl('ratings', 'disabled')];
const STRICT = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { mtls: { mode: 'STRICT' } } } as Resource;

/** Every proxy connected to one control plane: the reference answer. */
function everyProxy(): { src: ExplainSources; configs: Map<string, ProxyConfig>; certs: Map<string, CertificateFacts> } {
  const view = announcementsView(WORKLOADS.map((a) => ({ proxyId: `${a.name}.${a.namespace}`, announcement: a })));
  const snapshot = buildSnapshot({ configs: [STRICT], ...view, mesh: defaultMeshConfig() });
  const base: ExplainSources = { snapshot, proxies: [], configOf: () => undefined, certificateOf: () => undefined, now: NOW };
  const proxies: ProxyStatus[] = WORKLOADS.map((a) => ({ id: `${a.name}.default`, role: 'sidecar', workload: a.name, namespace: 'default', address: a.address, connectedAt: 0, types: {}, pushes: 1, acks: 1, nacks: 0 }));
  const configs = new Map(proxies.map((p) => [p.id, workloadConfig(base, p.workload, p.namespace)!.config]));
  const certs = new Map(proxies.map((p) => [p.id, p.workload === 'ratings-v1' ? { rotations: 0 } : ISSUED]));
  return { src: { ...base, proxies, configOf: (id) => configs.get(id), certificateOf: (id) => certs.get(id) }, configs, certs };
}

/** This replica holds `here`; peer `b` holds the rest and answers as `answer` says (default: from the reference). */
function split(here: string[], answer?: (path: string) => Promise<{ status: number; body: unknown }>) {
  const { src, configs, certs } = everyProxy();
  const asked: string[] = [];
  const local = src.proxies.filter((p) => here.includes(p.id));
  const remote = src.proxies.filter((p) => !here.includes(p.id));
  const server = { status: () => local, configDump: (id: string) => (here.includes(id) ? configs.get(id) : undefined), identityOf: (id: string) => (here.includes(id) ? certs.get(id) : undefined) } as unknown as PushServer;
  const peer = { id: 'b', apiUrl: 'http://b:15014', startedAt: '' };
  const peers: Peers = {
    self: 'a',
    others: async () => [peer],
    get: async (_p, path) => {
      asked.push(path);
      if (answer) return answer(path);
      if (path === '/debug/syncz?local=1') return { status: 200, body: { proxies: remote } };
      const id = new URL(path, 'http://x').searchParams.get('proxy')!;
      return { status: 200, body: { proxy: id, config: configs.get(id), certificate: certs.get(id) } };
    },
  };
  return { src, server, asked, replicas: { self: { id: 'a', apiUrl: 'http://a:15014' }, peers } };
}

const REQ = { from: 'productpage', url: 'http://ratings:9080/ratings/0' };

describe('explain across replicas', () => {
  it('reads the proxies a peer holds from it, asking only for those explain needs: the single control plane\'s answer', async () => {
    const reference = explain(everyProxy().src, REQ);
    expect(reference.destinations[0]!.steps.find((s) => s.step === 'server mTLS')!.decision).toBe('ratings-v1.default: STRICT, no workload certificate');
    // The client here, the server on the peer.
    const s1 = split(['productpage-v1.default']);
    expect(await explainAcrossReplicas((src) => explain(src, REQ), { snapshot: s1.src.snapshot, now: NOW, server: s1.server, replicas: s1.replicas })).toEqual(reference);
    expect(s1.asked).toEqual(['/debug/syncz?local=1', '/debug/config_dump?local=1&proxy=ratings-v1.default']);
    // The client on the peer too.
    const s2 = split([]);
    expect(await explainAcrossReplicas((src) => explain(src, REQ), { snapshot: s2.src.snapshot, now: NOW, server: s2.server, replicas: s2.replicas })).toEqual(reference);
    expect(s2.asked.filter((p) => p.includes('config_dump')).sort()).toEqual(['/debug/config_dump?local=1&proxy=productpage-v1.default', '/debug/config_dump?local=1&proxy=ratings-v1.default']);
  });

  it('a peer that does not answer: its proxies are not connected, and a warning names it', async () => {
    const s = split(['productpage-v1.default'], async () => { throw new Error('http://b:15014: no answer within 2000 ms'); });
    const e = await explainAcrossReplicas((src) => explain(src, REQ), { snapshot: s.src.snapshot, now: NOW, server: s.server, replicas: s.replicas });
    expect(e.warnings).toEqual(['replica b (http://b:15014) did not answer (http://b:15014: no answer within 2000 ms): proxies connected to it are evaluated as not connected']);
    expect(e.destinations[0]!.steps.find((x) => x.step === 'server mTLS')!.decision).toBe('ratings-v1.default: no sidecar');
  });

  it('a proxy that left the peer since it was listed: evaluated as not connected, said so', async () => {
    const { src } = everyProxy();
    const s = split(['productpage-v1.default'], async (path) => (path.startsWith('/debug/syncz') ? { status: 200, body: { proxies: src.proxies.filter((p) => p.id !== 'productpage-v1.default') } } : { status: 404, body: { message: 'no connected proxy "ratings-v1.default"' } }));
    const e = await explainAcrossReplicas((x) => explain(x, REQ), { snapshot: s.src.snapshot, now: NOW, server: s.server, replicas: s.replicas });
    expect(e.warnings).toEqual(['proxy ratings-v1.default is connected to replica b, which answered 404: no connected proxy "ratings-v1.default": it is evaluated as not connected']);
  });
});
