// The etcd store on a real three-member cluster: each member in turn is killed, and reads,
// writes, watches and leases carry on through the other two.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import { startEtcd, type EtcdCluster } from '../../src/store/etcd/etcd-process.js';
import type { Store, WatchEvent } from '../../src/store/index.js';
import { waitFor } from '../support/wait.js';

let etcd: EtcdCluster;
beforeAll(async () => { etcd = await startEtcd(3); });
afterAll(async () => { await etcd?.stop(); });

const vs = (name: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: [name] } });

describe('etcd store on a three-member cluster', () => {
  it('keeps reading, writing and watching while any one member is dead', async () => {
    const a: Store = await openEtcdStore({ endpoints: etcd.url });
    const b: Store = await openEtcdStore({ endpoints: etcd.url }); // a second control-plane replica
    try {
      const seen: WatchEvent[] = [];
      b.watch({ kind: 'VirtualService' }, (e) => seen.push(e));
      for (let i = 0; i < 5; i++) await a.create(vs(`before-${i}`));
      await waitFor(() => seen.length === 5, { what: 'replica b sees 5 creates' });

      // Kill each member in turn (so whichever one carries a store's watch dies at some point):
      // with two of three alive, writes, reads and watches go on.
      let expected = 5;
      for (let m = 0; m < 3; m++) {
        await etcd.members[m]!.kill();
        const written: string[] = [];
        await waitFor(async () => {
          const name = `m${m}-${written.length}`;
          try {
            await a.create(vs(name));
            written.push(name);
          } catch (err) {
            // A call may land on the dead member while the client notices, or a retried create may find its own write.
            if ((err as { reason?: string }).reason === 'AlreadyExists') written.push(name);
          }
          return written.length >= 3;
        }, { timeoutMs: 30_000, what: `three writes with member ${m} down` });
        expected += 3;
        await waitFor(() => seen.length === expected, { timeoutMs: 30_000, what: `replica b's watch sees the writes with member ${m} down (${seen.length}/${expected})` });
        const listed = await waitFor(async () => (await b.list('VirtualService', 'default').catch(() => undefined)), { timeoutMs: 30_000, what: 'list on replica b' });
        expect(listed!.items).toHaveLength(expected);
        const got = await waitFor(() => a.get('VirtualService', 'default', `m${m}-2`).catch(() => undefined), { timeoutMs: 30_000, what: 'read on replica a' });
        expect(got!.spec).toEqual({ hosts: [`m${m}-2`] });
        if (m < 2) {
          await etcd.restart(m);
          // The next kill must leave a quorum: wait until the restarted member is healthy (restart does).
        }
      }
      expect(seen.map((e) => e.type).every((t) => t === 'ADDED')).toBe(true);
      expect(seen.map((e) => e.revision)).toEqual([...seen.map((e) => e.revision)].sort((x, y) => x - y));

      // Leases still work with two members.
      await a.putRaw('registry/w', 'x', { ttlMs: 60_000 });
      await a.keepAlive('registry/w');
      await waitFor(async () => (await b.getRaw('registry/w').catch(() => undefined))?.value === 'x', { what: 'TTL key visible on b' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('renews a lease every time while a member is dead', async () => {
    // A renewal is a stream, which the etcd client's own retry does not cover, and opening one
    // counts as a success in the member's breaker: the client keeps picking the dead member at
    // random (one call in three here), so the store must go around it itself.
    await etcd.members[2]!.kill(); // (the test before leaves it dead; members 0 and 1 are alive)
    const c: Store = await openEtcdStore({ endpoints: etcd.url });
    try {
      await c.putRaw('registry/renewed', 'x', { ttlMs: 60_000 });
      // Past the breaker the failed put may have opened (500 ms), so renewals may pick the dead member again.
      await sleep(700);
      for (let i = 0; i < 30; i++) await c.keepAlive('registry/renewed');
      expect((await c.getRaw('registry/renewed'))?.value).toBe('x');
    } finally {
      await c.close();
    }
  });
});
