import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { IDENTITY_ERRORS, IdentityError, type IdentityErrorCode } from './errors.js';
import { peerSpiffeId } from './spiffe.js';
import { formatPrincipal, parseSpiffeId } from '../../proxy-config/spiffe.js';

/**
 * Checking who is on the other end of an mTLS connection: the chain (done by OpenSSL against the
 * trust bundle), then the SPIFFE id (trust domain and, where known, the exact identities allowed).
 * Every refusal gets a stable code and a sentence for the log.
 */

/** What a peer must be: in this trust domain and, when `allowedIds` is non-empty, one of those SPIFFE ids. */
export interface PeerExpectation {
  trustDomain: string;
  allowedIds?: string[];
}

/** The outcome of checking a peer. */
export type PeerVerdict =
  | { ok: true; spiffeId: string; principal: string }
  | { ok: false; code: IdentityErrorCode; reason: string };

const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE',
]);

/** Maps an OpenSSL verification or node TLS error code to an identity error code and a sentence. */
export function classifyTlsError(code: string | undefined, message = ''): { code: IdentityErrorCode; reason: string } {
  if (code === 'CERT_HAS_EXPIRED') return { code: IDENTITY_ERRORS.PEER_EXPIRED, reason: 'peer certificate has expired' };
  if (code === 'CERT_NOT_YET_VALID') return { code: IDENTITY_ERRORS.PEER_NOT_YET_VALID, reason: 'peer certificate is not valid yet (check both clocks)' };
  if (code && UNTRUSTED.has(code)) return { code: IDENTITY_ERRORS.PEER_UNTRUSTED, reason: `peer certificate is not signed by a trusted root (${code}): another CA or another mesh` };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return { code: IDENTITY_ERRORS.SAN_MISMATCH, reason: message || 'server certificate does not name the host' };
  // Our own refusals (checkServerIdentity, a refused credential) carry their code in `code` or at the end of the message.
  const carried = code !== undefined && /^BOWLINE_E_/.test(code) ? code : code === undefined ? /\bBOWLINE_E_[A-Z_]+/.exec(message)?.[0] : undefined;
  if (carried !== undefined) return { code: carried as IdentityErrorCode, reason: withoutCode(message, carried) };
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' || /peer did not return a certificate/i.test(message)) {
    return { code: IDENTITY_ERRORS.PEER_NO_CERTIFICATE, reason: 'peer sent no client certificate (plaintext or non-mesh client toward a STRICT port?)' };
  }
  return { code: IDENTITY_ERRORS.HANDSHAKE, reason: `TLS handshake failed${code ? ` (${code})` : ''}${message ? `: ${message}` : ''}` };
}

/** A message without its code: `CODE: text` (CodedError) and `text (CODE)` both read `text`. */
function withoutCode(message: string, code: string): string {
  const m = message.startsWith(code + ': ') ? message.slice(code.length + 2) : message;
  return m.endsWith(` (${code})`) ? m.slice(0, -code.length - 3) : m;
}

/** Classifies an error from a failed TLS connection (client side, or a server's `tlsClientError`). */
export function describeTlsError(err: unknown): { code: IdentityErrorCode; reason: string } {
  const e = err as { code?: string; message?: string } | undefined;
  return classifyTlsError(e?.code, e?.message ?? '');
}

/** Checks an already chain-verified certificate's SPIFFE id against the expectation. */
export function checkPeerIdentity(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined, expect: PeerExpectation): PeerVerdict {
  const id = peerSpiffeId(cert);
  if (!id) return { ok: false, code: IDENTITY_ERRORS.PEER_NO_SPIFFE_ID, reason: `peer certificate carries no single SPIFFE id (SAN: ${cert?.subjectaltname ?? 'none'})` };
  const parsed = parseSpiffeId(id);
  if (!parsed) return { ok: false, code: IDENTITY_ERRORS.PEER_NO_SPIFFE_ID, reason: `peer SPIFFE id ${id} is not of the form spiffe://TD/ns/NS/sa/SA` };
  if (parsed.trustDomain !== expect.trustDomain) {
    return { ok: false, code: IDENTITY_ERRORS.PEER_TRUST_DOMAIN, reason: `peer ${id} is in trust domain ${parsed.trustDomain}, expected ${expect.trustDomain}` };
  }
  if (expect.allowedIds?.length && !expect.allowedIds.includes(id)) {
    return { ok: false, code: IDENTITY_ERRORS.PEER_IDENTITY, reason: `peer is ${id}, expected ${expect.allowedIds.join(' or ')}` };
  }
  return { ok: true, spiffeId: id, principal: formatPrincipal(parsed) };
}

/**
 * A `checkServerIdentity` for tls.connect that compares SPIFFE ids instead of host names (the
 * default fails with ERR_TLS_CERT_ALTNAME_INVALID: mesh certificates have no DNS SAN).
 * The returned error carries the BOWLINE_E_TLS_PEER_* code in `code`.
 */
export function spiffeServerIdentityCheck(expect: PeerExpectation): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const v = checkPeerIdentity(cert, expect);
    return v.ok ? undefined : Object.assign(new IdentityError(v.code, v.reason), { code: v.code });
  };
}

/**
 * Checks the peer of an established TLS connection (server side with `requestCert: true`,
 * `rejectUnauthorized: false`, so the reason can be logged before closing): a certificate was
 * sent, it chains to the trust bundle and is valid now, and its SPIFFE id is acceptable.
 */
export function verifyPeerSocket(socket: TLSSocket, expect: PeerExpectation): PeerVerdict {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { ok: false, ...classifyTlsError('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') };
  if (!socket.authorized) {
    const e = socket.authorizationError as unknown as Error | string | undefined;
    const code = typeof e === 'string' ? e : (e as { code?: string } | undefined)?.code ?? e?.message;
    return { ok: false, ...classifyTlsError(code, typeof e === 'string' ? e : e?.message) };
  }
  return checkPeerIdentity(cert, expect);
}

/** `sha256:HEX` over the DER of a certificate (the form bootstrap tokens carry). */
export function certificateHash(pem: string): string {
  // node:crypto on first use: a proxy without mTLS never loads it (docs/performance.md, Memory).
  const { createHash, X509Certificate } = createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  return 'sha256:' + createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/**
 * First contact with the control plane: accepts the trust bundle it served only if one of its
 * certificates hashes to `pin` (from the bootstrap token or --ca-cert-file). Returns the bundle's
 * certificates; throws IdentityError ROOT_PIN_MISMATCH otherwise.
 */
export function verifyRootPin(rootPem: string, pin: string): string[] {
  const certs = (rootPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((b) => b + '\n');
  const want = pin.trim().toLowerCase();
  if (certs.some((c) => certificateHash(c) === want)) return certs;
  throw new IdentityError(
    IDENTITY_ERRORS.ROOT_PIN_MISMATCH,
    `the control plane's root (${certs.map(certificateHash).join(', ') || 'no certificate'}) does not match the pinned ${want}: wrong control plane address, a stale token, or someone in between`,
  );
}
