import { describe, expect, it } from 'vitest';
import { IDENTITY_ERRORS } from './errors.js';
import { peerSpiffeId } from './spiffe.js';
import { parseSpiffeId, principalOf } from '../../proxy-config/spiffe.js';
import { readBootstrapToken } from './token.js';
import { checkPeerIdentity, classifyTlsError, spiffeServerIdentityCheck } from './verify.js';
import type { PeerCertificate } from 'node:tls';

const td = { trustDomain: 'cluster.local' };

describe('peer identity checks', () => {
  it('accepts a single SPIFFE id in the trust domain and gives its principal', () => {
    expect(checkPeerIdentity({ subjectaltname: 'URI:spiffe://cluster.local/ns/default/sa/web' }, td)).toEqual({ ok: true, spiffeId: 'spiffe://cluster.local/ns/default/sa/web', principal: 'cluster.local/ns/default/sa/web' });
  });
  it('refuses no SPIFFE id, another trust domain, and an identity not expected', () => {
    expect(checkPeerIdentity({ subjectaltname: 'DNS:web.example.com' }, td)).toMatchObject({ ok: false, code: IDENTITY_ERRORS.PEER_NO_SPIFFE_ID });
    expect(checkPeerIdentity({ subjectaltname: 'URI:spiffe://other.example/ns/default/sa/web' }, td)).toMatchObject({ ok: false, code: IDENTITY_ERRORS.PEER_TRUST_DOMAIN });
    expect(checkPeerIdentity({ subjectaltname: 'URI:spiffe://cluster.local/ns/default/sa/web' }, { ...td, allowedIds: ['spiffe://cluster.local/ns/default/sa/db'] })).toMatchObject({ ok: false, code: IDENTITY_ERRORS.PEER_IDENTITY });
    const check = spiffeServerIdentityCheck({ ...td, allowedIds: ['spiffe://cluster.local/ns/default/sa/db'] });
    expect(check('db', { subjectaltname: 'URI:spiffe://cluster.local/ns/default/sa/db' } as PeerCertificate)).toBeUndefined();
    expect(check('db', { subjectaltname: 'URI:spiffe://cluster.local/ns/default/sa/web' } as PeerCertificate)).toMatchObject({ code: IDENTITY_ERRORS.PEER_IDENTITY });
  });
  it('names why a handshake failed', () => {
    expect(classifyTlsError('CERT_HAS_EXPIRED').code).toBe(IDENTITY_ERRORS.PEER_EXPIRED);
    expect(classifyTlsError('CERT_NOT_YET_VALID').code).toBe(IDENTITY_ERRORS.PEER_NOT_YET_VALID);
    expect(classifyTlsError('UNABLE_TO_VERIFY_LEAF_SIGNATURE').code).toBe(IDENTITY_ERRORS.PEER_UNTRUSTED);
    expect(classifyTlsError('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number').code).toBe(IDENTITY_ERRORS.HANDSHAKE);
  });
  it('keeps the code our own refusals carry, in `code` or at the end of a message without one', () => {
    expect(classifyTlsError(undefined, 'upstream certificate SANs (none) match none of spiffe://td/ns/a/sa/b (BOWLINE_E_TLS_SAN_MISMATCH)'))
      .toEqual({ code: IDENTITY_ERRORS.SAN_MISMATCH, reason: 'upstream certificate SANs (none) match none of spiffe://td/ns/a/sa/b' });
    expect(classifyTlsError(IDENTITY_ERRORS.PEER_IDENTITY, `${IDENTITY_ERRORS.PEER_IDENTITY}: peer is x, expected y`)).toEqual({ code: IDENTITY_ERRORS.PEER_IDENTITY, reason: 'peer is x, expected y' });
    expect(classifyTlsError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames").code).toBe(IDENTITY_ERRORS.SAN_MISMATCH);
    // Another code with a BOWLINE_E_ text is not taken over by the text.
    expect(classifyTlsError('CERT_HAS_EXPIRED', 'x (BOWLINE_E_TLS_SAN_MISMATCH)').code).toBe(IDENTITY_ERRORS.PEER_EXPIRED);
  });
  it('parses SPIFFE ids strictly', () => {
    expect(parseSpiffeId('spiffe://cluster.local/ns/a/sa/b')).toEqual({ trustDomain: 'cluster.local', namespace: 'a', serviceAccount: 'b' });
    expect(parseSpiffeId('spiffe://cluster.local/ns/a/sa/b/extra')).toBeUndefined();
    expect(parseSpiffeId('https://cluster.local/ns/a/sa/b')).toBeUndefined();
    expect(peerSpiffeId({ subjectaltname: 'URI:spiffe://a/ns/b/sa/c, URI:spiffe://a/ns/b/sa/d' })).toBeUndefined();
    expect(principalOf('spiffe://td/ns/a/sa/b')).toBe('td/ns/a/sa/b');
  });
});

describe('bootstrap token on the proxy side', () => {
  it('reads identity, root hash and expiry; refuses garbage with a clear code', () => {
    const payload = Buffer.from(JSON.stringify({ ns: 'shop', sa: 'cart', wl: 'vm1', jti: 'x', iat: 1, exp: 2, root: 'sha256:ab' })).toString('base64url');
    expect(readBootstrapToken(`h.${payload}.s\n`)).toEqual({ namespace: 'shop', serviceAccount: 'cart', workload: 'vm1', rootHash: 'sha256:ab', expiresAt: 2000 });
    expect(() => readBootstrapToken('nonsense')).toThrow(expect.objectContaining({ code: IDENTITY_ERRORS.TOKEN_MALFORMED }));
  });
  it('reads namespace and service account of a Kubernetes projected service-account token (it pins no root)', () => {
    const payload = Buffer.from(JSON.stringify({ aud: ['istio-ca'], exp: 3, iss: 'https://kubernetes.default.svc', sub: 'system:serviceaccount:default:bookinfo-ratings', 'kubernetes.io': { namespace: 'default', pod: { name: 'ratings-1', uid: 'u' }, serviceaccount: { name: 'bookinfo-ratings', uid: 'v' } } })).toString('base64url');
    expect(readBootstrapToken(`eyJhbGciOiJSUzI1NiJ9.${payload}.sig`)).toEqual({ namespace: 'default', serviceAccount: 'bookinfo-ratings', expiresAt: 3000 });
  });
});
