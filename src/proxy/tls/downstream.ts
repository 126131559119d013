/**
 * Server-side TLS on a filter chain (Gateway SIMPLE / MUTUAL, sidecar inbound mTLS): the
 * DownstreamTls config compiled once into a SecureContext and the options a TLSSocket needs,
 * then `terminate` wraps an accepted socket (whose first bytes were already read for the
 * ClientHello) and reports the negotiated ALPN and the verified peer identity.
 */
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { DownstreamTls } from '../../proxy-config/types.js';
import { classifyTlsError } from '../identity/verify.js';
import { sanAllowed, spiffeId } from './san.js';
import type { SecretResolver } from './secrets.js';
import { parseSpiffeId } from '../../proxy-config/spiffe.js';
import { nodeTls } from './node-tls.js';

/** Handshake must complete within this long. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** A chain's TLS settings, ready for connections. */
export interface CompiledDownstreamTls {
  readonly context: SecureContext;
  readonly alpn: string[];
  readonly requestCert: boolean;
  readonly requireClientCertificate: boolean;
  readonly subjectAltNames: readonly string[];
  readonly trustDomains: readonly string[];
  readonly mutual: boolean;
}

/** Compiles a chain's DownstreamTls; throws TlsSecretError on missing material. */
export function compileDownstreamTls(t: DownstreamTls, secrets: SecretResolver): CompiledDownstreamTls {
  const own = secrets.get(t.certificateSecret);
  const ca = t.validationSecret !== undefined ? secrets.get(t.validationSecret).ca : undefined;
  const context = nodeTls().createSecureContext({
    ...(own.cert !== undefined ? { cert: own.cert } : {}),
    ...(own.key !== undefined ? { key: own.key } : {}),
    ...(ca !== undefined ? { ca } : {}),
    minVersion: t.minVersion ?? 'TLSv1.2',
  });
  return {
    context,
    alpn: t.alpn ?? [],
    requestCert: t.validationSecret !== undefined,
    requireClientCertificate: t.requireClientCertificate === true,
    subjectAltNames: t.subjectAltNames ?? [],
    trustDomains: t.trustDomains ?? [],
    mutual: t.securityPolicy === 'mutual_tls' || t.requireClientCertificate === true,
  };
}

/** Whether a completed handshake's peer passes the chain's client-certificate rules; returns the SPIFFE id ('' if none) or an Error. */
export function checkPeer(s: TLSSocket, tls: CompiledDownstreamTls, verifyError: Error | null): string | Error {
  const cert = s.getPeerCertificate();
  const verified = tls.requestCert && verifyError === null && cert !== undefined && Object.keys(cert).length > 0;
  if (tls.requireClientCertificate && !verified) {
    const noCert = cert === undefined || Object.keys(cert).length === 0;
    const why = noCert ? classifyTlsError('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') : classifyTlsError((verifyError as { code?: string } | null)?.code, verifyError?.message ?? '');
    return new Error(`client certificate refused: ${why.reason} (${why.code})`);
  }
  if (tls.subjectAltNames.length > 0 && (!verified || !sanAllowed(cert, tls.subjectAltNames))) return new Error('client certificate SAN not allowed');
  const id = verified ? spiffeId(cert) : '';
  if (tls.trustDomains.length > 0 && verified) {
    const td = parseSpiffeId(id)?.trustDomain ?? '';
    if (!tls.trustDomains.includes(td)) return new Error(`client certificate ${id ? `SPIFFE id ${id} is in trust domain "${td}"` : 'has no SPIFFE id'}, not in ${tls.trustDomains.join(', ')} (BOWLINE_E_TLS_PEER_TRUST_DOMAIN)`);
  }
  return id;
}

/** The result of a completed server handshake. */
export interface Terminated {
  socket: TLSSocket;
  /** Negotiated ALPN protocol, or '' when none. */
  alpn: string;
  /** The client's SPIFFE id when it presented a verified certificate, else ''. */
  peerIdentity: string;
}

/**
 * Runs the server handshake on `raw`, replaying `first` (the bytes already read while matching
 * the chain). Calls `done` once with the secure socket, or with an error after destroying it.
 */
export function terminate(raw: Socket, first: Buffer, tls: CompiledDownstreamTls, done: (err: Error | null, t?: Terminated) => void): void {
  // Bytes already read are put back; the TLS layer reads them before the socket's own.
  if (first.length > 0) raw.unshift(first);
  const s = new (nodeTls().TLSSocket)(raw, {
    isServer: true,
    secureContext: tls.context,
    ALPNProtocols: tls.alpn.length > 0 ? tls.alpn : undefined,
    requestCert: tls.requestCert,
    // Verification failures are named by checkPeer after the handshake instead of a silent close.
    rejectUnauthorized: false,
  } as ConstructorParameters<typeof TLSSocket>[1]);
  let settled = false;
  const timer = setTimeout(() => fail(new Error('TLS handshake timeout')), HANDSHAKE_TIMEOUT_MS);
  function fail(err: Error): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    s.destroy();
    raw.destroy();
    done(err);
  }
  s.once('error', fail);
  s.once('close', () => fail(new Error('connection closed during the TLS handshake')));
  s.once('secure', () => {
    if (settled) return;
    // A TLSSocket made by hand gets no `authorized` (tls.Server sets it): ask the handle, as tls.Server does.
    const verifyError = (s as unknown as { _handle?: { verifyError?(): Error | null } })._handle?.verifyError?.() ?? null;
    const peer = checkPeer(s, tls, verifyError);
    if (peer instanceof Error) return fail(peer);
    settled = true;
    clearTimeout(timer);
    s.removeListener('error', fail);
    s.on('error', () => {});
    raw.resume();
    done(null, { socket: s, alpn: typeof s.alpnProtocol === 'string' ? s.alpnProtocol : '', peerIdentity: peer });
  });
}
