import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { compareVersions } from './discovery.js';
import { decodeOpenApiV2, OPENAPI_V2_PROTOBUF } from './openapi-v2.js';
import { humanDuration } from './tables.js';
import { tempDir } from '../../test/support/temp.js';

let cp: ControlPlane;
let home: string;
const get = (path: string, headers: Record<string, string> = {}) => fetch(cp.apiUrl + path, { headers });

beforeAll(async () => {
  home = tempDir('bowline-disc-');
  cp = await startControlPlane({ home, listenApi: '127.0.0.1:0', log: () => {} });
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('discovery, CRDs, OpenAPI and tables for kubectl', () => {
  it('answers aggregated discovery v2 and v2beta1 by Accept, echoing the version, and plain lists otherwise', async () => {
    for (const v of ['v2', 'v2beta1']) {
      const r = await get('/apis', { accept: `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList,application/json` });
      expect(r.headers.get('content-type')).toBe(`application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`);
      const body = await r.json() as any;
      expect(body).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${v}` });
      const net = body.items.find((g: any) => g.metadata.name === 'networking.istio.io');
      expect(net.versions[0].version).toBe('v1');
      const vsRes = net.versions[0].resources.find((x: any) => x.resource === 'virtualservices');
      expect(vsRes).toMatchObject({ scope: 'Namespaced', shortNames: ['vs'], categories: ['istio-io', 'networking-istio-io'], responseKind: { kind: 'VirtualService', version: 'v1' } });
      expect(vsRes.subresources[0].subresource).toBe('status');
      expect(body.items.map((g: any) => g.metadata.name)).toContain('apiextensions.k8s.io');
    }
    const core = await (await get('/api', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' })).json() as any;
    expect(core.items[0].versions[0].resources.map((x: any) => x.resource)).toEqual(expect.arrayContaining(['namespaces', 'configmaps', 'secrets', 'events']));
    const plain = await (await get('/apis')).json() as any;
    expect(plain.kind).toBe('APIGroupList');
    const gv = await (await get('/apis/security.istio.io/v1')).json() as any;
    expect(gv.resources.filter((r: any) => !r.name.includes('/')).map((r: any) => [r.name, r.shortNames?.join(',') ?? ''])).toEqual([['peerauthentications', 'pa'], ['authorizationpolicies', 'ap'], ['requestauthentications', 'ra']]);
    const sidecar = (await (await get('/apis/networking.istio.io/v1')).json() as any).resources.find((r: any) => r.name === 'sidecars');
    expect(sidecar.shortNames).toBeUndefined();
    const version = await (await get('/version')).json() as any;
    expect(version).toMatchObject({ major: '1', gitVersion: expect.stringMatching(/^v1\.\d+\.0\+bowline/) });
    expect(['v1alpha3', 'v1', 'v1beta1'].sort(compareVersions)).toEqual(['v1', 'v1beta1', 'v1alpha3']);
  });

  it('serves read-only CRDs with Istio printer columns', async () => {
    const crd = await (await get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/serviceentries.networking.istio.io')).json() as any;
    expect(crd.spec.names).toMatchObject({ kind: 'ServiceEntry', shortNames: ['se'], categories: ['istio-io', 'networking-istio-io'] });
    expect(crd.spec.versions.map((v: any) => v.name)).toEqual(['v1', 'v1beta1', 'v1alpha3']);
    expect(crd.spec.versions[0].additionalPrinterColumns.map((c: any) => c.name)).toEqual(['Hosts', 'Location', 'Resolution', 'Age']);
    expect((await fetch(cp.apiUrl + '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { method: 'POST', body: '{}' })).status).toBe(405);
  });

  it('serves OpenAPI v3 with hashed, cacheable documents whose PATCH operations carry the GVK and fieldValidation', async () => {
    const index = await (await get('/openapi/v3')).json() as any;
    const url: string = index.paths['apis/networking.istio.io/v1'].serverRelativeURL;
    expect(url).toMatch(/^\/openapi\/v3\/apis\/networking.istio.io\/v1\?hash=[0-9A-F]{128}$/);
    const r = await get(url);
    expect(r.headers.get('cache-control')).toContain('immutable');
    const etag = r.headers.get('etag')!;
    const doc = await r.json() as any;
    const patch = doc.paths['/apis/networking.istio.io/v1/namespaces/{namespace}/virtualservices/{name}'].patch;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' });
    expect(patch.parameters.map((p: any) => p.name)).toContain('fieldValidation');
    expect(Object.keys(patch.requestBody.content)).not.toContain('application/strategic-merge-patch+json');
    const route = doc.components.schemas['io.istio.networking.v1.VirtualService'].properties.spec.properties.http.items.properties.route;
    expect(route.description).toMatch(/destinations/);
    expect(route.items.required).toEqual(['destination']);
    expect((await get(url, { 'if-none-match': etag })).status).toBe(304);
    const cm = await (await get('/openapi/v3/api/v1')).json() as any;
    expect(Object.keys(cm.paths['/api/v1/namespaces/{namespace}/configmaps/{name}'].patch.requestBody.content)).toContain('application/strategic-merge-patch+json');
  });

  it('serves OpenAPI v2 as gnostic protobuf for kubectl 1.27/1.28', async () => {
    const r = await get('/openapi/v2', { accept: OPENAPI_V2_PROTOBUF });
    expect(r.status).toBe(200);
    const doc = decodeOpenApiV2(new Uint8Array(await r.arrayBuffer())) as any;
    expect(doc.swagger).toBe('2.0');
    const item = doc.paths.path.find((p: any) => p.name === '/apis/networking.istio.io/v1/namespaces/{namespace}/virtualservices/{name}');
    const ext = item.value.patch.vendorExtension.find((e: any) => e.name === 'x-kubernetes-group-version-kind');
    expect(ext.value.yaml).toContain('kind: VirtualService');
    expect(item.value.patch.parameters.map((p: any) => p.parameter.nonBodyParameter?.queryParameterSubSchema?.name)).toContain('fieldValidation');
    expect(doc.definitions.additionalProperties.map((d: any) => d.name)).toContain('io.istio.networking.v1.VirtualService');
  });

  it('answers Tables with Istio columns, rendered ages and partial metadata; fieldValidation Strict/Warn/Ignore', async () => {
    const body = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 't', labels: { a: 'b' } }, spec: { hosts: ['t'], gateways: ['gw'], http: [{ route: [{ destination: { host: 't' } }] }] } };
    const vsPath = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';
    await fetch(cp.apiUrl + vsPath, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const t = await (await get(vsPath, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' })).json() as any;
    expect(t.kind).toBe('Table');
    expect(t.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Gateways', 'Hosts', 'Age']);
    expect(t.rows[0].cells.slice(0, 3)).toEqual(['t', '["gw"]', '["t"]']);
    expect(t.rows[0].cells[3]).toMatch(/^\d+s$/);
    expect(t.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 't', namespace: 'default', labels: { a: 'b' } } });
    expect([humanDuration(5_000), humanDuration(5 * 60_000 + 3_000), humanDuration(3 * 3600_000), humanDuration(2 * 86400_000), humanDuration(400 * 86400_000)]).toEqual(['5s', '5m3s', '3h', '2d', '400d']);

    const extra = { ...body, metadata: { name: 'u' }, spec: { ...body.spec, hsts: ['x'] } };
    const strict = await fetch(cp.apiUrl + vsPath + '?fieldValidation=Strict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(extra) });
    expect(strict.status).toBe(400);
    expect((await strict.json() as any).message).toBe('VirtualService in version "v1" cannot be handled as a VirtualService: strict decoding error: unknown field "spec.hsts"');
    const warn = await fetch(cp.apiUrl + vsPath + '?fieldValidation=Warn', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(extra) });
    expect(warn.status).toBe(201);
    expect(warn.headers.get('warning')).toContain('unknown field \\"spec.hsts\\"');
    expect((await warn.json() as any).spec.hsts).toBeUndefined();
    const bad = await fetch(cp.apiUrl + vsPath + '?fieldValidation=Loud', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(extra) });
    expect(bad.status).toBe(400);
  });
});
