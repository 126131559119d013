import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { compileAuthorization } from './engine.js';
import { compileJwt, JwksCache, JWKS_TTL_MS } from './jwt.js';
import { waitFor } from '../../../test/support/wait.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = (k: KeyObject, kid: string) => ({ ...k.export({ format: 'jwk' }), kid });
const JWKS = JSON.stringify({ keys: [jwk(rsa.publicKey, 'r1'), jwk(ec.publicKey, 'e1')] });
const ISS = 'https://issuer.example.com';
const now = 1_700_000_000;

function token(claims: Record<string, unknown>, o: { alg?: string; kid?: string; key?: KeyObject } = {}): string {
  const alg = o.alg ?? 'RS256';
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const data = `${b({ alg, kid: o.kid ?? (alg === 'ES256' ? 'e1' : 'r1'), typ: 'JWT' })}.${b(claims)}`;
  const key = o.key ?? (alg === 'ES256' ? ec.privateKey : rsa.privateKey);
  const sig = alg === 'ES256' ? sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(data), key);
  return `${data}.${sig.toString('base64url')}`;
}
const claims = { iss: ISS, sub: 'alice', aud: 'bookstore', exp: now + 600, groups: ['admins', 'dev'] };
const auth = compileJwt([{ policy: 'foo/jwt', issuer: ISS, audiences: ['bookstore'], jwks: JWKS }], () => {}, () => now * 1000);
const bearer = (t: string) => (n: string) => (n === 'authorization' ? `Bearer ${t}` : undefined);

describe('RequestAuthentication (JWT)', () => {
  it('no token passes with no request.auth; a valid RS256 or ES256 token yields principal, audiences and claims', () => {
    expect(auth.authenticate(() => undefined, '/')).toEqual({ ok: true });
    for (const alg of ['RS256', 'ES256']) {
      const r = auth.authenticate(bearer(token(claims, { alg })), '/');
      expect(r).toMatchObject({ ok: true, auth: { principal: `${ISS}/alice`, audiences: ['bookstore'], claims: { groups: ['admins', 'dev'] } } });
    }
  });
  it('refuses a wrong signature, an expired token, a wrong audience, an unknown issuer and garbage, each with a reason', () => {
    const cases: Array<[string, RegExp]> = [
      [token(claims, { key: other.privateKey }), /signature/],
      [token({ ...claims, exp: now - 120 }), /expired/],
      [token({ ...claims, aud: 'other' }), /audiences/],
      [token({ ...claims, iss: 'https://evil' }), /issuer/],
      ['not.a-jwt', /base64url JSON|JWS/],
      [token(claims, { alg: 'none' as never }).replace(/\.[^.]+$/, '.'), /algorithm|signature/],
    ];
    for (const [t, why] of cases) expect(auth.authenticate(bearer(t), '/')).toMatchObject({ ok: false, reason: expect.stringMatching(why) });
  });
  it('reads tokens from configured headers and query parameters', () => {
    const a = compileJwt([{ policy: 'p', issuer: ISS, jwks: JWKS, fromHeaders: [{ name: 'x-jwt' }], fromParams: ['access_token'] }], () => {}, () => now * 1000);
    const t = token(claims);
    expect(a.authenticate((n) => (n === 'x-jwt' ? t : undefined), '/')).toMatchObject({ ok: true, auth: { principal: `${ISS}/alice` } });
    expect(a.authenticate(() => undefined, `/p?access_token=${t}`)).toMatchObject({ ok: true, auth: { principal: `${ISS}/alice` } });
  });
  it("an issuer's token found only where another issuer reads tokens is refused (each issuer reads its own locations)", () => {
    const a = compileJwt([
      { policy: 'p', issuer: ISS, jwks: JWKS, fromHeaders: [{ name: 'x-jwt' }] },
      { policy: 'p', issuer: 'https://other.example.com', jwks: JWKS },
    ], () => {}, () => now * 1000);
    const t = token(claims);
    expect(a.authenticate((n) => (n === 'x-jwt' ? t : undefined), '/')).toMatchObject({ ok: true, auth: { principal: `${ISS}/alice` } });
    expect(a.authenticate(bearer(t), '/')).toMatchObject({ ok: false, reason: expect.stringMatching(/issuer/) });
    expect(a.authenticate(bearer(token({ ...claims, iss: 'https://other.example.com' })), '/')).toMatchObject({ ok: true, auth: { principal: 'https://other.example.com/alice' } });
  });
  it('fetches the JWKS from jwksUri', async () => {
    const server = createServer((_q, s) => s.end(JWKS));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const a = compileJwt([{ policy: 'p', issuer: ISS, jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks` }], () => {}, () => now * 1000);
    const t = token(claims);
    await waitFor(() => a.authenticate(bearer(t), '/').ok, { what: 'the JWKS fetched from jwksUri' });
    expect(a.authenticate(bearer(t), '/')).toMatchObject({ ok: true });
    server.close();
  });
  it('keeps fetched JWKS in the proxy\'s cache: one fetch per issuer across configs until the TTL, a failed fetch not kept', async () => {
    let clock = 0;
    const loads: string[] = [];
    let fail = false;
    const cache = new JwksCache(() => clock, async (uri) => { loads.push(uri); if (fail) throw new Error('HTTP 503'); return JWKS; });
    const uri = 'https://issuer.example.com/jwks';
    const rules = [{ policy: 'p', issuer: ISS, jwksUri: uri }];
    const t = token(claims);
    const first = compileJwt(rules, () => {}, () => now * 1000, cache);
    await waitFor(() => first.authenticate(bearer(t), '/').ok, { what: 'keys of the first config' });
    const second = compileJwt(rules, () => {}, () => now * 1000, cache); // the next config, same issuer
    await waitFor(() => second.authenticate(bearer(t), '/').ok, { what: 'keys of the second config' });
    expect(loads).toEqual([uri]);
    clock = JWKS_TTL_MS; // stale: fetched again
    fail = true;
    const logs: string[] = [];
    const third = compileJwt(rules, (m) => logs.push(m), () => now * 1000, cache);
    await waitFor(() => logs.length === 1, { what: 'the failed fetch logged' });
    expect(logs[0]).toMatch(/JWKS https:\/\/issuer\.example\.com\/jwks not loaded: HTTP 503 \(BOWLINE_E_JWT_JWKS\)/);
    expect(third.authenticate(bearer(t), '/').ok).toBe(false);
    fail = false;
    await cache.get(uri); // the failure was not kept
    expect(loads).toEqual([uri, uri, uri]);
    // Another proxy's cache is its own.
    const other = new JwksCache(() => clock, async (u) => { loads.push(`other:${u}`); return JWKS; });
    await other.get(uri);
    expect(loads.at(-1)).toBe(`other:${uri}`);
  });
  it('feeds requestPrincipals and request.auth.claims[...] in AuthorizationPolicy', () => {
    const engine = compileAuthorization({ policies: [{ name: 'foo/need-admin', action: 'ALLOW', rules: [{ from: [[{ attribute: 'request.auth.principal', values: [`${ISS}/*`] }]], when: [{ attribute: 'request.auth.claims', key: ['groups'], values: ['admins'] }] }] }] });
    const r = auth.authenticate(bearer(token(claims)), '/');
    const base = { sourceIp: '10.0.0.1', port: 8000, method: 'GET', path: '/' };
    expect(engine.evaluate({ ...base, requestAuth: r.ok ? r.auth! : {} }).allowed).toBe(true);
    const dev = auth.authenticate(bearer(token({ ...claims, groups: ['dev'] })), '/');
    expect(engine.evaluate({ ...base, requestAuth: dev.ok ? dev.auth! : {} }).allowed).toBe(false);
    expect(engine.evaluate(base).allowed).toBe(false);
  });
});
