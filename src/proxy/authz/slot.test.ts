// The principal authorization sees for a peer, and the refusal line: the conversions are proxy-config/spiffe.ts's.
import { describe, expect, it } from 'vitest';
import type { AuthzCondition } from '../../proxy-config/types.js';
import { compileAuthorization } from './engine.js';
import type { ProxyConfig } from '../../proxy-config/types.js';
import { deniedLine, emptyAuthz, installAuthorization, principalOfPeer } from './slot.js';

const from = (attribute: AuthzCondition['attribute'], values?: string[], notValues?: string[]): AuthzCondition =>
  ({ attribute, ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) });

describe('principalOfPeer', () => {
  it('is the SPIFFE id without its scheme; none for a plaintext peer', () => {
    expect(principalOfPeer('spiffe://cluster.local/ns/default/sa/frontend')).toBe('cluster.local/ns/default/sa/frontend');
    expect(principalOfPeer('spiffe://example.org/gateways/edge')).toBe('example.org/gateways/edge');
    expect(principalOfPeer('')).toBeUndefined();
  });

  it('a malformed id: namespace and service-account rules never match it, a DENY principals ["*"] does (fails closed)', () => {
    const allowNs = compileAuthorization({ policies: [{ name: 'a/ns', action: 'ALLOW', rules: [{ from: [[from('source.namespace', ['default'])]] }] }] });
    const allowSa = compileAuthorization({ policies: [{ name: 'a/p', action: 'ALLOW', rules: [{ from: [[from('source.principal', ['cluster.local/ns/default/sa/frontend'])]] }] }] });
    const denyAny = compileAuthorization({ policies: [{ name: 'a/deny-mtls', action: 'DENY', rules: [{ from: [[from('source.principal', ['*'])]] }] }] });
    const req = (peer: string) => { const principal = principalOfPeer(peer); return { sourceIp: '10.0.0.1', port: 8080, ...(principal !== undefined ? { principal } : {}) }; };
    const good = 'spiffe://cluster.local/ns/default/sa/frontend';
    expect(allowNs.evaluate(req(good)).allowed).toBe(true);
    expect(allowSa.evaluate(req(good)).allowed).toBe(true);
    expect(denyAny.evaluate(req(good)).allowed).toBe(false);
    for (const bad of ['spiffe://Cluster.Local/ns/default/sa/frontend', 'spiffe://cluster.local/ns/default/sa/frontend/', 'spiffe://cluster.local/ns/../sa/x', 'spiffe://cluster.local//ns/default/sa/frontend']) {
      expect(principalOfPeer(bad), bad).toBeDefined();
      expect(allowNs.evaluate(req(bad)).allowed, bad).toBe(false);
      expect(allowSa.evaluate(req(bad)).allowed, bad).toBe(false);
      expect(denyAny.evaluate(req(bad)).allowed, bad).toBe(false);
    }
  });
});

describe('deniedLine', () => {
  it('names the peer by its SPIFFE id, or as plaintext, with the stable code', () => {
    const d = { allowed: false, reason: 'no ALLOW policy matched', policy: 'ns/p' };
    expect(deniedLine('GET /', { principal: 'cluster.local/ns/default/sa/frontend', sourceIp: '10.0.0.1', port: 8080 }, d))
      .toBe('authorization denied GET / from spiffe://cluster.local/ns/default/sa/frontend (10.0.0.1) to port 8080: no ALLOW policy matched [ns/p] (BOWLINE_E_AUTHZ_DENIED)');
    expect(deniedLine('a TCP connection', { sourceIp: '10.0.0.2', port: 9000 }, { allowed: false, reason: 'denied' }))
      .toBe('authorization denied a TCP connection from a plaintext peer (10.0.0.2) to port 9000: denied (BOWLINE_E_AUTHZ_DENIED)');
  });
});

describe('installAuthorization', () => {
  it('keeps the proxy\'s JWKS cache across configs, and each proxy has its own', () => {
    const cfg = { node: { namespace: 'default', serviceAccount: 'web' }, authorization: { policies: [] } } as unknown as ProxyConfig;
    const a = { authz: emptyAuthz() };
    const b = { authz: emptyAuthz() };
    const cache = a.authz.jwks;
    installAuthorization(a, cfg);
    installAuthorization(a, cfg);
    expect(a.authz.jwks).toBe(cache);
    expect(a.authz.self).toBe('spiffe://cluster.local/ns/default/sa/web');
    expect(b.authz.jwks).not.toBe(cache);
  });
});
