import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { openEmbeddedStore } from './embedded/embedded.js';
import { startInformer } from './informer.js';
import { StoreError, type Store, type StoredObject, type WatchOptions } from './store.js';
import { tempDir } from '../../test/support/temp.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const vs = (name: string): StoredObject => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: [name], http: [{ route: [{ destination: { host: name } }] }] } });

/**
 * The real embedded store, whose watches can be ended as an apiserver ends one with 410 Gone
 * (the embedded store itself only refuses to start a watch at a compacted revision).
 */
async function expiringStore(): Promise<{ store: Store; kill(): { expire(): void }; watches(): number }> {
  const dir = tempDir('bowline-informer-');
  dirs.push(dir);
  const real = await openEmbeddedStore({ dir });
  const live: Array<{ close(): void; onError?: WatchOptions['onError'] }> = [];
  let opened = 0;
  const store = Object.create(real) as Store;
  store.watch = (filter, onEvent, opts = {}) => {
    opened++;
    const w = real.watch(filter, onEvent, opts);
    live.push({ close: () => w.close(), ...(opts.onError ? { onError: opts.onError } : {}) });
    return w;
  };
  return {
    store,
    /** Stops every watch delivering; `expire()` then tells their owners, as the apiserver's 410 does. */
    kill() {
      const dead = live.splice(0);
      for (const w of dead) w.close();
      return { expire: () => { for (const w of dead) w.onError?.(new StoreError('Expired', 'too old resource version')); } };
    },
    watches: () => opened,
  };
}

describe('startInformer', () => {
  it('lists, follows, and lists again when the watch expires: changes made meanwhile are not lost', async () => {
    const { store, kill, watches } = await expiringStore();
    await store.create(vs('a'));
    const state = new Map<string, StoredObject>();
    const lists: string[][] = [];
    const logs: string[] = [];
    const inf = await startInformer(store, {
      kinds: ['VirtualService'],
      onList: (items) => { state.clear(); for (const o of items) state.set(o.metadata.name, o); lists.push(items.map((o) => o.metadata.name)); },
      onEvent: (ev) => { if (ev.type === 'DELETED') state.delete(ev.object.metadata.name); else state.set(ev.object.metadata.name, ev.object); },
      log: (l) => logs.push(l),
    });
    expect(lists).toEqual([['a']]);
    await store.create(vs('b'));
    await waitFor(() => state.has('b'), { what: 'b listed' });

    const dead = kill(); // what happens now reaches the informer only through the relist
    await store.delete('VirtualService', 'default', 'a');
    await store.create(vs('c'));
    dead.expire();
    await waitFor(() => lists.length === 2, { what: 'the relist' });
    expect([...state.keys()].sort()).toEqual(['b', 'c']);
    expect(logs[0]).toMatch(/^watch of VirtualService ended \(too old resource version\): listing again$/);
    expect(watches()).toBe(2);

    await store.create(vs('d')); // and the new watch follows
    await waitFor(() => state.has('d'), { what: 'd from the new watch' });
    inf.close();
    await store.close();
  });
});
