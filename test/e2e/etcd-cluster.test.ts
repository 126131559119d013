// The etcd store on a real three-member cluster: one member is killed, and reads, writes and
// watches carry on through the other two.
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
  it('keeps reading, writing and watching when one member dies', async () => {
    const a: Store = await openEtcdStore({ endpoints: etcd.url });
    const b: Store = await openEtcdStore({ endpoints: etcd.url }); // a second control-plane replica
    try {
      const seen: WatchEvent[] = [];
      b.watch({ kind: 'VirtualService' }, (e) => seen.push(e));
      for (let i = 0; i < 5; i++) await a.create(vs(`before-${i}`));
      await waitFor(() => seen.length === 5, { what: 'replica b sees 5 creates' });

      // Kill the member replica a is most likely talking to (any will do: both stores use all three).
      await etcd.members[0]!.kill();

      const written: string[] = [];
      await waitFor(async () => {
        try {
          await a.create(vs(`after-${written.length}`));
          written.push(`after-${written.length}`);
        } catch { /* a call may land on the dead member while the client notices */ }
        return written.length >= 5;
      }, { timeoutMs: 30_000, what: 'five writes after the kill' });
      await waitFor(() => seen.length === 10, { timeoutMs: 30_000, what: 'replica b sees the writes made after the kill' });
      const listed = await waitFor(async () => (await b.list('VirtualService', 'default').catch(() => undefined)), { timeoutMs: 30_000, what: 'list on replica b' });
      expect(listed!.items).toHaveLength(10);
      const got = await waitFor(() => a.get('VirtualService', 'default', 'after-4').catch(() => undefined), { timeoutMs: 30_000, what: 'read on replica a' });
      expect(got!.spec).toEqual({ hosts: ['after-4'] });
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
});
