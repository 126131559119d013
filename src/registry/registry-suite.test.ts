// The shared registry suite (registry.suite.ts) against every registry that runs in a unit test:
// universal, ServiceEntry and manual over a real embedded store, Marathon against the stand-in
// Marathon (test/support/marathon.ts: Marathon itself cannot run here). The Kubernetes registry
// passes it against a real kube-apiserver in test/e2e/kube-registry-suite.test.ts.
import { rmSync } from 'node:fs';
import { FakeMarathon } from '../../test/support/marathon.js';
import { openEmbeddedStore, type Store } from '../store/index.js';
import { ManualRegistry, registerManual, unregisterManual } from './manual/manual.js';
import { MarathonRegistry } from './marathon/marathon.js';
import type { MarathonApp } from './marathon/types.js';
import { registrySuite } from './registry.suite.js';
import { ServiceEntryRegistry } from './serviceentry/serviceentry.js';
import { UniversalRegistry, universalKey, type Announcement } from './universal/universal.js';
import { tempDir } from '../../test/support/temp.js';

async function withStore(): Promise<{ store: Store; close: () => Promise<void> }> {
  const dir = tempDir('bowline-regsuite-');
  const store = await openEmbeddedStore({ dir });
  return { store, close: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

registrySuite('universal (proxies announce themselves)', async () => {
  const { store, close } = await withStore();
  const registry = new UniversalRegistry(store);
  const published = new Map<string, string[]>();
  const ann = (ns: string, name: string, address: string): Announcement => ({
    name: `${name}-${address.replace(/\./g, '-')}`, namespace: ns, serviceAccount: name, labels: { app: name }, address,
    services: [{ service: name, port: 80, protocol: 'HTTP' }], portMap: { '80': 8080 },
  });
  const unpublish = async (ns: string, name: string) => {
    for (const a of published.get(`${ns}/${name}`) ?? []) await store.deleteRaw(universalKey(ann(ns, name, a), `${a}.${ns}`));
    published.delete(`${ns}/${name}`);
  };
  return {
    registry,
    async publish(ns, name, addresses) {
      await unpublish(ns, name);
      for (const a of addresses) await store.putRaw(universalKey(ann(ns, name, a), `${a}.${ns}`), JSON.stringify({ proxyId: `${a}.${ns}`, announcement: ann(ns, name, a) }));
      published.set(`${ns}/${name}`, addresses);
      return `${name}.${ns}.svc.cluster.local`;
    },
    unpublish,
    close,
  };
});

registrySuite('serviceentry (ServiceEntry with endpoints)', async () => {
  const { store, close } = await withStore();
  const meta = (ns: string, name: string) => ({ name, namespace: ns });
  return {
    registry: new ServiceEntryRegistry(store),
    async publish(ns, name, addresses) {
      const host = `${name}.${ns}.example.mesh`;
      const obj = { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: meta(ns, name),
        spec: { hosts: [host], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: addresses.map((address) => ({ address })) } };
      const have = await store.get('ServiceEntry', ns, name).catch(() => undefined);
      if (have) await store.update({ ...obj, metadata: { ...have.metadata } } as never);
      else await store.create(obj as never);
      return host;
    },
    async unpublish(ns, name) {
      await store.delete('ServiceEntry', ns, name);
    },
    close,
  };
});

registrySuite('manual (bowline register)', async () => {
  const { store, close } = await withStore();
  const published = new Map<string, string[]>();
  const unpublish = async (ns: string, name: string) => {
    for (const address of published.get(`${ns}/${name}`) ?? []) await unregisterManual(store, { namespace: ns, service: name, address });
    published.delete(`${ns}/${name}`);
  };
  return {
    registry: new ManualRegistry(store),
    async publish(ns, name, addresses) {
      await unpublish(ns, name);
      for (const address of addresses) await registerManual(store, { service: name, namespace: ns, address, ports: [{ name: 'http', port: 80 }] });
      published.set(`${ns}/${name}`, addresses);
      return `${name}.${ns}.svc.cluster.local`;
    },
    unpublish,
    close,
  };
});

registrySuite('marathon (apps and their tasks, against the stand-in Marathon)', async () => {
  const m = await new FakeMarathon().start();
  const id = (ns: string, name: string) => `/${ns}/${name}`;
  const app = (ns: string, name: string, addresses: string[]): MarathonApp => ({
    id: id(ns, name), instances: addresses.length, labels: { istio: name }, portDefinitions: [{ port: 80, name: 'http' }],
    tasks: addresses.map((host, i) => ({ id: `${ns}_${name}.${i}`, appId: id(ns, name), host, ports: [31000 + i], state: 'TASK_RUNNING' })),
  });
  return {
    registry: new MarathonRegistry({ url: m.url, backoffMs: { min: 20, max: 100 } }),
    async publish(ns, name, addresses) {
      m.apps.set(id(ns, name), app(ns, name, addresses));
      m.emit({ eventType: 'deployment_success', id: 'd', plan: { target: { apps: [{ id: id(ns, name) }] } } });
      return `${name}.${ns}.svc.cluster.local`;
    },
    async unpublish(ns, name) {
      m.apps.delete(id(ns, name));
      m.emit({ eventType: 'app_terminated_event', appId: id(ns, name) });
    },
    close: () => m.stop(),
  };
});
