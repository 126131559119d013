import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../store/clock.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { AutoRegistrar, AutoRegistrationError, GROUP_ANNOTATION } from './autoregister.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ store: Store; clock: FakeClock; home: string }> {
  const home = mkdtempSync(join(tmpdir(), 'bowline-autoreg-'));
  const clock = new FakeClock();
  const store = await openStore('embedded', { home, clock });
  cleanup.push(() => rmSync(home, { recursive: true, force: true }), () => store.close());
  await store.create({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name: 'vmapp', namespace: 'default', labels: { team: 'a' } },
    spec: { metadata: { labels: { app: 'vmapp', version: 'v1' } }, template: { serviceAccount: 'vmsa', network: 'vm-net', ports: { http: 8080 } } } });
  return { store, clock, home };
}

const announcement = { name: 'vmapp', namespace: 'default', serviceAccount: 'vmsa', labels: { host: 'vm1' }, address: '10.78.0.2', services: [], workloadGroup: 'vmapp' };
const noTimers = { setInterval: () => 0, clearInterval: () => {} };

/** Resolves when the WorkloadEntry is deleted. */
function deleted(store: Store, name: string): Promise<void> {
  return new Promise((resolve) => {
    const w = store.watch({ kind: 'WorkloadEntry' }, (ev) => { if (ev.type === 'DELETED' && ev.object.metadata.name === name) { w.close(); resolve(); } });
  });
}

describe('WorkloadGroup auto-registration', () => {
  it('creates a WorkloadEntry from the group template, owned by the group, with Istio annotations', async () => {
    const { store } = await setup();
    const reg = new AutoRegistrar(store, { ttlMs: 1000, ...noTimers });
    await reg.start();
    const r = await reg.register('vmapp-10.78.0.2.default', announcement);
    const we = await store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2');
    expect(we.spec).toEqual({ address: '10.78.0.2', serviceAccount: 'vmsa', network: 'vm-net', ports: { http: 8080 }, labels: { app: 'vmapp', version: 'v1', host: 'vm1', 'security.istio.io/tlsMode': 'istio' } });
    expect(we.metadata.annotations).toMatchObject({ [GROUP_ANNOTATION]: 'vmapp', 'istio.io/workloadController': 'bowline', 'bowline.io/proxy-id': 'vmapp-10.78.0.2.default' });
    expect(we.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'WorkloadGroup', name: 'vmapp', controller: true })]);
    r.close();
    reg.stop();
  });

  it('removes the entry once the proxy has been gone for the grace period, not before', async () => {
    const { store, clock } = await setup();
    const reg = new AutoRegistrar(store, { ttlMs: 1000, ...noTimers });
    await reg.start();
    (await reg.register('p1', announcement)).close();
    const gone = deleted(store, 'vmapp-10.78.0.2');
    clock.advance(500);
    expect((await store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2')).metadata.name).toBe('vmapp-10.78.0.2');
    clock.advance(1000);
    await gone;
    reg.stop();
  });

  it('at start, deletes entries whose lease ran out while no control plane ran', async () => {
    const { store, clock } = await setup();
    const first = new AutoRegistrar(store, { ttlMs: 1000, ...noTimers });
    await first.register('p1', announcement);
    clock.advance(2000);
    const second = new AutoRegistrar(store, { ttlMs: 1000, ...noTimers });
    await second.start();
    await expect(store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2')).rejects.toThrow(/not found/i);
    second.stop();
  });

  it('refuses a group that does not exist, or a proxy of another service account', async () => {
    const { store } = await setup();
    const reg = new AutoRegistrar(store, { ttlMs: 1000, ...noTimers });
    await expect(reg.register('p', { ...announcement, workloadGroup: 'nope' })).rejects.toThrow(AutoRegistrationError);
    await expect(reg.register('p', { ...announcement, serviceAccount: 'other' })).rejects.toThrow(/service account "vmsa"/);
    expect((await store.list('WorkloadEntry')).items).toEqual([]);
  });
});
