/**
 * The proxy's own counters, served by the admin listener's /stats. Plain numeric fields
 * incremented on the hot path (no maps, no labels); per-flag counts by bit index. Every
 * counter of the proxy is declared here, in three groups: the core (HTTP requests and
 * upstreams), the protocol layer (TCP, TLS inspection, detection, HTTP/2) and security
 * (refusals by reason). /stats serves them flat, by field name.
 */
import { Flag, type FlagName } from './record.js';

/** Process-wide counters of one proxy instance. */
export class ProxyStats {
  // ---- core: downstream HTTP, upstreams, config
  downstreamConnectionsTotal = 0;
  downstreamConnectionsActive = 0;
  requestsTotal = 0;
  requestsActive = 0;
  responses1xx = 0;
  responses2xx = 0;
  responses3xx = 0;
  responses4xx = 0;
  responses5xx = 0;
  /** Requests refused as malformed (400 and close). */
  downstreamProtocolErrors = 0;
  /** Connections closed with 408 because a request head did not complete within requestHeadersTimeoutMs. */
  downstreamHeadersTimeouts = 0;
  /** Unexpected throws caught at a socket or stream callback (BOWLINE_E_PROXY_INTERNAL); each cost one connection or request. */
  internalErrors = 0;
  upstreamConnectionsTotal = 0;
  upstreamConnectionsActive = 0;
  upstreamConnectFailures = 0;
  upstreamRequestsTotal = 0;
  upstreamRetries = 0;
  /** Retries not made because the cluster's maxRetries requests were already retrying (Envoy's upstream_rq_retry_overflow). */
  upstreamRetryOverflow = 0;
  upstreamResets = 0;
  mirrorRequests = 0;
  configReloads = 0;
  configRejected = 0;

  // ---- protocol layer: TCP proxying, TLS inspection, protocol detection, HTTP/2
  tcpConnectionsTotal = 0;
  tcpConnectionsActive = 0;
  tcpBytesReceived = 0;
  tcpBytesSent = 0;
  /** TCP connections no route matched. */
  tcpNoRoute = 0;
  tcpConnectFailures = 0;
  /** TCP connections refused by the cluster's maxConnections. */
  tcpOverflow = 0;
  tcpIdleTimeouts = 0;
  /** Connections whose first bytes looked like TLS but were not a valid ClientHello. */
  tlsInspectorInvalid = 0;
  tlsInspectorNoSni = 0;
  tlsHandshakeFailures = 0;
  /** Connections closed because their first bytes did not arrive within the listener's detection timeout. */
  detectTimeouts = 0;
  /** Connections still open at a drain's deadline (listener removed or moved, filter chains changed, proxy shutdown), closed then (drain.ts). */
  drainDeadlineClosed = 0;
  /**
   * HTTP connections a drain closed before its deadline (Envoy's downstream_cx_drain_close): HTTP/1.1 after a response
   * that carried `connection: close` because of the drain, or idle at the drain's idle grace; HTTP/2 when it closes after
   * the drain's GOAWAY. With drainDeadlineClosed, every drained HTTP connection counts once.
   */
  drainClosed = 0;
  noFilterChainMatch = 0;
  h2SessionsTotal = 0;
  h2SessionsActive = 0;
  h2StreamsTotal = 0;
  h2StreamsReset = 0;
  h2ProtocolErrors = 0;
  /** HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM for resetting too many streams early (h2/abuse.ts). */
  h2ResetFloods = 0;
  h2UpstreamSessionsTotal = 0;
  h2UpstreamRefusedStreams = 0;

  // ---- security: refusals by reason (mTLS peer checks, plaintext toward STRICT, JWT, authorization)
  authzDenied = 0;
  jwtRejected = 0;
  mtlsPlaintextRefused = 0;
  mtlsPeerUntrusted = 0;
  mtlsPeerTrustDomain = 0;
  mtlsPeerExpired = 0;
  mtlsPeerNotYetValid = 0;
  mtlsPeerNoCertificate = 0;
  /** Connections refused because the chain they matched needs the workload certificate this proxy does not have (started
   *  without --token-file; BOWLINE_E_IDENTITY_NO_CERTIFICATE; Envoy's downstream_context_secrets_not_ready). */
  mtlsNoWorkloadCertificate = 0;
  /** Upstream TLS connections this proxy (the client) gave up on because of the server's certificate or the handshake, by
   *  reason (tls/upstream.ts upstreamTlsFailure; Envoy's cluster ssl.fail_verify_* and ssl.connection_error). Each is
   *  also an upstream connect failure (503 UF). */
  upstreamTlsPeerExpired = 0;
  upstreamTlsPeerNotYetValid = 0;
  upstreamTlsPeerUntrusted = 0;
  /** The server's certificate names none of the SANs expected (BOWLINE_E_TLS_SAN_MISMATCH, or its SPIFFE id is refused). */
  upstreamTlsSanMismatch = 0;
  /** Connections refused because the cluster's own credential cannot be had (BOWLINE_E_TLS_SECRET). */
  upstreamTlsNoCredential = 0;
  /** Upstream TLS connections the server closed during or right after the handshake, before answering, once this proxy had
   *  offered its client certificate (BOWLINE_E_TLS_CLIENT_REFUSED: most likely refused by the server; TLS 1.2 shows it as a
   *  connect failure, 503 UF; TLS 1.3 after the handshake, 503 UC). */
  upstreamTlsClientRefused = 0;
  /** Any other TLS failure toward an upstream (BOWLINE_E_TLS_HANDSHAKE: plaintext server, protocol or cipher mismatch, an alert). */
  upstreamTlsHandshakeFailed = 0;

  /** Count of requests carrying each flag, indexed by bit position. */
  readonly flagCounts = new Array<number>(16).fill(0);

  /** Counts a completed request with its status and flags. */
  complete(status: number, flags: number): void {
    const c = (status / 100) | 0;
    if (c === 2) this.responses2xx++;
    else if (c === 5) this.responses5xx++;
    else if (c === 4) this.responses4xx++;
    else if (c === 3) this.responses3xx++;
    else if (c === 1) this.responses1xx++;
    if (flags !== 0) for (let b = 0; b < 16; b++) if ((flags & (1 << b)) !== 0) this.flagCounts[b]!++;
  }

  /** Counts a refused TLS peer or plaintext connection whose message carries a BOWLINE_E_TLS_ code (other messages: no-op). */
  countRefusal(message: string): void {
    const code = /BOWLINE_E_[A-Z_]+/.exec(message)?.[0];
    const key = code === undefined ? undefined : REFUSAL_BY_CODE[code];
    if (key !== undefined) this[key]++;
  }

  /** Counts an upstream TLS connection that failed with `code` (a BOWLINE_E_ code from tls/upstream.ts upstreamTlsFailure). */
  countUpstreamTlsFailure(code: string): void {
    this[UPSTREAM_TLS_BY_CODE[code] ?? 'upstreamTlsHandshakeFailed']++;
  }

  /** A JSON-ready snapshot for /stats. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this)) if (typeof v === 'number') out[k] = v;
    for (const [name, bit] of Object.entries(Flag) as Array<[FlagName, number]>) out[`flag_${name}`] = this.flagCounts[Math.log2(bit)]!;
    return out;
  }
}

/** The security counter each refusal code counts in. */
const REFUSAL_BY_CODE: Record<string, 'mtlsPeerUntrusted' | 'mtlsPeerTrustDomain' | 'mtlsPeerExpired' | 'mtlsPeerNotYetValid' | 'mtlsPeerNoCertificate' | 'mtlsPlaintextRefused'> = {
  BOWLINE_E_TLS_PEER_UNTRUSTED: 'mtlsPeerUntrusted',
  BOWLINE_E_TLS_PEER_TRUST_DOMAIN: 'mtlsPeerTrustDomain',
  BOWLINE_E_TLS_PEER_EXPIRED: 'mtlsPeerExpired',
  BOWLINE_E_TLS_PEER_NOT_YET_VALID: 'mtlsPeerNotYetValid',
  BOWLINE_E_TLS_PEER_NO_CERTIFICATE: 'mtlsPeerNoCertificate',
  BOWLINE_E_TLS_PLAINTEXT_REFUSED: 'mtlsPlaintextRefused',
};

/** The counter each upstream TLS failure code counts in; any other code: upstreamTlsHandshakeFailed. */
const UPSTREAM_TLS_BY_CODE: Record<string, 'upstreamTlsPeerExpired' | 'upstreamTlsPeerNotYetValid' | 'upstreamTlsPeerUntrusted' | 'upstreamTlsSanMismatch' | 'upstreamTlsNoCredential' | 'upstreamTlsClientRefused'> = {
  BOWLINE_E_TLS_CLIENT_REFUSED: 'upstreamTlsClientRefused',
  BOWLINE_E_TLS_PEER_EXPIRED: 'upstreamTlsPeerExpired',
  BOWLINE_E_TLS_PEER_NOT_YET_VALID: 'upstreamTlsPeerNotYetValid',
  BOWLINE_E_TLS_PEER_UNTRUSTED: 'upstreamTlsPeerUntrusted',
  BOWLINE_E_TLS_SAN_MISMATCH: 'upstreamTlsSanMismatch',
  BOWLINE_E_TLS_PEER_NO_SPIFFE_ID: 'upstreamTlsSanMismatch',
  BOWLINE_E_TLS_PEER_TRUST_DOMAIN: 'upstreamTlsSanMismatch',
  BOWLINE_E_TLS_PEER_IDENTITY: 'upstreamTlsSanMismatch',
  BOWLINE_E_TLS_SECRET: 'upstreamTlsNoCredential',
};
