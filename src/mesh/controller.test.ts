import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { startTestMeshController } from '../../test/support/mesh-controller.js';
import { defaultMeshConfig } from '../api/index.js';
import type { MeshSnapshot } from '../model/snapshot.js';
import { AggregateRegistry } from '../registry/registry.js';
import { ManualRegistry } from '../registry/manual/manual.js';
import { openEmbeddedStore, type Store } from '../store/index.js';
import { MeshController } from './controller.js';
import { openSecretData, parseKek, sealSecretData } from '../ca/index.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tempDir } from '../../test/support/temp.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const setup = () => startTestMeshController(cleanup);

describe('mesh controller', () => {
  it('builds one snapshot per burst of writes, with config from the store and services from the registries', async () => {
    const { store, controller } = await setup();
    const seen: MeshSnapshot[] = [];
    controller.onSnapshot((s) => seen.push(s));
    const vs = (name: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: [name], http: [{ route: [{ destination: { host: name } }] }] } });
    await Promise.all([store.create(vs('a')), store.create(vs('b')), store.create(vs('c'))]);
    await store.create({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'ext', namespace: 'default' }, spec: { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' } });
    await waitFor(() => controller.current().configs('VirtualService').length === 3 && controller.current().serviceByHost.has('api.example.com'));
    expect(seen.length).toBeLessThanOrEqual(3);
    expect(seen.at(-1)!.changed.has('services')).toBe(true);
  });

  it('maps a legacy MeshPolicy to a mesh-wide PeerAuthentication in the snapshot', async () => {
    const { store, controller } = await setup();
    await store.create({ apiVersion: 'authentication.istio.io/v1alpha1', kind: 'MeshPolicy', metadata: { name: 'default', namespace: '_cluster' }, spec: { peers: [{ mtls: {} }] } });
    await waitFor(() => controller.current().configs('PeerAuthentication').length === 1);
    expect(controller.current().configs('PeerAuthentication')[0]).toMatchObject({ metadata: { namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } });
  });
});

describe('credentials from Secrets', () => {
  it('decodes sealed Secrets into credentials (credentialName): kept while unchanged, gone when deleted, a wrong key reported', async () => {
    const dir = tempDir('bowline-ctl-cred-');
    const store: Store = await openEmbeddedStore({ dir: join(dir, 'store') });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close());
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=gw', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    const kek = parseKek('a'.repeat(64), 'test');
    const other = parseKek('b'.repeat(64), 'test');
    const secret = (name: string, k = kek) => sealSecretData(k, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'istio-system' }, type: 'kubernetes.io/tls' }, { 'tls.crt': readFileSync(join(dir, 'c.pem')).toString('base64'), 'tls.key': readFileSync(join(dir, 'k.pem')).toString('base64') });
    const logs: string[] = [];
    const controller = new MeshController({ store, registry: new AggregateRegistry([new ManualRegistry(store)]), mesh: defaultMeshConfig(), debounceMs: 10, maxDelayMs: 50, openSecret: (o) => openSecretData(kek, o as never), log: (l) => logs.push(l) });
    await store.create(secret('gw-cred'));
    await controller.start();
    cleanup.push(() => controller.stop());
    const first = controller.current().credential('istio-system', 'gw-cred');
    expect(first?.cert).toContain('BEGIN CERTIFICATE');
    await store.create(secret('sealed-elsewhere', other));
    await waitFor(() => controller.current().credential('istio-system', 'sealed-elsewhere') !== undefined);
    expect(controller.current().credential('istio-system', 'sealed-elsewhere')?.problem).toMatch(/cannot be opened/);
    expect(controller.current().credential('istio-system', 'gw-cred')).toBe(first);
    expect(logs.some((l) => l.includes('Secret istio-system/sealed-elsewhere cannot be opened'))).toBe(true);
    await store.delete('Secret', 'istio-system', 'gw-cred');
    await waitFor(() => controller.current().credential('istio-system', 'gw-cred') === undefined);
    expect(controller.current().changed.has('credentials')).toBe(true);
  });
});
