import { describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot } from '../../model/snapshot.js';
import { announcementsView } from '../../registry/universal/universal.js';
import { generateProxyConfig, type ProxyInfo } from '../generators/index.js';
import { expandPrincipals } from '../generators/authorization-translate.js';

const proxy: ProxyInfo = {
  node: { id: 'messenger.default', role: 'sidecar', workload: 'messenger', namespace: 'default', serviceAccount: 'messenger', labels: { app: 'messenger' } },
  workload: { name: 'messenger', namespace: 'default', serviceAccount: 'messenger', labels: { app: 'messenger' }, address: '127.0.0.1', services: [{ service: 'messenger', port: 8080, protocol: 'HTTP' }] },
};

function snap(configs: Resource[], aliases?: string[]) {
  const view = announcementsView([{ proxyId: 'messenger.default', announcement: proxy.workload! as never }]);
  return buildSnapshot({ configs, ...view, mesh: { ...defaultMeshConfig(), ...(aliases ? { trustDomainAliases: aliases } : {}) } }, undefined, 0);
}

describe('trustDomainAliases', () => {
  it('inbound mTLS accepts peers of the mesh trust domain and of each alias', () => {
    const tds = (s: ReturnType<typeof snap>) => generateProxyConfig(s, proxy).listeners.flatMap((l) => l.filterChains).find((c) => c.tls)!.tls!.trustDomains;
    expect(tds(snap([]))).toEqual(['cluster.local']);
    expect(tds(snap([], ['west.local', 'east.local']))).toEqual(['cluster.local', 'west.local', 'east.local']);
  });

  it("authorization principals stand for the same workload in every alias, as Istio rewrites them", () => {
    expect(expandPrincipals(['cluster.local/ns/default/sa/greeter', 'other.org/ns/x/sa/y', '*'], ['cluster.local', 'west.local'])).toEqual([
      'cluster.local/ns/default/sa/greeter', 'west.local/ns/default/sa/greeter', 'other.org/ns/x/sa/y', '*',
    ]);
    const ap = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'default' }, spec: { rules: [{ from: [{ source: { principals: ['west.local/ns/default/sa/greeter'] } }] }] } } as unknown as Resource;
    const principals = (s: ReturnType<typeof snap>) => generateProxyConfig(s, proxy).authorization!.policies[0]!.rules[0]!.from![0]![0]!.values;
    expect(principals(snap([ap]))).toEqual(['west.local/ns/default/sa/greeter']);
    expect(principals(snap([ap], ['west.local']))).toEqual(['west.local/ns/default/sa/greeter', 'cluster.local/ns/default/sa/greeter']);
  });
});
