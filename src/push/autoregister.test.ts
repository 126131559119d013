import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../store/clock.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { AutoRegistrar, AutoRegistrationError, GROUP_ANNOTATION, HEALTH_CHECKS_ANNOTATION } from './autoregister.js';
import { serviceEntryView } from '../registry/serviceentry/serviceentry.js';
import type { Resource } from '../api/types/meta.js';
import { tempDir } from '../../test/support/temp.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ store: Store; clock: FakeClock; home: string }> {
  const home = tempDir('bowline-autoreg-');
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

  it('with a probe: the entry is unhealthy (no traffic) until its proxy reports healthy; a failure is a Healthy=False condition with the reason', async () => {
    const { store, clock } = await setup();
    const g = await store.get('WorkloadGroup', 'default', 'vmapp');
    await store.update({ ...g, spec: { ...(g as unknown as { spec: object }).spec, probe: { periodSeconds: 1, exec: { command: ['true'] } } } } as typeof g);
    const reg = new AutoRegistrar(store, { ttlMs: 1000, now: () => clock.now(), ...noTimers });
    await reg.start();
    const r = await reg.register('p1', announcement);
    const se = { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'vmapp', namespace: 'default' }, spec: { hosts: ['vmapp.default.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], workloadSelector: { labels: { app: 'vmapp' } } } } as unknown as Resource;
    const health = async () => serviceEntryView([se], [await store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2') as unknown as Resource]).endpoints.map((e) => e.health ?? 'healthy');
    expect((await store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2')).metadata.annotations?.[HEALTH_CHECKS_ANNOTATION]).toBe('true');
    expect(await health()).toEqual(['unhealthy']);
    await r.health!(true);
    expect(await health()).toEqual(['healthy']);
    clock.advance(500);
    await r.health!(false, 'exec false: exit 1');
    const we = await store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2') as unknown as { status: { conditions: Array<Record<string, string>> } };
    expect(we.status.conditions).toEqual([expect.objectContaining({ type: 'Healthy', status: 'False', reason: 'HealthCheckFailed', message: 'exec false: exit 1' })]);
    expect(await health()).toEqual(['unhealthy']);
    // A reconnect keeps the reported health until the proxy reports again.
    r.close();
    await reg.register('p1', announcement);
    expect(await health()).toEqual(['unhealthy']);
    reg.stop();
  });

  it('without a probe the entry is healthy and health reports change nothing it routes by', async () => {
    const { store } = await setup();
    const reg = new AutoRegistrar(store, { ttlMs: 1000, ...noTimers });
    await reg.start();
    await reg.register('p1', announcement);
    const we = await store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2');
    expect(we.metadata.annotations?.[HEALTH_CHECKS_ANNOTATION]).toBeUndefined();
    reg.stop();
  });

  it('leave: remove() deletes the entry at once, long before the grace period', async () => {
    const { store } = await setup();
    const reg = new AutoRegistrar(store, { ttlMs: 3_600_000, ...noTimers });
    await reg.start();
    const r = await reg.register('p1', announcement);
    await r.remove!();
    await expect(store.get('WorkloadEntry', 'default', 'vmapp-10.78.0.2')).rejects.toThrow();
    expect(await store.listRaw('registry/autoregistered/')).toMatchObject({ entries: [] });
    reg.stop();
  });
});
