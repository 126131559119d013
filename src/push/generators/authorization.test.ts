import { describe, expect, it } from 'vitest';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import { translatePolicy } from './authorization-translate.js';

const NODE = { id: 'httpbin-1.foo', workload: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', role: 'sidecar', labels: {} };
/** A minimal proxy config around the given policies, as the proxy validates it. */
const withPolicies = (policies: unknown[]) => ({ node: NODE, mesh: { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY' }, listeners: [], routes: [], clusters: [], endpoints: [], secrets: [], authorization: { policies } });

describe('AuthorizationPolicy translation', () => {
  it('translates every Source, Operation and documented when key into proxy attributes', () => {
    const t = translatePolicy('foo/all', 'ALLOW', [{
      from: [{ source: { principals: ['cluster.local/ns/a/sa/b'], notPrincipals: ['*/sa/x'], serviceAccounts: ['foo/sleep'], notServiceAccounts: ['foo/evil'], trustDomains: ['cluster.local'], notTrustDomains: ['other.td'], namespaces: ['foo'], notNamespaces: ['bar'], ipBlocks: ['10.0.0.0/8'], notIpBlocks: ['10.9.0.0/16'], remoteIpBlocks: ['1.2.3.4'], notRemoteIpBlocks: ['::1/128'], requestPrincipals: ['iss/sub'], notRequestPrincipals: ['iss/bad'] } }],
      to: [{ operation: { hosts: ['*.example.com'], notHosts: ['a.example.com'], ports: ['8000'], notPorts: ['15000'], methods: ['GET'], notMethods: ['DELETE'], paths: ['/api/*'], notPaths: ['/api/admin'] } }],
      when: [
        { key: 'request.headers[X-Token]', values: ['t'] }, { key: 'source.ip', values: ['10.0.0.1'] }, { key: 'remote.ip', notValues: ['10.0.0.2'] },
        { key: 'source.namespace', values: ['foo'] }, { key: 'source.principal', values: ['*'] }, { key: 'request.auth.principal', values: ['iss/sub'] },
        { key: 'request.auth.audiences', values: ['aud'] }, { key: 'request.auth.presenter', values: ['p'] }, { key: 'request.auth.claims[groups][0]', values: ['g'] },
        { key: 'destination.ip', values: ['127.0.0.1'] }, { key: 'destination.port', values: ['8000'] }, { key: 'connection.sni', values: ['x.example'] },
      ],
    }]);
    expect(t.problems).toEqual([]);
    const rule = t.policy.rules[0]!;
    expect(rule.from![0]!.map((c) => c.attribute).sort()).toEqual(['remote.ip', 'request.auth.principal', 'source.ip', 'source.namespace', 'source.principal', 'source.serviceAccount', 'source.trustDomain']);
    expect(rule.from![0]!.find((c) => c.attribute === 'source.serviceAccount')).toEqual({ attribute: 'source.serviceAccount', values: ['foo/sleep'], notValues: ['foo/evil'] });
    expect(rule.to![0]!.map((c) => c.attribute).sort()).toEqual(['destination.port', 'request.host', 'request.method', 'request.path']);
    expect(rule.when![0]).toEqual({ attribute: 'request.header', key: ['x-token'], values: ['t'] });
    expect(rule.when![8]).toEqual({ attribute: 'request.auth.claims', key: ['groups', '0'], values: ['g'] });
    expect(validateProxyConfig(withPolicies([t.policy])).errors).toEqual([]);
  });

  it('an ALLOW naming only serviceAccounts keeps its condition (the fail-open case)', () => {
    const t = translatePolicy('foo/sa', 'ALLOW', [{ from: [{ source: { serviceAccounts: ['foo/sleep'] } }] }]);
    expect(t.policy.rules).toEqual([{ from: [[{ attribute: 'source.serviceAccount', values: ['foo/sleep'] }]] }]);
  });

  it('fails closed on what it cannot translate: ALLOW drops the rule, DENY drops only the condition', () => {
    const rules = [
      { from: [{ source: { serviceAccounts: ['sleep*'] } }] },
      { when: [{ key: 'experimental.envoy.filters.network.mysql_proxy[db.table]', values: ['x'] }] },
      { to: [{ operation: { ports: ['http'] } }] },
      { from: [{ source: { ipBlocks: ['10.0.0.0/99'], namespaces: ['foo'] } }] },
      { from: [{ source: { futureField: ['x'] } }] },
      { from: [{ source: { namespaces: ['foo'] } }] },
    ];
    const allow = translatePolicy('foo/a', 'ALLOW', rules);
    expect(allow.policy.rules).toEqual([{ from: [[{ attribute: 'source.namespace', values: ['foo'] }]] }]);
    expect(allow.problems.map((p) => p.path)).toEqual(['spec.rules[0].from[0].source.serviceAccounts[0]', 'spec.rules[1].when[0].key', 'spec.rules[2].to[0].operation.ports[0]', 'spec.rules[3].from[0].source.ipBlocks[0]', 'spec.rules[4].from[0].source.futureField']);
    expect(allow.problems[1]!.message).toMatch(/Envoy filter metadata.*matches no request/);
    const deny = translatePolicy('foo/d', 'DENY', rules);
    expect(deny.policy.rules).toHaveLength(6);
    expect(deny.policy.rules[1]).toEqual({});
    expect(deny.policy.rules[3]).toEqual({ from: [[{ attribute: 'source.namespace', values: ['foo'] }]] });
    expect(deny.problems[0]!.message).toMatch(/DENY rule matches more requests/);
  });
});

describe('proxy-config validation of authorization', () => {
  const ok = { name: 'foo/p', action: 'ALLOW', rules: [{ from: [[{ attribute: 'source.serviceAccount', values: ['foo/sleep'] }]] }] };
  it('accepts a translated policy', () => expect(validateProxyConfig(withPolicies([ok])).errors).toEqual([]));
  it.each([
    ['Istio-shaped rule', { ...ok, rules: [{ from: [{ source: { serviceAccounts: ['foo/sleep'] } }] }] }, 'rules[0].from[0]'],
    ['unknown rule field', { ...ok, rules: [{ sources: [] }] }, 'rules[0].sources'],
    ['unknown attribute', { ...ok, rules: [{ when: [{ attribute: 'source.serviceAccounts', values: ['x'] }] }] }, 'rules[0].when[0].attribute'],
    ['unknown condition field', { ...ok, rules: [{ when: [{ attribute: 'source.ip', values: ['1.2.3.4'], extra: 1 }] }] }, 'rules[0].when[0].extra'],
    ['malformed CIDR', { ...ok, rules: [{ when: [{ attribute: 'source.ip', values: ['1.2.3.4/40'] }] }] }, 'rules[0].when[0].values[0]'],
    ['bad port', { ...ok, rules: [{ when: [{ attribute: 'destination.port', values: ['http'] }] }] }, 'rules[0].when[0].values[0]'],
    ['no values', { ...ok, rules: [{ when: [{ attribute: 'source.principal' }] }] }, 'rules[0].when[0]'],
    ['header without key', { ...ok, rules: [{ when: [{ attribute: 'request.header', values: ['x'] }] }] }, 'rules[0].when[0].key'],
    ['key on a plain attribute', { ...ok, rules: [{ when: [{ attribute: 'source.ip', key: ['x'], values: ['1.2.3.4'] }] }] }, 'rules[0].when[0].key'],
    ['unknown policy field', { ...ok, provider: 'x' }, 'policies[0].provider'],
  ])('refuses %s', (_n, policy, path) => {
    const v = validateProxyConfig(withPolicies([policy]));
    expect(v.config).toBeUndefined();
    expect(v.errors.map((e) => e.path).join('\n')).toContain(`authorization.policies[0].${path}`.replace('policies[0].policies[0]', 'policies[0]'));
  });
});
