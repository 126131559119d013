import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall } from '../../test/support/http.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { tempDir } from '../../test/support/temp.js';

let cp: ControlPlane;
let home: string;
const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => apiCall(cp.apiUrl, method, path, body, headers);
const admin = () => ({ authorization: `Bearer ${cp.adminToken}` });

beforeAll(async () => {
  home = tempDir('bowline-core-');
  cp = await startControlPlane({ home, listenApi: '127.0.0.1:0', log: () => {} });
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('core kinds: Namespace, Secret, Event', () => {
  it('labels a namespace that was never created, and lists every namespace in use', async () => {
    const got = await call('GET', '/api/v1/namespaces/shop');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' }, status: { phase: 'Active' } });
    expect(got.body.metadata.namespace).toBeUndefined();
    const p = await call('PATCH', '/api/v1/namespaces/shop', JSON.stringify({ metadata: { labels: { 'istio-injection': 'enabled' } } }), { 'content-type': 'application/strategic-merge-patch+json' });
    expect(p.status).toBe(200);
    expect(p.body.metadata.labels).toEqual({ 'istio-injection': 'enabled' });
    expect((await call('GET', '/api/v1/namespaces/shop')).body.metadata.labels).toEqual({ 'istio-injection': 'enabled' });
    const cm = await call('POST', '/api/v1/namespaces/books/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } });
    expect(cm.status).toBe(201);
    const list = await call('GET', '/api/v1/namespaces');
    expect(list.body.kind).toBe('NamespaceList');
    expect(list.body.items.map((n: any) => n.metadata.name)).toEqual(expect.arrayContaining(['books', 'default', 'istio-system', 'shop']));
    const sel = await call('GET', '/api/v1/namespaces?labelSelector=istio-injection%3Denabled');
    expect(sel.body.items.map((n: any) => n.metadata.name)).toEqual(['shop']);
    const field = await call('GET', '/api/v1/namespaces?fieldSelector=metadata.name%3Dbooks');
    expect(field.body.items.map((n: any) => n.metadata.name)).toEqual(['books']);
  });

  it('keeps Secret values sealed at rest, shows them only to the admin token, never in lists', async () => {
    const body = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cred' }, type: 'Opaque', stringData: { password: 'hunter2-plaintext' }, data: { user: Buffer.from('alice-user').toString('base64') } };
    const c = await call('POST', '/api/v1/namespaces/istio-system/secrets', body);
    expect(c.status).toBe(201);
    expect(c.body.data).toBeUndefined();
    expect(JSON.stringify(c.body)).not.toContain('hunter2');
    const stored = await cp.store.get('Secret', 'istio-system', 'cred');
    const raw = JSON.stringify(stored);
    expect(raw).not.toContain('hunter2');
    expect(raw).not.toContain(Buffer.from('hunter2-plaintext').toString('base64'));
    expect(raw).not.toContain(Buffer.from('alice-user').toString('base64'));
    const anon = await call('GET', '/api/v1/namespaces/istio-system/secrets/cred');
    expect(anon.status).toBe(403);
    expect(anon.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', details: { name: 'cred', kind: 'secrets' } });
    const g = await call('GET', '/api/v1/namespaces/istio-system/secrets/cred', undefined, admin());
    expect(g.status).toBe(200);
    expect(Buffer.from(g.body.data.password, 'base64').toString()).toBe('hunter2-plaintext');
    expect(Buffer.from(g.body.data.user, 'base64').toString()).toBe('alice-user');
    expect(g.body.stringData).toBeUndefined();
    const l = await call('GET', '/api/v1/secrets', undefined, admin());
    expect(l.body.items.map((s: any) => s.metadata.name)).toContain('cred');
    expect(JSON.stringify(l.body)).not.toMatch(/hunter2|aHVudGVy|YWxpY2U/);
    const bad = await call('POST', '/api/v1/namespaces/istio-system/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bad' }, data: { k: 'not base64!' } });
    expect(bad.status).toBe(422);
    const tls = await call('POST', '/api/v1/namespaces/istio-system/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gw' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'x' } });
    expect(tls.status).toBe(422);
    expect(tls.body.message).toContain('tls.key');
  });

  it('answers an always-empty Event list and refuses Event writes', async () => {
    const l = await call('GET', '/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dx,involvedObject.kind%3DVirtualService');
    expect(l.status).toBe(200);
    expect(l.body).toMatchObject({ kind: 'EventList', items: [] });
    expect((await call('POST', '/api/v1/namespaces/default/events', { metadata: { name: 'e' } })).status).toBe(405);
  });

  it('answers 400 (not 500) for a merge patch nested 100k deep and for a malformed labelSelector', async () => {
    await call('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'deep' }, data: {} });
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    const r = await call('PATCH', '/api/v1/namespaces/default/configmaps/deep', deep, { 'content-type': 'application/merge-patch+json' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/deeper than/);
    const post = await call('POST', '/api/v1/namespaces/default/configmaps', deep, { 'content-type': 'application/json' });
    expect(post.status).toBe(400);
    for (const sel of ['%%%', 'a=b=c', 'x in (a', '-bad=1', 'k=v v']) {
      const res = await fetch(`${cp.apiUrl}/apis/networking.istio.io/v1/virtualservices?labelSelector=${sel}`);
      expect(res.status, sel).toBe(400);
    }
    const ok = await call('GET', '/apis/networking.istio.io/v1/virtualservices?labelSelector=' + encodeURIComponent('app in (a,b),!legacy,tier!=db,example.com/x'));
    expect(ok.status).toBe(200);
    expect((await call('GET', '/apis/networking.istio.io/v1/virtualservices?fieldSelector=spec.hosts%3Dx')).status).toBe(400);
  });

  it('patches with json-patch and strategic merge (core kinds), refuses strategic merge for Istio kinds, names the object in a 409', async () => {
    const vsPath = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';
    const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, spec: { hosts: ['r'], http: [{ route: [{ destination: { host: 'r' } }] }] } };
    expect((await call('POST', vsPath, vs)).status).toBe(201);
    const dup = await call('POST', vsPath, vs);
    expect(dup.status).toBe(409);
    expect(dup.body.details).toEqual({ name: 'r', group: 'networking.istio.io', kind: 'virtualservices' });
    expect(dup.body.message).toBe('virtualservices.networking.istio.io "r" already exists');
    const jp = await call('PATCH', `${vsPath}/r`, JSON.stringify([{ op: 'add', path: '/spec/hosts/-', value: 'r2' }, { op: 'replace', path: '/spec/http/0/route/0/destination/host', value: 'r2' }]), { 'content-type': 'application/json-patch+json' });
    expect(jp.status).toBe(200);
    expect(jp.body.spec.hosts).toEqual(['r', 'r2']);
    expect(jp.body.spec.http[0].route[0].destination.host).toBe('r2');
    const miss = await call('PATCH', `${vsPath}/r`, JSON.stringify([{ op: 'remove', path: '/spec/nope' }]), { 'content-type': 'application/json-patch+json' });
    expect(miss.status).toBe(422);
    const smp = await call('PATCH', `${vsPath}/r`, JSON.stringify({ spec: { hosts: ['x'] } }), { 'content-type': 'application/strategic-merge-patch+json' });
    expect(smp.status).toBe(415);
    expect(smp.body.message).toContain('application/merge-patch+json');
    await call('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'smp' }, data: { a: '1', b: '2' } });
    const s = await call('PATCH', '/api/v1/namespaces/default/configmaps/smp', JSON.stringify({ data: { a: null, c: '3' } }), { 'content-type': 'application/strategic-merge-patch+json' });
    expect(s.body.data).toEqual({ b: '2', c: '3' });
  });
});

describe('patch edge cases', () => {
  it('answers 400 when a patch turns metadata into a non-object', async () => {
    await call('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'meta' }, data: {} });
    for (const body of ['{"metadata":1}', '{"metadata":[1]}']) {
      const r = await call('PATCH', '/api/v1/namespaces/default/configmaps/meta?dryRun=All', body, { 'content-type': 'application/merge-patch+json' });
      expect(r.status, body).toBe(400);
    }
    const jp = await call('PATCH', '/api/v1/namespaces/default/configmaps/meta', '[{"op":"replace","path":"/metadata","value":"x"}]', { 'content-type': 'application/json-patch+json' });
    expect(jp.status).toBe(400);
  });
});

describe('server-side apply', () => {
  it('creates, reports a conflict naming manager and field (409), and takes the field over with force', async () => {
    const path = '/apis/networking.istio.io/v1/namespaces/ssa/virtualservices/s';
    const body = (subset: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: s\nspec:\n  hosts: [s]\n  http:\n  - route:\n    - destination: {host: s, subset: ${subset}}\n`;
    const ct = { 'content-type': 'application/apply-patch+yaml' };
    const a = await call('PATCH', `${path}?fieldManager=alice`, body('v1'), ct);
    expect(a.status).toBe(201);
    expect(a.body.metadata.managedFields).toEqual([expect.objectContaining({ manager: 'alice', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:hosts': {}, 'f:http': {} } } })]);
    const same = await call('PATCH', `${path}?fieldManager=bob`, body('v1'), ct);
    expect(same.status).toBe(200);
    const c = await call('PATCH', `${path}?fieldManager=carol`, body('v2'), ct);
    expect(c.status).toBe(409);
    expect(c.body.message).toContain('conflict with "alice" using networking.istio.io/v1: .spec.http');
    expect(c.body.details).toMatchObject({ name: 's', group: 'networking.istio.io', kind: 'virtualservices', causes: expect.arrayContaining([{ reason: 'FieldManagerConflict', message: 'conflict with "alice" using networking.istio.io/v1', field: '.spec.http' }]) });
    const f = await call('PATCH', `${path}?fieldManager=carol&force=true`, body('v2'), ct);
    expect(f.status).toBe(200);
    expect(f.body.spec.http[0].route[0].destination.subset).toBe('v2');
    const owners = f.body.metadata.managedFields.filter((e: any) => e.fieldsV1['f:spec']?.['f:http']).map((e: any) => e.manager);
    expect(owners).toEqual(['carol']);
    expect((await call('PATCH', path, body('v3'), ct)).status).toBe(400);
    const upd = await call('PATCH', `${path}?fieldManager=kubectl-label`, JSON.stringify({ metadata: { labels: { x: 'y' } } }), { 'content-type': 'application/merge-patch+json' });
    expect(upd.body.metadata.managedFields.find((e: any) => e.manager === 'kubectl-label')).toMatchObject({ operation: 'Update', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:x': {} } } } });
  });
});
