import { describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../api/index.js';
import type { Resource } from '../api/types/meta.js';
import { buildSnapshot } from '../model/snapshot.js';
import { announcementsView } from '../registry/universal/universal.js';
import { ConfigStatusTracker, configProblems, CONFIG_CREDENTIAL_UNAVAILABLE, CONFIG_UNRESOLVED_DELEGATE } from './config-status.js';

const gateway = (credentialName: string): Resource => ({
  apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
  spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.example.com'], tls: { mode: 'SIMPLE', credentialName } }] },
} as Resource);

function snap(configs: Resource[], credentials: Map<string, { cert?: string; key?: string; problem?: string }>) {
  const view = announcementsView([{ proxyId: 'gw-1', announcement: { name: 'ingress', namespace: 'istio-system', serviceAccount: 'ingress', labels: { istio: 'ingressgateway' }, address: '127.0.0.1', services: [] } }]);
  return buildSnapshot({ configs, ...view, mesh: defaultMeshConfig(), credentials });
}

describe('credentialName in resource status', () => {
  it('names the server and the gateway namespace whose Secret is missing or unusable; quiet when it serves', () => {
    const missing = configProblems(snap([gateway('gw-cred')], new Map())).get('Gateway/default/gw');
    expect(missing?.messages).toEqual([{ type: { code: CONFIG_CREDENTIAL_UNAVAILABLE }, level: 'ERROR', description: expect.stringMatching(/^spec\.servers\[0\]\.tls\.credentialName: Secret istio-system\/gw-cred does not exist/) }]);
    const bad = configProblems(snap([gateway('gw-cred')], new Map([['istio-system/gw-cred', { problem: 'its key does not belong to its certificate' }]]))).get('Gateway/default/gw');
    expect(bad?.messages[0]?.description).toContain('its key does not belong to its certificate');
    expect(configProblems(snap([gateway('gw-cred')], new Map([['istio-system/gw-cred', { cert: 'C', key: 'K' }]]))).get('Gateway/default/gw')).toBeUndefined();
    expect(configProblems(snap([gateway('default/gw-cred')], new Map())).get('Gateway/default/gw')?.messages[0]?.description).toContain('is not in the namespace istio-system');
  });
});

const vs = (name: string, generation: number, delegate?: string): Resource => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default', generation },
  spec: { hosts: [`${name}.default.svc.cluster.local`], http: [delegate ? { delegate: { name: delegate, namespace: 'default' } } : { route: [{ destination: { host: 'r.default.svc.cluster.local' } }] }] },
} as Resource);

describe('ConfigStatusTracker.statusOf', () => {
  it('has no status for an object or generation no snapshot has translated yet, then the snapshot\'s', () => {
    const t = new ConfigStatusTracker(() => {});
    const a = vs('a', 1);
    expect(t.statusOf(a)).toBeUndefined(); // before any snapshot: not Reconciled True by default
    t.update(snap([a], new Map()));
    expect(t.statusOf(a)).toMatchObject({ conditions: [{ type: 'Reconciled', status: 'True' }], observedGeneration: 1 });
    // The store already holds generation 2 (broken) while the snapshot still has generation 1: no guess.
    const a2 = vs('a', 2, 'missing');
    expect(t.statusOf(a2)).toBeUndefined();
    expect(t.statusOf(vs('b', 1))).toBeUndefined();
    t.update(snap([a2], new Map()));
    expect(t.statusOf(a2)).toMatchObject({ conditions: [{ type: 'Reconciled', status: 'False' }], validationMessages: [{ type: { code: CONFIG_UNRESOLVED_DELEGATE } }], observedGeneration: 2 });
  });
});
