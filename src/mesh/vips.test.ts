import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../model/service.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { parseVipCidr, VIP_PREFIX, VipAllocator } from './vips.js';
import { tempDir } from '../../test/support/temp.js';

const homes: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

async function open(home?: string): Promise<{ store: Store; home: string }> {
  const h = home ?? tempDir('bowline-vips-');
  if (!home) homes.push(h);
  const store = await openStore('embedded', { home: h });
  stores.push(store);
  return { store, home: h };
}

const svc = (hostname: string, extra: Partial<Service> = {}): Service => ({ hostname, name: hostname, namespace: 'default', aliases: [hostname], localAliases: [], ports: [{ name: 'http', port: 80, protocol: 'HTTP' }], resolution: 'STATIC', location: 'MESH_INTERNAL', source: 'universal', ...extra });

/** Resolves once every allocation made so far is in the store. */
async function stored(store: Store, n: number): Promise<Map<string, string>> {
  for (;;) {
    const { entries } = await store.listRaw(VIP_PREFIX);
    if (entries.length >= n) return new Map(entries.map((e) => [e.key.slice(VIP_PREFIX.length), e.value]));
    await new Promise((r) => setImmediate(r));
  }
}

describe('virtual IP allocation', () => {
  it('gives services without addresses an address in 240.240.0.0/16, and none to the others', async () => {
    const { store } = await open();
    const a = new VipAllocator({ store });
    await a.start();
    const out = a.assign([svc('reviews.default.svc.cluster.local'), svc('db.example', { addresses: ['10.0.0.1'] }), svc('pass.example', { resolution: 'NONE' }), svc('*.wild.example'), svc('ext.example', { resolution: 'DNS' })]);
    expect(out[0]!.vip).toMatch(/^240\.240\.\d+\.\d+$/);
    expect(out[1]!.vip).toBeUndefined();
    expect(out[2]!.vip).toBeUndefined();
    expect(out[3]!.vip).toBeUndefined();
    expect(out[4]!.vip).toMatch(/^240\.240\./);
    expect(out[4]!.vip).not.toBe(out[0]!.vip);
    a.stop();
  });

  it('keeps every address across a restart of the control plane (allocations live in the store)', async () => {
    const first = await open();
    const a = new VipAllocator({ store: first.store });
    await a.start();
    const hosts = Array.from({ length: 50 }, (_, i) => `svc${i}.default.svc.cluster.local`);
    const before = a.assign(hosts.map((h) => svc(h))).map((s) => s.vip);
    expect(new Set(before).size).toBe(50);
    await stored(first.store, 50);
    a.stop();
    await first.store.close();
    stores.splice(stores.indexOf(first.store), 1);
    const again = await open(first.home);
    const b = new VipAllocator({ store: again.store });
    await b.start();
    // Another order, and a service that went away meanwhile: the others keep their addresses.
    expect(b.assign(hosts.slice(1).reverse().map((h) => svc(h))).map((s) => s.vip)).toEqual(before.slice(1).reverse());
    b.stop();
  });

  it('two replicas on one store end up with the same address for a host', async () => {
    const { store } = await open();
    const a = new VipAllocator({ store, cidr: '10.200.0.0/24' });
    await a.start();
    a.assign([svc('x.example'), svc('one.example')]);
    const theirs = await stored(store, 2);
    let changed = 0;
    const b = new VipAllocator({ store, cidr: '10.200.0.0/24', onChange: () => changed++ });
    await b.start();
    expect(b.assign([svc('one.example')])[0]!.vip).toBe(theirs.get('one.example'));
    expect(changed).toBe(0);
    a.stop();
    b.stop();
  });

  it('reuses the address of a service gone longest only when the range is full', async () => {
    const { store } = await open();
    const logs: string[] = [];
    const a = new VipAllocator({ store, cidr: '10.1.2.0/30', log: (l) => logs.push(l) });
    await a.start();
    const [x, y] = a.assign([svc('x.example'), svc('y.example')]).map((s) => s.vip);
    expect(new Set([x, y])).toEqual(new Set(['10.1.2.1', '10.1.2.2']));
    expect(a.assign([svc('x.example'), svc('y.example'), svc('z.example')])[2]!.vip).toBeUndefined();
    expect(logs.join('\n')).toContain('is full');
    const z = a.assign([svc('x.example'), svc('z.example')]);
    expect(z.map((s) => s.vip)).toEqual([x, y]);
    a.stop();
  });

  it('refuses a range that is not an IPv4 CIDR', () => {
    expect(() => parseVipCidr('240.240.0.0')).toThrow(/IPv4 CIDR/);
    expect(() => parseVipCidr('fd00::/64')).toThrow(/IPv4 CIDR/);
    expect(parseVipCidr('240.240.0.0/16')).toEqual({ base: 0xf0f00001, size: 65534 });
  });
});
