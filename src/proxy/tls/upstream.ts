/**
 * Client-side TLS toward upstream endpoints (DestinationRule `tls`): SIMPLE, MUTUAL with
 * certificate files, and ISTIO_MUTUAL (the workload certificate secret; same code path).
 * Server verification: the chain against `caCertificates` (or the system roots for SIMPLE
 * without them), then the server's SANs against `subjectAltNames` (DNS and SPIFFE URI SANs),
 * else the endpoint's SPIFFE identity for ISTIO_MUTUAL, else the host name in `sni`.
 * `insecureSkipVerify` turns verification off and logs a warning once per cluster and proxy.
 */
import type { ConnectionOptions, PeerCertificate, SecureContext, TLSSocket } from 'node:tls';
import type { OnReadOpts } from 'node:net';
import type { UpstreamTls } from '../../proxy-config/types.js';
import { sanAllowed } from './san.js';
import type { SecretResolver } from './secrets.js';
import { nodeTls } from './node-tls.js';

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

/** Opens a TLS connection to an endpoint; `secureConnect` fires when verified. */
export function connectUpstreamTls(t: CompiledUpstreamTls, host: string, port: number, identity: string | undefined, alpn?: string[], onread?: OnRead): TLSSocket {
  return nodeTls().connect(upstreamTlsOptions(t, host, port, identity, alpn, onread));
}
