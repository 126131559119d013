// The control plane on etcd: when etcd goes away the API answers 503 with a clear message,
// fast; when etcd comes back the control plane recovers by itself (API and watches).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../src/control/control-plane.js';
import { startEtcd, type EtcdCluster } from '../../src/store/etcd/etcd-process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

let etcd: EtcdCluster;
let cp: ControlPlane;
let home: string;
beforeAll(async () => {
  etcd = await startEtcd(1);
  home = tempDir('bowline-cp-');
  cp = await startControlPlane({ home, listenApi: '127.0.0.1:0', store: etcd.url, log: () => {} });
});
afterAll(async () => {
  await cp?.close();
  await etcd?.stop();
  rmSync(home, { recursive: true, force: true });
});

const PATH = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';
const vs = (name: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name }, spec: { hosts: [name], http: [{ route: [{ destination: { host: name } }] }] } });
const post = (name: string) => fetch(cp.apiUrl + PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(vs(name)) });

describe('control plane with etcd unreachable', () => {
  it('answers 503 quickly while etcd is down and recovers when it returns', async () => {
    expect((await post('one')).status).toBe(201);
    const events: string[] = [];
    cp.store.watch({ kind: 'VirtualService' }, (e) => events.push(`${e.type} ${e.object.metadata.name}`));

    await etcd.members[0]!.kill();
    const t0 = Date.now();
    const down = await waitFor(async () => {
      const r = await post('two');
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 15_000, what: '503 while etcd is down' });
    const body: any = await down!.json();
    expect(body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    expect(body.message).toMatch(/config store is unavailable.*etcd at 127\.0\.0\.1:\d+.* unreachable/);
    const t1 = Date.now();
    const again = await post('two');
    expect(again.status).toBe(503);
    expect(Date.now() - t1).toBeLessThan(3000); // fails fast, no hanging
    expect((await fetch(cp.apiUrl + PATH)).status).toBe(503);
    expect((await fetch(cp.apiUrl + '/readyz')).status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(15_000);

    await etcd.restart(0);
    await waitFor(async () => (await post('three')).status === 201, { timeoutMs: 20_000, what: 'writes succeed after etcd returns' });
    await waitFor(() => events.includes('ADDED three'), { timeoutMs: 10_000, what: 'watch resumes' });
    const list: any = await (await fetch(cp.apiUrl + PATH)).json();
    expect(list.items.map((o: any) => o.metadata.name)).toEqual(expect.arrayContaining(['one', 'three']));
    expect((await fetch(cp.apiUrl + '/readyz')).status).toBe(200);
  });
});
