import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, openEmbeddedStore, type Store } from '../store/index.js';
import { parsePorts, ManualRegistry, registerManual } from './manual/manual.js';
import { serviceEntryView } from './serviceentry/serviceentry.js';
import { UniversalRegistry, type Announcement } from './universal/universal.js';
import type { Resource } from '../api/types/meta.js';
import { tempDir } from '../../test/support/temp.js';

const dirs: string[] = [];
const stores: Store[] = [];
async function store(clock?: FakeClock): Promise<Store> {
  const dir = tempDir('bowline-reg-');
  dirs.push(dir);
  const s = await openEmbeddedStore({ dir, ...(clock ? { clock, sweepMs: 10 } : {}) });
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const reviewsV1: Announcement = {
  name: 'reviews-v1', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v1' },
  address: '127.0.0.1', services: [{ service: 'reviews', port: 9080, protocol: 'HTTP' }], portMap: { '9080': 19080 },
};

describe('universal registry', () => {
  it('turns an announcement into a service with every host name and an endpoint at the proxy inbound port', async () => {
    const s = await store();
    const reg = new UniversalRegistry(s, { domains: { clusterDomain: 'cluster.local', extraDomains: ['marathon.slave.mesos'] } });
    await reg.start();
    const changed = new Promise<void>((r) => reg.onChange(r));
    const h = await reg.register('reviews-v1-1.default', reviewsV1);
    await changed;
    const v = reg.view();
    expect(v.services.map((x) => x.aliases)).toEqual([['reviews.default.svc.cluster.local', 'reviews.default.svc.marathon.slave.mesos', 'reviews.default.svc', 'reviews.default']]);
    expect(v.services[0]!.localAliases).toEqual(['reviews']);
    expect(v.endpoints).toMatchObject([{ service: 'reviews.default.svc.cluster.local', servicePort: 9080, address: '127.0.0.1', port: 19080, labels: { version: 'v1' }, tlsMode: 'istio' }]);
    h.close();
    await reg.stop();
  });

  it('keeps a closed registration for the grace period (its TTL) and drops it after', async () => {
    const clock = new FakeClock();
    const s = await store(clock);
    const reg = new UniversalRegistry(s, { ttlMs: 1000, setInterval: () => 0, clearInterval: () => {} });
    await reg.start();
    const h = await reg.register('p1', reviewsV1);
    h.close();
    // A second registry (another replica, or a restarted control plane) sees it from the store.
    const other = new UniversalRegistry(s);
    await other.start();
    expect(other.view().endpoints).toHaveLength(1);
    const gone = new Promise<void>((r) => other.onChange(r));
    clock.advance(1500);
    await gone;
    expect(other.view().endpoints).toHaveLength(0);
    await reg.stop();
    await other.stop();
  });
});

describe('manual registry', () => {
  it('parses [PORTNAME:]PORT and rejects bad ports', () => {
    expect(parsePorts(['3306', 'mysql:3307'])).toEqual([{ name: 'http', port: 3306 }, { name: 'mysql', port: 3307 }]);
    expect(() => parsePorts(['x:99999'])).toThrow(/1-65535/);
    expect(() => parsePorts([])).toThrow(/required/);
  });

  it('reports registered instances as plaintext endpoints', async () => {
    const s = await store();
    const reg = new ManualRegistry(s);
    await reg.start();
    const changed = new Promise<void>((r) => reg.onChange(r));
    await registerManual(s, { service: 'mysql', namespace: 'default', address: '10.0.0.7', ports: [{ name: 'tcp', port: 3306 }] });
    await changed;
    expect(reg.view().services[0]).toMatchObject({ hostname: 'mysql.default.svc.cluster.local', ports: [{ port: 3306, protocol: 'TCP' }], source: 'manual' });
    expect(reg.view().endpoints[0]).toMatchObject({ address: '10.0.0.7', port: 3306, tlsMode: 'disabled' });
    await reg.stop();
  });
});

describe('serviceentry registry', () => {
  const se = (spec: unknown, name = 'ext'): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' }, spec });
  it('maps STATIC endpoints, DNS and NONE resolution and location', () => {
    const v = serviceEntryView([
      se({ hosts: ['api.example.com'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], resolution: 'DNS' }, 'a'),
      se({ hosts: ['db.internal'], location: 'MESH_INTERNAL', ports: [{ number: 5432, name: 'tcp' }], resolution: 'STATIC', endpoints: [{ address: '10.1.1.1' }, { address: '10.1.1.2', ports: { tcp: 6432 } }] }, 'b'),
    ], []);
    expect(v.services.map((s) => [s.hostname, s.resolution, s.location])).toEqual([['api.example.com', 'DNS', 'MESH_EXTERNAL'], ['db.internal', 'STATIC', 'MESH_INTERNAL']]);
    expect(v.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['10.1.1.1:5432', '10.1.1.2:6432']);
  });

  it('selects WorkloadEntries by workloadSelector in the same namespace', () => {
    const we = (name: string, ns: string, labels: Record<string, string>, address: string): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name, namespace: ns }, spec: { address, labels } });
    const v = serviceEntryView([se({ hosts: ['vm.svc'], location: 'MESH_INTERNAL', ports: [{ number: 80, name: 'http' }], workloadSelector: { labels: { app: 'vm' } } })], [
      we('vm1', 'default', { app: 'vm', 'security.istio.io/tlsMode': 'istio' }, '10.0.0.1'),
      we('vm2', 'other', { app: 'vm' }, '10.0.0.2'),
      we('x', 'default', { app: 'x' }, '10.0.0.3'),
    ]);
    expect(v.endpoints.map((e) => [e.address, e.tlsMode])).toEqual([['10.0.0.1', 'istio']]);
  });
});
