import { describe, expect, it } from 'vitest';
import type { AuthorizationPolicy, AuthzAttribute, AuthzCondition } from '../../proxy-config/types.js';
import { compileAuthorization, NO_AUTHORIZATION } from './engine.js';
import type { AuthzRequest } from './request.js';

const FRONTEND = 'cluster.local/ns/default/sa/frontend';
const OPS = 'cluster.local/ns/ops/sa/oncall';
const OTHER = 'cluster.local/ns/default/sa/other';
const PARTNER = 'cluster.local/ns/partner/sa/gw';

/** Test shorthand for one condition. */
function c(attribute: AuthzAttribute, values?: string[], notValues?: string[], key?: string[]): AuthzCondition {
  return { attribute, ...(key ? { key } : {}), ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) };
}

const policies: AuthorizationPolicy[] = [
  { name: 'ns/deny-admin', action: 'DENY', rules: [{ from: [[c('source.namespace', undefined, ['ops'])]], to: [[c('request.path', ['/admin/*'])]] }] },
  { name: 'ns/frontend-get', action: 'ALLOW', rules: [{ from: [[c('source.principal', [FRONTEND])]], to: [[c('request.method', ['GET', 'HEAD']), c('request.path', ['/api/*', '/healthz'])]] }] },
  { name: 'ns/ops-all', action: 'ALLOW', rules: [{ from: [[c('source.namespace', ['ops'])]] }] },
  { name: 'ns/internal-ip', action: 'ALLOW', rules: [{ from: [[c('source.ip', ['10.0.0.0/8'], ['10.9.0.0/16'])]], to: [[c('destination.port', ['9080'])]] }] },
  { name: 'ns/canary', action: 'ALLOW', rules: [{ from: [[c('source.principal', ['*'])]], to: [[c('request.path', ['*/status'])]], when: [c('request.header', ['true'], undefined, ['x-canary'])] }] },
  { name: 'ns/block-remote', action: 'DENY', rules: [{ from: [[c('remote.ip', ['203.0.113.0/24'])]] }] },
  { name: 'ns/audit-post', action: 'AUDIT', rules: [{ to: [[c('request.method', ['POST'])]] }] },
  { name: 'ns/db-sni', action: 'ALLOW', rules: [{ when: [c('connection.sni', ['db.internal']), c('destination.port', ['5432'])] }] },
  { name: 'ns/partner-hosts', action: 'ALLOW', rules: [{ from: [[c('source.principal', ['cluster.local/ns/partner/*'])]], to: [[c('request.host', ['*.example.com'])]] }] },
  { name: 'ns/secure-needs-mtls', action: 'DENY', rules: [{ from: [[c('source.principal', undefined, ['*'])]], to: [[c('request.path', ['/secure*'])]] }] },
];

function http(over: Partial<AuthzRequest> & { headers?: Record<string, string> } = {}): AuthzRequest {
  const headers = over.headers ?? {};
  return { sourceIp: '192.168.7.7', port: 8080, host: 'svc.default', method: 'GET', path: '/', header: (n) => headers[n], ...over };
}
function tcp(over: Partial<AuthzRequest>): AuthzRequest {
  return { sourceIp: '192.168.7.7', port: 8080, ...over };
}

// [case, request, allowed, deciding policy (undefined: none)]
const matrix: Array<[string, AuthzRequest, boolean, string | undefined]> = [
  ['frontend GET /api/items', http({ principal: FRONTEND, path: '/api/items' }), true, 'ns/frontend-get'],
  ['frontend POST /api/items (method not allowed)', http({ principal: FRONTEND, method: 'POST', path: '/api/items' }), false, undefined],
  ['frontend GET /api (prefix /api/* needs the slash)', http({ principal: FRONTEND, path: '/api' }), false, undefined],
  ['frontend GET /healthz?verbose=1 (query ignored)', http({ principal: FRONTEND, path: '/healthz?verbose=1' }), true, 'ns/frontend-get'],
  ['frontend GET /admin/users (DENY first)', http({ principal: FRONTEND, path: '/admin/users' }), false, 'ns/deny-admin'],
  ['ops GET /admin/users (not denied, ops allowed)', http({ principal: OPS, path: '/admin/users' }), true, 'ns/ops-all'],
  ['ops from a blocked remote IP', http({ principal: OPS, remoteIp: '203.0.113.5' }), false, 'ns/block-remote'],
  ['plaintext from 10.1.2.3 to 9080', http({ sourceIp: '10.1.2.3', port: 9080, path: '/x' }), true, 'ns/internal-ip'],
  ['plaintext from 10.9.1.1 (notIpBlocks)', http({ sourceIp: '10.9.1.1', port: 9080, path: '/x' }), false, undefined],
  ['plaintext from 10.1.2.3 to 9090 (port)', http({ sourceIp: '10.1.2.3', port: 9090, path: '/x' }), false, undefined],
  ['plaintext from 192.168.1.1 to 9080', http({ sourceIp: '192.168.1.1', port: 9080, path: '/x' }), false, undefined],
  ['IPv4-mapped source ::ffff:10.1.2.3', http({ sourceIp: '::ffff:10.1.2.3', port: 9080, path: '/x' }), true, 'ns/internal-ip'],
  ['authenticated GET /v1/status with x-canary', http({ principal: OTHER, path: '/v1/status', headers: { 'x-canary': 'true' } }), true, 'ns/canary'],
  ['authenticated GET /v1/status without header', http({ principal: OTHER, path: '/v1/status' }), false, undefined],
  ['plaintext GET /v1/status with x-canary (principals * needs mTLS)', http({ path: '/v1/status', headers: { 'x-canary': 'true' } }), false, undefined],
  ['TCP sni db.internal:5432 from ops', tcp({ sni: 'db.internal', port: 5432, principal: OPS }), true, 'ns/ops-all'],
  ['TCP sni db.internal:5432 from default (the admin DENY, stripped of paths, covers TCP)', tcp({ sni: 'db.internal', port: 5432, principal: OTHER }), false, 'ns/deny-admin'],
  ['partner host api.example.com:443 (port ignored)', http({ principal: PARTNER, host: 'api.example.com:443' }), true, 'ns/partner-hosts'],
  ['partner host API.EXAMPLE.COM (case-insensitive)', http({ principal: PARTNER, host: 'API.EXAMPLE.COM' }), true, 'ns/partner-hosts'],
  ['partner host example.com (suffix needs the dot)', http({ principal: PARTNER, host: 'example.com' }), false, undefined],
  ['plaintext /secure/data from an allowed IP', http({ sourceIp: '10.1.2.3', port: 9080, path: '/secure/data' }), false, 'ns/secure-needs-mtls'],
  ['TCP from ops to port 22 (DENY drops its HTTP-only paths; ops is exempt)', tcp({ principal: OPS, port: 22 }), true, 'ns/ops-all'],
  ['TCP from frontend to port 22 (DENY drops its HTTP-only paths)', tcp({ principal: FRONTEND, port: 22 }), false, 'ns/deny-admin'],
  ['TCP from frontend to 9080 (ALLOW with HTTP-only fields never matches TCP)', tcp({ principal: FRONTEND, sourceIp: '192.168.1.1', port: 9080 }), false, 'ns/deny-admin'],
];

describe('authorization matrix', () => {
  const engine = compileAuthorization({ policies });
  it('compiles without warnings', () => expect(engine.warnings).toEqual([]));
  it.each(matrix)('%s', (_name, req, allowed, policy) => {
    const d = engine.evaluate(req);
    expect(d.allowed).toBe(allowed);
    expect(d.policy).toBe(policy);
  });
  it('marks AUDIT matches without changing the decision', () => {
    const d = engine.evaluate(http({ principal: OPS, method: 'POST', path: '/x' }));
    expect(d).toMatchObject({ allowed: true, policy: 'ns/ops-all', audited: ['ns/audit-post'] });
  });
});

describe('authorization semantics', () => {
  it('allows everything with no policies, at the cost of one property read', () => {
    expect(compileAuthorization(undefined)).toBe(NO_AUTHORIZATION);
    expect(compileAuthorization({ policies: [] }).enabled).toBe(false);
    expect(NO_AUTHORIZATION.evaluate(http())).toMatchObject({ allowed: true });
  });
  it('an ALLOW policy with no rules allows nothing; a rule {} matches everything', () => {
    expect(compileAuthorization({ policies: [{ name: 'a/none', action: 'ALLOW', rules: [] }] }).evaluate(http()).allowed).toBe(false);
    expect(compileAuthorization({ policies: [{ name: 'a/all', action: 'ALLOW', rules: [{}] }] }).evaluate(http()).allowed).toBe(true);
    expect(compileAuthorization({ policies: [{ name: 'a/deny-all', action: 'DENY', rules: [{}] }, { name: 'a/all', action: 'ALLOW', rules: [{}] }] }).evaluate(http())).toMatchObject({ allowed: false, policy: 'a/deny-all' });
  });
  it('DENY-only configurations allow what they do not deny', () => {
    const e = compileAuthorization({ policies: [{ name: 'a/no-delete', action: 'DENY', rules: [{ to: [[c('request.method', ['DELETE'])]] }] }] });
    expect(e.evaluate(http({ method: 'GET' })).allowed).toBe(true);
    expect(e.evaluate(http({ method: 'DELETE' })).allowed).toBe(false);
  });
  it('matches JWT claims and request principals once RequestAuthentication provides them', () => {
    const e = compileAuthorization({ policies: [{ name: 'a/jwt', action: 'ALLOW', rules: [{ from: [[c('request.auth.principal', ['https://issuer.example/*'])]], when: [c('request.auth.claims', ['admins'], undefined, ['groups'])] }] }] });
    expect(e.evaluate(http({ requestAuth: { principal: 'https://issuer.example/alice', claims: { groups: ['dev', 'admins'] } } })).allowed).toBe(true);
    expect(e.evaluate(http({ requestAuth: { principal: 'https://issuer.example/bob', claims: { groups: ['dev'] } } })).allowed).toBe(false);
    expect(e.evaluate(http()).allowed).toBe(false);
  });
  it('fails closed on conditions it cannot evaluate, and says so', () => {
    const bad = { attribute: 'experimental.envoy.filters.foo', values: ['x'] } as unknown as AuthzCondition;
    const allow = compileAuthorization({ policies: [{ name: 'a/odd', action: 'ALLOW', rules: [{ when: [bad] }] }] });
    expect(allow.warnings[0]).toMatch(/a\/odd rules\[0\]: when\[0\]: unknown attribute/);
    expect(allow.evaluate(http()).allowed).toBe(false);
    const deny = compileAuthorization({ policies: [{ name: 'a/odd-deny', action: 'DENY', rules: [{ from: [[c('source.ip', ['10.0.0.0/99'])]] }] }] });
    expect(deny.warnings).toHaveLength(1);
    expect(deny.evaluate(http()).allowed).toBe(false);
  });
  it('matches service accounts and trust domains from the parsed SPIFFE id, exactly', () => {
    const e = compileAuthorization({ policies: [{ name: 'a/sa', action: 'ALLOW', rules: [{ from: [[c('source.serviceAccount', ['default/frontend']), c('source.trustDomain', ['cluster.local'])]] }] }] });
    expect(e.evaluate(http({ principal: FRONTEND })).allowed).toBe(true);
    expect(e.evaluate(http({ principal: OTHER })).allowed).toBe(false);
    expect(e.evaluate(http({ principal: 'other.domain/ns/default/sa/frontend' })).allowed).toBe(false);
    expect(e.evaluate(http({ principal: 'cluster.local/ns/default/sa/frontend/extra' })).allowed).toBe(false);
    expect(e.evaluate(http()).allowed).toBe(false);
    const not = compileAuthorization({ policies: [{ name: 'a/not-sa', action: 'ALLOW', rules: [{ from: [[c('source.serviceAccount', undefined, ['default/frontend'])]] }] }] });
    expect(not.evaluate(http({ principal: FRONTEND })).allowed).toBe(false);
    expect(not.evaluate(http({ principal: OTHER })).allowed).toBe(true);
  });
  it('matches connection.sni and destination.port on TCP connections', () => {
    const e = compileAuthorization({ policies: policies.filter((p) => p.name === 'ns/db-sni') });
    expect(e.evaluate(tcp({ sni: 'db.internal', port: 5432 }))).toMatchObject({ allowed: true, policy: 'ns/db-sni' });
    expect(e.evaluate(tcp({ sni: 'cache.internal', port: 5432 })).allowed).toBe(false);
    expect(e.evaluate(tcp({ sni: 'db.internal', port: 5433 })).allowed).toBe(false);
  });
  it('checks source.ip, destination.port, source.namespace and source.principal in when', () => {
    const e = compileAuthorization({ policies: [{ name: 'a/when', action: 'ALLOW', rules: [{ when: [
      c('source.ip', ['10.0.0.0/8']), c('destination.port', undefined, ['15000']),
      c('source.namespace', ['default']), c('source.principal', undefined, ['*/sa/banned']),
    ] }] }] });
    expect(e.evaluate(http({ sourceIp: '10.0.0.1', principal: OTHER })).allowed).toBe(true);
    expect(e.evaluate(http({ sourceIp: '10.0.0.1', principal: 'cluster.local/ns/default/sa/banned' })).allowed).toBe(false);
    expect(e.evaluate(http({ sourceIp: '10.0.0.1', principal: OTHER, port: 15000 })).allowed).toBe(false);
    expect(e.evaluate(http({ sourceIp: '11.0.0.1', principal: OTHER })).allowed).toBe(false);
  });
});
