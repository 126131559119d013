import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { runInstall } from '../../cli/commands/install.js';
import { bowlineVersion } from '../../control/version.js';
import { installCrds, kubernetesInstall } from './install.js';
import type { Json } from './inject.js';
import { defaultValues, resolveValues } from './values.js';

const chart = (f: string) => new URL(`../../../charts/bowline/${f}`, import.meta.url);

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''; let err = '';
  const code = await runInstall(args, (s) => { out += s; }, (s) => { err += s; });
  return { code, out, err };
}

const docs = (text: string): Json[] => parseAllDocuments(text).map((d) => d.toJS() as Json).filter(Boolean);
const names = (objs: Json[]) => objs.map((o) => `${String(o['kind'])}/${String((o['metadata'] as Json)['name'])}`);
const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);

describe('bowline install kubernetes', () => {
  it('prints every object with an explicit namespace on each namespaced one, and Istio\'s gateway names', async () => {
    const r = await cli(['kubernetes']);
    expect(r.code, r.err).toBe(0);
    const objs = docs(r.out);
    expect(names(objs.filter((o) => o['kind'] !== 'CustomResourceDefinition'))).toEqual([
      'Namespace/istio-system', 'ServiceAccount/bowline', 'ClusterRole/bowline', 'ClusterRoleBinding/bowline', 'Role/bowline', 'RoleBinding/bowline',
      'Deployment/bowline', 'Service/bowline', 'ValidatingWebhookConfiguration/bowline-validator-istio-system', 'MutatingWebhookConfiguration/bowline-sidecar-injector',
      'ServiceAccount/istio-ingressgateway', 'Deployment/istio-ingressgateway', 'Service/istio-ingressgateway',
    ]);
    for (const o of objs) {
      const ns = (o['metadata'] as Json)['namespace'];
      if (CLUSTER_SCOPED.has(o['kind'] as string)) expect(ns, names([o])[0]).toBeUndefined();
      else expect(ns, names([o])[0]).toBe('istio-system');
    }
    const gw = objs.find((o) => o['kind'] === 'Service' && (o['metadata'] as Json)['name'] === 'istio-ingressgateway')!;
    expect((gw['spec'] as Json)['type']).toBe('LoadBalancer');
    expect(((gw['spec'] as Json)['ports'] as Json[]).map((p) => [p['name'], p['port']])).toEqual([['status-port', 15021], ['http2', 80], ['https', 443]]);
    expect(objs.filter((o) => o['kind'] === 'CustomResourceDefinition').map((o) => (o['metadata'] as Json)['name'])).toContain('virtualservices.networking.istio.io');
  });

  it('turns the webhooks off with the EKS seed\'s --set flags, and the control plane stops serving them', async () => {
    const r = await cli(['kubernetes', '--set', 'global.configValidation=false', '--set', 'sidecarInjectorWebhook.enabled=false']);
    expect(r.code, r.err).toBe(0);
    const objs = docs(r.out);
    expect(objs.some((o) => String(o['kind']).endsWith('WebhookConfiguration'))).toBe(false);
    const cp = objs.find((o) => o['kind'] === 'Deployment' && (o['metadata'] as Json)['name'] === 'bowline')!;
    const args = (((((cp['spec'] as Json)['template'] as Json)['spec'] as Json)['containers'] as Json[])[0]!['args']) as string[];
    expect(args).not.toContain('--listen-webhook');
    // Only validation off: the control plane serves injection alone.
    const one = docs((await cli(['kubernetes', '--set', 'global.configValidation=false'])).out);
    const args1 = ((((one.find((o) => o['kind'] === 'Deployment')!['spec'] as Json)['template'] as Json)['spec'] as Json)['containers'] as Json[])[0]!['args'] as string[];
    expect(args1.slice(args1.indexOf('--webhooks'), args1.indexOf('--webhooks') + 2)).toEqual(['--webhooks', 'inject']);
  });

  it('refuses unknown keys and wrong types with the key named; a values file merges under --set', async () => {
    const bad = await cli(['kubernetes', '--set', 'global.hubb=x']);
    expect(bad).toMatchObject({ code: 1, out: '' });
    expect(bad.err).toMatch(/^bowline install: BOWLINE_E_KUBE_INSTALL: --set global.hubb=x: unknown value "global.hubb" \(known: global.hub, /);
    expect((await cli(['kubernetes', '--set', 'pilot.replicaCount=two'])).err).toContain('"pilot.replicaCount" takes a non-negative integer, got "two"');
    expect((await cli(['kubernetes', '--set', 'sidecarInjectorWebhook.failurePolicy=Maybe'])).err).toContain('must be one of Fail, Ignore');
    const v = resolveValues('1.0', [{ name: 'v.yaml', text: 'global:\n  hub: registry.example/mesh\n  tag: 2\n' }], ['global.tag=3.1']);
    expect(v.global).toMatchObject({ hub: 'registry.example/mesh', tag: '3.1' });
    expect(() => resolveValues('1.0', [{ name: 'v.yaml', text: 'gateways: [1]' }], [])).toThrow('v.yaml: "gateways" is a map of values');
  });
});

describe('charts/bowline', () => {
  it('has the same default values as bowline install kubernetes', () => {
    expect(parse(readFileSync(chart('values.yaml'), 'utf8'))).toEqual(defaultValues(bowlineVersion()));
    expect(parse(readFileSync(chart('Chart.yaml'), 'utf8'))).toMatchObject({ version: bowlineVersion(), appVersion: bowlineVersion() });
  });

  it('ships the CRDs bowline install kubernetes prints (crds/crds.yaml is regenerated, not edited)', () => {
    expect(docs(readFileSync(chart('crds/crds.yaml'), 'utf8'))).toEqual(installCrds());
    // The manifests' CRDs are the same objects.
    expect(kubernetesInstall(defaultValues(bowlineVersion())).filter((o) => o['kind'] === 'CustomResourceDefinition').map((o) => stringify(o))).toEqual(installCrds().map((o) => stringify(o)));
  });
});
