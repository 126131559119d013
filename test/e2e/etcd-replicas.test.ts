// Two control-plane replicas on one etcd serve the same config: a write through one is read,
// listed and watched through the other, and optimistic concurrency holds across them.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../src/control/control-plane.js';
import { startEtcd, type EtcdCluster } from '../../src/store/etcd/etcd-process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

let etcd: EtcdCluster;
const cps: ControlPlane[] = [];
const homes: string[] = [];
beforeAll(async () => {
  etcd = await startEtcd(1);
  for (let i = 0; i < 2; i++) {
    homes.push(tempDir('bowline-cp-'));
    cps.push(await startControlPlane({ home: homes[i]!, listenApi: '127.0.0.1:0', store: etcd.url, log: () => {} }));
  }
});
afterAll(async () => {
  for (const cp of cps) await cp.close();
  await etcd?.stop();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const PATH = '/apis/networking.istio.io/v1/namespaces/default/destinationrules';
const json = (method: string, body: unknown) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('two control planes on one etcd', () => {
  it('share config, watches and resourceVersions', async () => {
    const [a, b] = cps as [ControlPlane, ControlPlane];
    const watched: string[] = [];
    b.store.watch({ kind: 'DestinationRule' }, (e) => watched.push(`${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`));
    const created: any = await (await fetch(a.apiUrl + PATH, json('POST', { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews' }, spec: { host: 'reviews' } }))).json();
    const rv = created.metadata.resourceVersion;
    await waitFor(() => watched.length === 1, { what: 'replica b sees the create' });
    expect(watched[0]).toBe(`ADDED reviews ${rv}`);
    const fromB: any = await (await fetch(`${b.apiUrl}${PATH}/reviews`)).json();
    expect(fromB).toEqual(created);

    const viaB = await fetch(`${b.apiUrl}${PATH}/reviews`, json('PUT', { ...fromB, spec: { host: 'reviews.default.svc.cluster.local' } }));
    expect(viaB.status).toBe(200);
    const staleViaA = await fetch(`${a.apiUrl}${PATH}/reviews`, json('PUT', { ...created, spec: { host: 'x' } }));
    expect(staleViaA.status).toBe(409);
    await waitFor(async () => ((await (await fetch(`${a.apiUrl}${PATH}/reviews`)).json()) as any).spec.host === 'reviews.default.svc.cluster.local', { what: 'replica a sees b\'s update' });
  });
});
