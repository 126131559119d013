import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoreError, type RawEntry, type Store, type StoredObject, type WatchEvent } from './store.js';

/** What a backend gives the shared suite: a fresh, empty store, plus how to let TTL time pass. */
export interface StoreFixture {
  store: Store;
  /** Lets `ms` of lease time pass (a fake clock's advance, or nothing where real time passes). */
  passTime(ms: number): void | Promise<void>;
  /** How long to wait for a TTL key to expire in real time (etcd's leases have 1 s granularity). */
  expiryWaitMs: number;
  /**
   * The backend's revision also moves with writes this store did not make (a kube-apiserver's own
   * leases and events share etcd's sequence): a list is then read at a revision between the last
   * write and the next `revision()`, not necessarily equal to it.
   */
  othersWrite?: boolean;
  cleanup(): Promise<void>;
}

// The suite ships in src/ (compiled with the package), so it cannot import test/support: a local waitFor.
async function waitFor<T>(check: () => T | Promise<T>, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function vs(name: string, namespace = 'default', hosts = ['reviews']): StoredObject {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace }, spec: { hosts } };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isStoreError(err)) return err.reason;
    throw err;
  }
}

/** The one behaviour suite both store backends must pass (Kuma's store template idea). */
export function describeStore(name: string, factory: () => Promise<StoreFixture>): void {
  describe(`store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('creates, reads, updates and deletes a resource with Kubernetes metadata', async () => {
      const created = await store.create(vs('reviews'));
      expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.metadata.generation).toBe(1);
      expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);

      const got = await store.get('VirtualService', 'default', 'reviews');
      expect(got).toEqual(created);

      const upd = await store.update({ ...got, spec: { hosts: ['reviews', 'ratings'] } });
      expect(Number(upd.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
      expect(upd.metadata.generation).toBe(2);
      expect(upd.metadata.uid).toBe(created.metadata.uid);
      expect(upd.metadata.creationTimestamp).toBe(created.metadata.creationTimestamp);

      const labelsOnly = await store.update({ ...upd, metadata: { ...upd.metadata, labels: { a: 'b' } } });
      expect(labelsOnly.metadata.generation).toBe(2);

      const del = await store.delete('VirtualService', 'default', 'reviews');
      expect(del.spec).toEqual({ hosts: ['reviews', 'ratings'] });
      expect(Number(del.metadata.resourceVersion)).toBeGreaterThan(Number(labelsOnly.metadata.resourceVersion));
      expect(await code(store.get('VirtualService', 'default', 'reviews'))).toBe('NotFound');
    });

    it('reports NotFound, AlreadyExists and Invalid with stable codes', async () => {
      await store.create(vs('a'));
      expect(await code(store.create(vs('a')))).toBe('AlreadyExists');
      expect(await code(store.get('VirtualService', 'default', 'nope'))).toBe('NotFound');
      expect(await code(store.update(vs('nope')))).toBe('NotFound');
      expect(await code(store.delete('VirtualService', 'default', 'nope'))).toBe('NotFound');
      expect(await code(store.create({ ...vs('x'), metadata: { name: 'a/b', namespace: 'default' } }))).toBe('Invalid');
      try {
        await store.create(vs('a'));
      } catch (err) {
        expect((err as { code: string }).code).toBe('BOWLINE_E_STORE_ALREADY_EXISTS');
      }
    });

    it('rejects a stale resourceVersion with Conflict, and lets exactly one of two racing writers win', async () => {
      const c = await store.create(vs('r'));
      await store.update({ ...c, spec: { hosts: ['x'] } });
      expect(await code(store.update({ ...c, spec: { hosts: ['y'] } }))).toBe('Conflict');
      expect(await code(store.delete('VirtualService', 'default', 'r', c.metadata.resourceVersion))).toBe('Conflict');

      const cur = await store.get('VirtualService', 'default', 'r');
      const results = await Promise.all([1, 2, 3].map((i) => code(store.update({ ...cur, spec: { hosts: [`h${i}`] } }))));
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r === 'Conflict')).toHaveLength(2);
    });

    it('lists one namespace or all, sorted, with the revision read at', async () => {
      await store.create(vs('b', 'ns2'));
      await store.create(vs('a', 'ns2'));
      await store.create(vs('c', 'ns1'));
      const last = await store.create({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'd', namespace: 'ns1' }, spec: { host: 'reviews' } });
      const ns2 = await store.list('VirtualService', 'ns2');
      expect(ns2.items.map((o) => o.metadata.name)).toEqual(['a', 'b']);
      const all = await store.list('VirtualService');
      expect(all.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['ns1/c', 'ns2/a', 'ns2/b']);
      const after = await store.revision();
      expect(all.revision).toBeGreaterThanOrEqual(Number(last.metadata.resourceVersion));
      if (fx.othersWrite) expect(all.revision).toBeLessThanOrEqual(after);
      else expect(all.revision).toBe(after);
      expect((await store.list('Gateway')).items).toEqual([]);
    });

    it('watches ADDED, MODIFIED, DELETED in order, filtered by kind and namespace, and replays from a revision', async () => {
      const start = await store.revision();
      const seen: WatchEvent[] = [];
      const w = store.watch({ kind: 'VirtualService', namespace: 'default' }, (ev) => seen.push(ev));
      const a = await store.create(vs('a'));
      await store.create(vs('other', 'elsewhere'));
      await store.create({ ...vs('dr'), kind: 'DestinationRule', spec: { host: 'reviews' } });
      const a2 = await store.update({ ...a, spec: { hosts: ['z'] } });
      await store.delete('VirtualService', 'default', 'a');
      await waitFor(() => seen.length >= 3, { what: 'three watch events' });
      expect(seen.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
      expect(seen[1]!.object.metadata.resourceVersion).toBe(a2.metadata.resourceVersion);
      expect(seen[2]!.object.spec).toEqual({ hosts: ['z'] });
      expect(seen.map((e) => e.revision)).toEqual([...seen.map((e) => e.revision)].sort((x, y) => x - y));
      w.close();

      const replay: WatchEvent[] = [];
      const w2 = store.watch({ kind: 'VirtualService' }, (ev) => replay.push(ev), { fromRevision: start });
      await waitFor(() => replay.length >= 4, { what: 'replayed events' });
      expect(replay.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`)).toEqual([
        'ADDED default/a', 'ADDED elsewhere/other', 'MODIFIED default/a', 'DELETED default/a',
      ]);
      w2.close();
    });

    it('keeps raw keys beside resources on one revision sequence', async () => {
      const r1 = await store.putRaw('ca/root', 'pem');
      const res = await store.create(vs('a'));
      const r2 = await store.putRaw('ca/root', 'pem2');
      expect(Number(res.metadata.resourceVersion)).toBeGreaterThan(r1);
      expect(r2).toBeGreaterThan(Number(res.metadata.resourceVersion));
      const e = await store.getRaw('ca/root');
      expect(e).toMatchObject({ key: 'ca/root', value: 'pem2', modRevision: r2, createRevision: r1 });
      expect(await code(store.putRaw('ca/root', 'x', { expectedModRevision: r1 }))).toBe('Conflict');
      expect(await code(store.putRaw('ca/root', 'x', { expectedModRevision: 0 }))).toBe('AlreadyExists');
      await store.putRaw('ca/x', '1');
      await store.putRaw('cb', '2');
      expect((await store.listRaw('ca/')).entries.map((x) => x.key)).toEqual(['ca/root', 'ca/x']);
      expect((await store.listRaw('')).entries.map((x) => x.key)).toEqual(['ca/root', 'ca/x', 'cb']);
      expect(await store.deleteRaw('ca/x')).toBe(true);
      expect(await store.deleteRaw('ca/x')).toBe(false);
      expect(await store.getRaw('ca/x')).toBeUndefined();
      expect(await code(store.putRaw('resources/VirtualService/a/b', 'x'))).toBe('Invalid');
    });

    it('expires TTL keys with a DELETED event carrying the last value; keepAlive renews the lease', async () => {
      const events: WatchEvent<RawEntry>[] = [];
      const w = store.watchRaw('registry/', (ev) => events.push(ev));
      await store.putRaw('registry/w1', 'one', { ttlMs: 1000 });
      await store.putRaw('registry/w2', 'two', { ttlMs: 60_000 });
      await store.keepAlive('registry/w2');
      expect((await store.getRaw('registry/w1'))?.ttlMs).toBe(1000);
      await fx.passTime(1500);
      await waitFor(() => events.some((e) => e.type === 'DELETED'), { timeoutMs: fx.expiryWaitMs, what: 'lease expiry' });
      const del = events.find((e) => e.type === 'DELETED')!;
      expect(del.object).toMatchObject({ key: 'registry/w1', value: 'one' });
      expect(await store.getRaw('registry/w1')).toBeUndefined();
      expect((await store.getRaw('registry/w2'))?.value).toBe('two');
      expect(await code(store.keepAlive('registry/w1'))).toBe('NotFound');
      expect(events.map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'DELETED']);
      w.close();
    });

    it('reports healthy', async () => {
      expect(await store.healthy()).toBe(true);
    });
  });
}
