import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeDocuments, legacyToPeerAuthentication, normalize, parseAndValidate, type ParsedDocument, type VirtualServiceSpec } from './index.js';

const dir = fileURLToPath(new URL('../../samples/networking/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const parsed = new Map(files.map((f) => [f, parseAndValidate(readFileSync(join(dir, f), 'utf8'), { file: f, analyze: false })]));

describe('every networking sample validates', () => {
  it('covers the Bookinfo constructs', () => {
    for (const f of ['bookinfo-gateway.yaml', 'destination-rule-all.yaml', 'destination-rule-all-mtls.yaml', 'virtual-service-all-v1.yaml', 'virtual-service-reviews-test-v2.yaml', 'virtual-service-reviews-jason-v2-v3.yaml', 'virtual-service-reviews-50-v3.yaml', 'virtual-service-reviews-80-20.yaml', 'virtual-service-reviews-90-10.yaml', 'virtual-service-reviews-v3.yaml', 'virtual-service-ratings-test-delay.yaml', 'virtual-service-ratings-test-abort.yaml', 'virtual-service-details-abort-555.yaml', 'egress-service-entry.yaml', 'mesh-policy-mtls.yaml', 'policy-details-mtls.yaml']) {
      expect(files).toContain(f);
    }
  });
  for (const f of files) {
    it(f, () => {
      const r = parsed.get(f)!;
      expect(r.violations.filter((v) => v.severity === 'error')).toEqual([]);
      expect(r.documents.every((d) => d.resource || d.meshConfig)).toBe(true);
    });
  }
  it('subsets used by the samples are all defined by the destination-rule-all sample', () => {
    const docs: ParsedDocument[] = [...parsed.values()].flatMap((r) => r.documents);
    expect(analyzeDocuments(docs).filter((v) => v.code === 'BOWLINE_W_API_UNKNOWN_SUBSET')).toEqual([]);
  });
  it('the delay sample normalises to 7000 ms for jason', () => {
    const d = parsed.get('virtual-service-ratings-test-delay.yaml')!.documents[0]!;
    const vs = normalize<VirtualServiceSpec>(d.resource!);
    expect(vs.spec.http![0]!.match![0]!.headers!['end-user']).toEqual({ exact: 'jason' });
    expect(vs.spec.http![0]!.fault!.delay).toEqual({ fixedDelay: '7s', percentage: { value: 100 } });
  });
  it('legacy spellings normalise to the current shape', () => {
    const abort = normalize<VirtualServiceSpec>(parsed.get('virtual-service-details-abort-555.yaml')!.documents[0]!.resource!);
    expect(abort.spec.http![0]!.fault!.abort).toEqual({ httpStatus: 555, percentage: { value: 100 } });
    const httpbin = normalize<VirtualServiceSpec>(parsed.get('httpbin-sleep.yaml')!.documents[0]!.resource!);
    expect(httpbin.spec.http![0]!.mirrorPercentage).toEqual({ value: 50 });
    expect(httpbin.spec.http![0]!.retries!.perTryTimeout).toBe('2s');
  });
  it('the MeshPolicy sample maps to a STRICT mesh-wide PeerAuthentication', () => {
    const mp = parsed.get('mesh-policy-mtls.yaml')!.documents[0]!.resource!;
    const { resources, warnings } = legacyToPeerAuthentication(mp);
    expect(resources).toHaveLength(1);
    expect(resources[0]).toMatchObject({ kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } });
    expect(warnings[0]!.code).toBe('BOWLINE_W_API_LEGACY_KIND');
    const pol = legacyToPeerAuthentication(parsed.get('policy-details-mtls.yaml')!.documents[0]!.resource!);
    expect(pol.resources[0]).toMatchObject({ metadata: { namespace: 'default' }, spec: { selector: { matchLabels: { app: 'details' } }, mtls: { mode: 'STRICT' } } });
  });
  it('the istio ConfigMap yields the mesh config', () => {
    const d = parsed.get('istio-mesh-config.yaml')!.documents[0]!;
    expect(d.meshConfig).toMatchObject({ trustDomain: 'cluster.local', rootNamespace: 'istio-system', accessLogFile: '/dev/stdout', defaultConfig: { tracing: { sampling: 100, zipkin: { address: 'zipkin.istio-system:9411' } } } });
    // Its one field Bowline does not act on (proxies are given the control plane's address by `bowline proxy` / injection) is named.
    expect(parsed.get('istio-mesh-config.yaml')!.violations.map((v) => `${v.line}:${v.column} ${v.code} ${v.path}`)).toEqual(['17:7 BOWLINE_W_API_NOT_ENFORCED data.mesh: defaultConfig.discoveryAddress']);
  });
});
