import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { openEmbeddedStore, type Store } from '../store/index.js';
import { resolveKind } from './kinds.js';
import { parseMeshConfig } from '../api/index.js';
import { MeshConfigError, MeshConfigSource, meshIdOf } from './mesh.js';
import { mergePatch } from './merge-patch.js';
import { tempDir } from '../../test/support/temp.js';

describe('mesh config sources', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = tempDir('bowline-mesh-');
    store = await openEmbeddedStore({ dir: join(dir, 'store') });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('mesh id: --mesh-id, else defaultConfig.meshId (file or ConfigMap), else the trust domain; a top-level meshId is not read', async () => {
    const file = join(dir, 'mesh.yaml');
    writeFileSync(file, 'trustDomain: corp.example\nmeshId: top-level\n');
    const src = new MeshConfigSource({ file });
    await src.start(store);
    expect(src.get().meshId).toBe('corp.example');
    const seen: string[] = [];
    src.subscribe((m) => seen.push(m.meshId!));
    await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'defaultConfig:\n  meshId: from-configmap\n' } });
    await waitFor(() => seen.length === 1, { what: 'mesh config change' });
    expect(seen).toEqual(['from-configmap']);
    src.stop();
    const flagged = new MeshConfigSource({ file, meshId: 'from-flag' });
    await flagged.start(store);
    expect(flagged.get().meshId).toBe('from-flag');
    flagged.stop();
    expect(meshIdOf(parseMeshConfig('').mesh, undefined)).toBe('cluster.local');
  });

  it('layers defaults < file < istio ConfigMap < flags, and follows ConfigMap changes', async () => {
    const file = join(dir, 'mesh.yaml');
    writeFileSync(file, 'accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n');
    const src = new MeshConfigSource({ file, trustDomain: 'flag.example' });
    await src.start(store);
    expect(src.get()).toMatchObject({ accessLogFile: '/dev/stdout', outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' }, trustDomain: 'flag.example', rootNamespace: 'istio-system', enableAutoMtls: true });
    const seen: string[] = [];
    src.subscribe((m) => seen.push(m.outboundTrafficPolicy.mode));
    await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'outboundTrafficPolicy:\n  mode: ALLOW_ANY\ntrustDomain: cm.example\n' } });
    await waitFor(() => seen.length === 1, { what: 'mesh config change' });
    expect(seen).toEqual(['ALLOW_ANY']);
    expect(src.get().accessLogFile).toBe('/dev/stdout');
    expect(src.get().trustDomain).toBe('flag.example');
    await store.delete('ConfigMap', 'istio-system', 'istio');
    await waitFor(() => seen.length === 2, { what: 'mesh config back to the file' });
    expect(src.get().outboundTrafficPolicy.mode).toBe('REGISTRY_ONLY');
    src.stop();
  });

  it('refuses an invalid file with located violations', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'enableAutoMtls: maybe\n');
    expect(() => new MeshConfigSource({ file })).toThrow(MeshConfigError);
    expect(() => new MeshConfigSource({ file: join(dir, 'missing.yaml') })).toThrow(/cannot read/);
  });
});

describe('kind names and merge patch', () => {
  it('resolves short names, plurals, singulars and kinds in any case', () => {
    for (const w of ['vs', 'VS', 'virtualservice', 'VirtualServices', 'virtualservices.networking.istio.io']) expect(resolveKind(w)?.kind).toBe('VirtualService');
    expect(['dr', 'gw', 'se', 'we', 'pa', 'ap', 'ra', 'cm', 'sidecar', 'meshpolicies'].map((w) => resolveKind(w)?.kind)).toEqual(['DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication', 'ConfigMap', 'Sidecar', 'MeshPolicy']);
    expect(resolveKind('vs.security.istio.io')).toBeUndefined();
    expect(resolveKind('pods')).toBeUndefined();
  });

  it('follows RFC 7386', () => {
    expect(mergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } })).toEqual({ a: 'z', c: { d: 'e' } });
    expect(mergePatch({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
    expect(mergePatch({ a: 1 }, null)).toBeNull();
    expect(mergePatch('x', { a: { b: null } })).toEqual({ a: {} });
  });
});
