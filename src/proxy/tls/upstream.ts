/**
 * Client-side TLS toward upstream endpoints (DestinationRule `tls`): SIMPLE, MUTUAL with
 * certificate files, and ISTIO_MUTUAL (the workload certificate secret; same code path).
 * Server verification: the chain against `caCertificates` (or the system roots for SIMPLE
 * without them), then the server's SANs against `subjectAltNames` (DNS and SPIFFE URI SANs),
 * else the endpoint's SPIFFE identity for ISTIO_MUTUAL, else the host name in `sni`.
 * `insecureSkipVerify` turns verification off and logs a warning once per cluster and proxy.
 * A connection that fails because of TLS (the server's certificate, a refused credential, the
 * handshake) has its error named with a BOWLINE_E_ code and counted (upstreamTlsFailure).
 * Once a mutual TLS connection is up, its server's verified SPIFFE id is read once
 * (upstreamPeerIdentity) and kept on the connection: telemetry's destination_principal.
 */
import type { ConnectionOptions, PeerCertificate, SecureContext, TLSSocket } from 'node:tls';
import type { OnReadOpts } from 'node:net';
import type { UpstreamTls } from '../../proxy-config/types.js';
import { sanAllowed, spiffeId } from './san.js';
import type { SecretResolver } from './secrets.js';
import { nodeTls } from './node-tls.js';
import { describeTlsError } from '../identity/verify.js';
import { IDENTITY_ERRORS } from '../identity/errors.js';
import type { ProxyStats } from '../stats.js';

/** A cluster's upstream TLS, compiled once per config. */
export interface CompiledUpstreamTls {
  readonly mode: UpstreamTls['mode'];
  readonly context: SecureContext;
  readonly sni: string | undefined;
  readonly subjectAltNames: readonly string[];
  readonly insecure: boolean;
  readonly alpn: string[] | undefined;
  /** Why every connection is refused (the cluster's credential cannot be had), if so. */
  readonly refused?: string;
}

/** The TLS 1.3 suite mesh-internal mTLS prefers, as Envoy (BoringSSL) does. */
export const MESH_TLS13_FIRST = 'TLS_AES_128_GCM_SHA256';

let mesh: string | undefined;

/**
 * The cipher list of ISTIO_MUTUAL connections: node's default list (`tls.DEFAULT_CIPHERS`, which
 * `--tls-cipher-list` sets) with TLS_AES_128_GCM_SHA256 moved to the front of the TLS 1.3 suites,
 * the order Envoy offers (node's own puts TLS_AES_256_GCM_SHA384 first). The server follows the
 * client's order, so a Bowline client and an Envoy client negotiate the same suite; nothing is
 * added or removed, and the TLS 1.2 part (already AES-128-GCM first) is node's as it is.
 */
export function meshCiphers(): string {
  if (mesh !== undefined) return mesh;
  const all = nodeTls().DEFAULT_CIPHERS.split(':');
  const v13 = all.filter((c) => c.startsWith('TLS_'));
  if (!v13.includes(MESH_TLS13_FIRST)) return (mesh = all.join(':'));
  return (mesh = [MESH_TLS13_FIRST, ...v13.filter((c) => c !== MESH_TLS13_FIRST), ...all.filter((c) => !c.startsWith('TLS_'))].join(':'));
}

/** Compiles a cluster's UpstreamTls; throws TlsSecretError on missing material.
 *  `warned`: the clusters this proxy already warned about for insecureSkipVerify (the warning is loud, once per proxy). */
export function compileUpstreamTls(cluster: string, t: UpstreamTls, secrets: SecretResolver, log: (line: string) => void, warned: Set<string>): CompiledUpstreamTls {
  if (t.unavailable !== undefined) {
    log(`cluster ${cluster}: ${t.unavailable}; its connections are refused until the control plane sends a usable credential (BOWLINE_E_TLS_SECRET)`);
    // No trusted roots and an identity check that always fails: nothing is ever sent on such a connection.
    return { mode: t.mode, context: nodeTls().createSecureContext({ ca: [] }), sni: t.sni, subjectAltNames: [], insecure: false, alpn: t.alpn, refused: t.unavailable };
  }
  const own = t.certificateSecret !== undefined ? secrets.get(t.certificateSecret) : {};
  const ca = t.validationSecret !== undefined ? secrets.get(t.validationSecret).ca : undefined;
  if ((t.mode === 'MUTUAL' || t.mode === 'ISTIO_MUTUAL') && (own.cert === undefined || own.key === undefined)) {
    throw new Error(`cluster ${cluster}: tls mode ${t.mode} needs a certificateSecret with a certificate chain and key (BOWLINE_E_TLS_SECRET)`);
  }
  const context = nodeTls().createSecureContext({
    ...(own.cert !== undefined ? { cert: own.cert } : {}),
    ...(own.key !== undefined ? { key: own.key } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(t.mode === 'ISTIO_MUTUAL' ? { ciphers: meshCiphers() } : {}),
  });
  if (t.insecureSkipVerify === true && !warned.has(cluster)) {
    warned.add(cluster);
    log(`WARNING: cluster ${cluster} has tls.insecureSkipVerify: upstream server certificates are NOT verified; anyone on the path can impersonate the upstream (BOWLINE_E_TLS_INSECURE)`);
  }
  return {
    mode: t.mode,
    context,
    sni: t.sni,
    subjectAltNames: t.subjectAltNames ?? [],
    insecure: t.insecureSkipVerify === true,
    alpn: t.alpn,
  };
}

/** `net.connect`'s `onread`: cleartext is read into `buffer` and handed to `callback` instead of `data` events. */
export type OnRead = OnReadOpts;

/**
 * The options for `tls.connect` toward one endpoint; `identity` is the endpoint's SPIFFE id, if
 * known. With `onread`, decrypted bytes go to its callback in its buffer (no buffer allocated
 * per TLS record, no Readable stream in between).
 */
export function upstreamTlsOptions(t: CompiledUpstreamTls, host: string, port: number, identity: string | undefined, alpn?: string[], onread?: OnRead): ConnectionOptions {
  const sans = t.subjectAltNames.length > 0 ? t.subjectAltNames : t.mode === 'ISTIO_MUTUAL' && identity ? [identity] : [];
  const protocols = alpn ?? t.alpn;
  return {
    host,
    port,
    secureContext: t.context,
    ...(t.sni !== undefined ? { servername: t.sni } : {}),
    ...(protocols !== undefined && protocols.length > 0 ? { ALPNProtocols: protocols } : {}),
    rejectUnauthorized: !t.insecure,
    // tls.connect passes `onread` to the socket it creates (documented for net.connect; ConnectionOptions' type omits it).
    ...(onread !== undefined ? { onread } as ConnectionOptions : {}),
    checkServerIdentity: (_name: string, cert: PeerCertificate): Error | undefined => {
      if (t.refused !== undefined) return new Error(`${t.refused} (BOWLINE_E_TLS_SECRET)`);
      if (t.insecure) return undefined;
      if (sans.length > 0) {
        return sanAllowed(cert, sans) ? undefined : new Error(`upstream certificate SANs (${cert.subjectaltname ?? 'none'}) match none of ${sans.join(', ')} (BOWLINE_E_TLS_SAN_MISMATCH)`);
      }
      // ISTIO_MUTUAL's SNI (`outbound_.PORT_.SUBSET_.HOST`) is for routing, not a name in the certificate: the mesh root decides.
      if (t.sni !== undefined && t.mode !== 'ISTIO_MUTUAL') return nodeTls().checkServerIdentity(t.sni, cert);
      return undefined;
    },
  };
}

/**
 * Opens a TLS connection to an endpoint; `secureConnect` fires when verified. Until then, an error
 * TLS caused (upstreamTlsFailure) gets the message `TLS: REASON (BOWLINE_E_...)` before the caller's
 * own 'error' listeners see it (they log `err.message`: the pool's, HTTP/2's and TCP's connect
 * failures), and is counted in `stats` (countUpstreamTlsFailure). TCP failures keep node's message.
 */
export function connectUpstreamTls(t: CompiledUpstreamTls, host: string, port: number, identity: string | undefined, alpn?: string[], onread?: OnRead, stats?: ProxyStats): TLSSocket {
  const socket = nodeTls().connect(upstreamTlsOptions(t, host, port, identity, alpn, onread));
  // A server that closes mid-handshake once it has our certificate refused it, most likely (TLS 1.2: the client's
  // certificate goes before the handshake ends; node's servers close without an alert: ECONNRESET here). The first
  // key-log line says the server's hello came and the client answered with its certificate: a server that closed
  // before that (a plain TCP server dropping the hello) is not this case.
  let answeredHello = false;
  if (offersClientCertificate(t)) socket.once('keylog', () => { answeredHello = true; });
  const named = (err: Error): void => {
    const why = upstreamTlsFailure(err) ?? ((err as { code?: unknown }).code === 'ECONNRESET' && answeredHello
      ? { code: IDENTITY_ERRORS.CLIENT_REFUSED, reason: CLIENT_REFUSED_DURING }
      : undefined);
    if (why === undefined) return;
    err.message = `TLS: ${why.reason} (${why.code})`;
    stats?.countUpstreamTlsFailure(why.code);
  };
  socket.once('error', named);
  socket.once('secureConnect', () => socket.off('error', named));
  return socket;
}

const CLIENT_REFUSED_DURING = 'the server closed the connection during the handshake, after this proxy sent its client certificate: it most likely refused the certificate (the server\'s log says why)';
const CLIENT_REFUSED_AFTER = 'the server closed the connection right after the handshake, before answering: it most likely refused this proxy\'s client certificate (the server\'s log says why)';

/** The cluster's TLS sends a client certificate (MUTUAL, ISTIO_MUTUAL). */
export function offersClientCertificate(t: CompiledUpstreamTls | undefined): boolean {
  return t !== undefined && (t.mode === 'MUTUAL' || t.mode === 'ISTIO_MUTUAL');
}

/**
 * A new mutual-TLS connection that the server closed right after the handshake, before any
 * response byte (TLS 1.3: the client's handshake ends before the server has checked the client's
 * certificate, and a refusing node or Bowline server just closes): counted in
 * `upstreamTlsClientRefused`; returns the failure's message, `TLS: REASON (BOWLINE_E_TLS_CLIENT_REFUSED)`.
 */
export function clientRefusedAfterHandshake(stats: ProxyStats | undefined): string {
  stats?.countUpstreamTlsFailure(IDENTITY_ERRORS.CLIENT_REFUSED);
  return `TLS: ${CLIENT_REFUSED_AFTER} (${IDENTITY_ERRORS.CLIENT_REFUSED})`;
}

/**
 * The verified identity of the server on an upstream connection, read once per connection at
 * `secureConnect` (never per request): its certificate's SPIFFE URI SAN (tls/san.ts `spiffeId`, as the
 * downstream side reads a client's) when its chain was verified against the cluster's roots, over
 * any TLS mode (SIMPLE too, as Envoy reports the upstream peer's URI SAN for every verified TLS
 * connection); '' otherwise (insecureSkipVerify with an unverified chain, a certificate without a
 * SPIFFE id, such as a public server's). This, not what the server says in its peer metadata header,
 * is the source reporter's destination_principal (docs/telemetry.md).
 */
export function upstreamPeerIdentity(socket: TLSSocket): string {
  if (!socket.authorized) return '';
  return spiffeId(socket.getPeerCertificate());
}

/** OpenSSL's certificate verification codes and node's TLS errors (ERR_SSL_*, ERR_TLS_*): a failure TLS caused, not TCP. */
const TLS_CODE = /^(?:ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|INVALID_|PATH_LENGTH_|HOSTNAME_MISMATCH|ERROR_IN_|SUBJECT_ISSUER_MISMATCH|KEYUSAGE_)/;

/**
 * Why an upstream TLS connection failed before it was up, when TLS is the cause: the server's
 * certificate (expired, not yet valid, another root, SANs; node's code or our checkServerIdentity's
 * BOWLINE_E_ code), a refused credential (BOWLINE_E_TLS_SECRET) or the handshake. Undefined for
 * TCP failures (ECONNREFUSED, resets, timeouts): those say what they are already.
 */
export function upstreamTlsFailure(err: unknown): { code: string; reason: string } | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  const ours = /\bBOWLINE_E_[A-Z_]+/.test(message) || (code !== undefined && code.startsWith('BOWLINE_E_'));
  if (!ours && (code === undefined || !TLS_CODE.test(code))) return undefined;
  const why = describeTlsError(err);
  // describeTlsError names handshake failures "TLS handshake failed ..." already.
  return { code: why.code, reason: why.reason.replace(/^TLS handshake failed/, 'handshake failed') };
}
