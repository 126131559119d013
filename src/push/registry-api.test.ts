// Remote discovery between two control planes' parts on real sockets: one side serves its registry
// view (registryApiHandler, long-polled), the other reads it through a remote cluster Secret in a
// real embedded store (RemoteClusters + BowlineRemoteRegistry).
import { X509Certificate } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../ca/root.js';
import type { Endpoint, Service, Workload } from '../model/service.js';
import { ChangeNotifier, type Registry, type RegistryView } from '../registry/registry.js';
import { RemoteClusters } from '../registry/remote/clusters.js';
import { bowlineKubeconfig, remoteSecret } from '../registry/remote/secret.js';
import { openStore } from '../store/index.js';
import type { Store, StoredObject } from '../store/store.js';
import { waitFor } from '../../test/support/wait.js';
import { registryApiHandler } from './registry-api.js';
import { tempDir } from '../../test/support/temp.js';

/** A registry whose view the test sets (the serving side's "own registries"). */
class SetRegistry implements Registry {
  readonly name = 'set';
  private readonly n = new ChangeNotifier();
  constructor(private v: RegistryView) {}
  set(v: RegistryView): void { this.v = v; this.n.emit(); }
  async start(): Promise<void> {}
  view(): RegistryView { return this.v; }
  onChange(l: () => void): () => void { return this.n.on(l); }
  async stop(): Promise<void> {}
}

const svc: Service = { hostname: 'messenger.default.svc.cluster.local', name: 'messenger', namespace: 'default', aliases: ['messenger.default.svc.cluster.local'], localAliases: [], ports: [{ name: 'http', port: 8080, protocol: 'HTTP' }], resolution: 'STATIC', location: 'MESH_INTERNAL', source: 'universal' };
const ep = (address: string): Endpoint => ({ service: svc.hostname, servicePort: 8080, address, port: 8080, labels: { app: 'messenger' }, workload: 'messenger', namespace: 'default', serviceAccount: 'messenger', tlsMode: 'istio', cluster: 'cluster-2', network: 'network-2', locality: 'region-2' });
const gw: Workload = { id: 'universal/istio-system/istio-eastwestgateway/gw', name: 'istio-eastwestgateway', namespace: 'istio-system', labels: { istio: 'eastwestgateway', 'topology.istio.io/network': 'network-2' }, address: '10.2.0.10', hasProxy: true, source: 'universal', ports: { '15443': 31443 } };

interface Served { url: string; registry: SetRegistry; down: boolean; server: http.Server; meshId: string }
const servers: Served[] = [];

/** A remote control plane's /v1/registry on a kernel port; `down` makes it drop every connection. */
async function serve(cluster: string, network: string, roots: string, view: RegistryView, meshId = 'mesh1'): Promise<Served> {
  const registry = new SetRegistry(view);
  const clusters = new RemoteClusters({ store: undefined as unknown as Store, namespace: 'x', ownCluster: cluster, openSecret: () => ({}), localRoots: () => '', localMeshId: () => meshId, domains: { clusterDomain: 'cluster.local', extraDomains: [] } });
  const handle = registryApiHandler({ local: registry, topology: { cluster, network }, roots: () => roots, meshId: () => s.meshId, clusters });
  const s: Served = { url: '', registry, down: false, meshId, server: http.createServer((req, res) => {
    if (s.down) return void req.socket.destroy();
    if (req.headers.authorization !== 'Bearer reader-token') return void res.writeHead(401).end('{"message":"no token"}');
    void handle(req, res, new URL(req.url!, 'http://x'));
  }) };
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  servers.push(s);
  return s;
}

let home: string;
let store: Store;
let rootA: string;
let rootB: string;
let clock = 1_000_000;
let clusters: RemoteClusters;

async function addSecret(name: string, server: string): Promise<StoredObject> {
  const s = remoteSecret({ cluster: name, namespace: 'istio-system', kind: 'bowline', kubeconfig: bowlineKubeconfig({ cluster: name, server, token: 'reader-token' }) });
  const data = Object.fromEntries(Object.entries(s.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const { stringData: _, ...rest } = s;
  return store.create({ ...rest, data } as StoredObject);
}
const state = (name: string) => clusters.list().find((c) => c.name === name);

beforeAll(async () => {
  home = tempDir('bowline-remote-');
  store = await openStore('embedded', { home });
  rootA = (await createRootCa({ trustDomain: 'cluster.local' })).certPem;
  rootB = (await createRootCa({ trustDomain: 'cluster.local' })).certPem;
  clusters = new RemoteClusters({
    store, namespace: 'istio-system', ownCluster: 'cluster-1', openSecret: (o) => o.data as Record<string, string>, localRoots: () => rootA, localMeshId: () => 'mesh1',
    domains: { clusterDomain: 'cluster.local', extraDomains: [] }, graceMs: 60_000, tickMs: 10, now: () => clock, backoffMs: { min: 10, max: 50 },
  });
  await clusters.start();
}, 30_000);

afterAll(async () => {
  await clusters.stop();
  for (const s of servers) { s.server.closeAllConnections(); s.server.close(); }
  await store.close();
  rmSync(home, { recursive: true, force: true });
});

describe('remote discovery through the registry view', () => {
  let two: Served;

  it("a remote cluster Secret makes the remote's services, endpoints and east-west gateways part of the view, stamped with its cluster", async () => {
    two = await serve('cluster-2', 'network-2', rootA, { services: [svc], endpoints: [ep('10.2.0.5')], workloads: [gw, { ...gw, id: 'w', name: 'messenger', labels: { app: 'messenger' } }] });
    await addSecret('cluster-2', two.url);
    await waitFor(() => state('cluster-2')?.state === 'synced', { what: JSON.stringify(clusters.list()) });
    const v = clusters.view();
    expect(v.services.map((s) => s.hostname)).toEqual([svc.hostname]);
    expect(v.endpoints).toEqual([expect.objectContaining({ address: '10.2.0.5', cluster: 'cluster-2', network: 'network-2', locality: 'region-2' })]);
    // Only the remote's network gateways come over as workloads.
    expect(v.workloads).toEqual([expect.objectContaining({ address: '10.2.0.10', cluster: 'cluster-2', ports: { '15443': 31443 } })]);
    expect(state('cluster-2')).toMatchObject({ kind: 'bowline', server: two.url, services: 1, endpoints: 1 });
  });

  it('a change on the remote arrives through the long poll', async () => {
    two.registry.set({ services: [svc], endpoints: [ep('10.2.0.5'), ep('10.2.0.6')], workloads: [gw] });
    await waitFor(() => clusters.view().endpoints.length === 2, { what: 'second endpoint' });
  });

  it('a remote that stops answering keeps its last endpoints for the grace period, then loses them, and comes back by itself', async () => {
    two.down = true;
    two.server.closeAllConnections();
    await waitFor(() => state('cluster-2')?.state === 'unreachable', { what: JSON.stringify(clusters.list()) });
    expect(clusters.view().endpoints).toHaveLength(2);
    expect(state('cluster-2')?.error).toBeTruthy();
    clock += 60_000;
    await waitFor(() => state('cluster-2')?.state === 'expired', { what: JSON.stringify(clusters.list()) });
    expect(clusters.view().endpoints).toHaveLength(0);
    two.down = false;
    await waitFor(() => state('cluster-2')?.state === 'synced', { what: JSON.stringify(clusters.list()) });
    expect(clusters.view().endpoints).toHaveLength(2);
  });

  it('a remote under another root is refused, naming both roots; the other remotes are unaffected', async () => {
    const three = await serve('cluster-3', 'network-3', rootB, { services: [svc], endpoints: [{ ...ep('10.3.0.5'), cluster: 'cluster-3', network: 'network-3' }], workloads: [] });
    await addSecret('cluster-3', three.url);
    await waitFor(() => state('cluster-3')?.state === 'refused', { what: JSON.stringify(clusters.list()) });
    const err = state('cluster-3')!.error!;
    expect(err).toMatch(/^BOWLINE_E_CA_ROOT_MISMATCH: cluster cluster-3 trusts root/);
    const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
    expect(err).toContain(fp(rootA));
    expect(err).toContain(fp(rootB));
    expect(clusters.view().endpoints.map((e) => e.address).sort()).toEqual(['10.2.0.5', '10.2.0.6']);
  });

  it('a remote of another mesh id is refused, naming both ids, and nothing of it is merged; once its id matches it is read', async () => {
    const four = await serve('cluster-4', 'network-4', rootA, { services: [svc], endpoints: [{ ...ep('10.4.0.5'), cluster: 'cluster-4', network: 'network-4' }], workloads: [] }, 'mesh2');
    await addSecret('cluster-4', four.url);
    await waitFor(() => state('cluster-4')?.state === 'refused', { what: JSON.stringify(clusters.list()) });
    expect(state('cluster-4')!.error).toBe('BOWLINE_E_CLUSTER_MESH_ID_MISMATCH: cluster cluster-4 is in mesh "mesh2", but this control plane\'s mesh id is "mesh1": clusters of one mesh must share a mesh id (bowline up --mesh-id mesh1 there, or --mesh-id mesh2 here)');
    expect(clusters.view().endpoints.map((e) => e.address).sort()).toEqual(['10.2.0.5', '10.2.0.6']);
    four.meshId = 'mesh1';
    await waitFor(() => state('cluster-4')?.state === 'synced', { what: JSON.stringify(clusters.list()) });
    expect(clusters.view().endpoints.map((e) => e.address).sort()).toEqual(['10.2.0.5', '10.2.0.6', '10.4.0.5']);
    await store.delete('Secret', 'istio-system', 'istio-remote-secret-cluster-4');
    await waitFor(() => state('cluster-4') === undefined, { what: 'cluster-4 gone' });
  });

  it('a bad token is shown as the error; deleting the Secret drops the cluster and its endpoints', async () => {
    await store.delete('Secret', 'istio-system', 'istio-remote-secret-cluster-3');
    await waitFor(() => state('cluster-3') === undefined, { what: 'cluster-3 gone' });
    await store.delete('Secret', 'istio-system', 'istio-remote-secret-cluster-2');
    await waitFor(() => clusters.list().length === 0, { what: 'cluster-2 gone' });
    expect(clusters.view().endpoints).toEqual([]);
    const bad = remoteSecret({ cluster: 'cluster-4', namespace: 'istio-system', kind: 'bowline', kubeconfig: bowlineKubeconfig({ cluster: 'cluster-4', server: two.url, token: 'wrong' }) });
    await store.create({ ...bad, stringData: undefined, data: { 'cluster-4': Buffer.from(String((bad.stringData as Record<string, string>)['cluster-4'])).toString('base64') } } as StoredObject);
    await waitFor(() => state('cluster-4')?.error?.includes('HTTP 401'), { what: JSON.stringify(clusters.list()) });
    expect(state('cluster-4')?.state).toBe('pending');
  });

  it('serves the view with a version and answers a long poll at once when the version differs', async () => {
    const r1 = (await (await fetch(`${two.url}/v1/registry?timeoutSeconds=0`, { headers: { authorization: 'Bearer reader-token' } })).json()) as { version: string; cluster: string; gateways: unknown[] };
    expect(r1).toMatchObject({ kind: 'RegistryView', cluster: 'cluster-2', network: 'network-2' });
    expect(r1.gateways).toHaveLength(1);
    const r2 = await fetch(`${two.url}/v1/registry?after=other&timeoutSeconds=30`, { headers: { authorization: 'Bearer reader-token' } });
    expect(((await r2.json()) as { version: string }).version).toBe(r1.version);
    const bad = await fetch(`${two.url}/v1/registry?timeoutSeconds=soon`, { headers: { authorization: 'Bearer reader-token' } });
    expect(bad.status).toBe(400);
  });
});
