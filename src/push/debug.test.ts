// The /debug handlers and /registry/v1/manual of the push server, on a real store and mesh controller.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { startTestMeshController } from '../../test/support/mesh-controller.js';
import type { Store } from '../store/index.js';
import { StoreError } from '../store/store.js';
import { pushDebugHandlers } from './debug.js';
import { PushServer } from './server/server.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const setup = () => startTestMeshController(cleanup);

describe('debug handlers', () => {
  it('serve syncz, registryz, configz, config_dump and manual registration', async () => {
    const { store, controller } = await setup();
    const push = new PushServer({ source: controller, log: () => {}, allowPlaintext: true });
    cleanup.push(() => push.close());
    const h = pushDebugHandlers({ server: push, controller, store });
    const http = createServer((req, res) => void h(req, res, new URL(req.url!, 'http://x')).then((ok) => ok || res.writeHead(404).end()));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => http.close(r)));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const reg = await fetch(`${base}/registry/v1/manual`, { method: 'POST', body: JSON.stringify({ service: 'mysql', address: '10.0.0.9', ports: [{ name: 'tcp', port: 3306 }] }) });
    expect(reg.status).toBe(201);
    const bad = await fetch(`${base}/registry/v1/manual`, { method: 'POST', body: JSON.stringify({ service: 'Bad Name', address: 'x', ports: [] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { reason: string }).reason).toBe('BOWLINE_E_REGISTRY_INVALID');
    for (const wrong of [{ labels: ['a'] }, { labels: { app: 1 } }, { namespace: 'Not/A/Label' }]) {
      const r = await fetch(`${base}/registry/v1/manual`, { method: 'POST', body: JSON.stringify({ service: 'db', address: '10.0.0.8', ports: [{ name: 'tcp', port: 5432 }], ...wrong }) });
      expect(r.status, JSON.stringify(wrong)).toBe(400);
    }
    await waitFor(async () => JSON.stringify(await (await fetch(`${base}/debug/registryz`)).json()).includes('mysql.default.svc.cluster.local'));
    expect(await (await fetch(`${base}/debug/syncz`)).json()).toMatchObject({ proxies: [] });
    expect(await (await fetch(`${base}/debug/configz`)).json()).toHaveProperty('mesh.trustDomain', 'cluster.local');
    expect((await fetch(`${base}/debug/config_dump?proxy=nope`)).status).toBe(404);
    const del = await fetch(`${base}/registry/v1/manual?service=mysql&address=10.0.0.9`, { method: 'DELETE' });
    expect(del.status).toBe(200);
  });

  it('a registration the store cannot take is a 503 with the store code, not a 400 blaming the caller', async () => {
    const { store, controller } = await setup();
    const push = new PushServer({ source: controller, log: () => {}, allowPlaintext: true });
    cleanup.push(() => push.close());
    const down = Object.create(store) as Store;
    down.putRaw = async () => { throw new StoreError('Unavailable', 'etcd is not answering'); };
    const h = pushDebugHandlers({ server: push, controller, store: down });
    const http = createServer((req, res) => void h(req, res, new URL(req.url!, 'http://x')).then((ok) => ok || res.writeHead(404).end()));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => http.close(r)));
    const r = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/registry/v1/manual`, { method: 'POST', body: JSON.stringify({ service: 'mysql', address: '10.0.0.9', ports: [{ name: 'tcp', port: 3306 }] }) });
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ reason: 'BOWLINE_E_STORE_UNAVAILABLE', message: expect.stringContaining('etcd is not answering') });
  });
});
