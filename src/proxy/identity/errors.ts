/**
 * Why the proxy refused a peer or could not renew its identity: stable codes for logs,
 * the access log flag and metrics (docs/errors.md, "Identity and the CA").
 */
import { CodedError, type CodeOf } from '../../proxy-config/coded-error.js';

/** Stable codes of identity failures, with what each means. */
export const IDENTITY_ERRORS = {
  /** The peer's certificate does not chain to a trusted root (another CA, self-signed). */
  PEER_UNTRUSTED: 'BOWLINE_E_TLS_PEER_UNTRUSTED',
  /** The peer's certificate has expired. */
  PEER_EXPIRED: 'BOWLINE_E_TLS_PEER_EXPIRED',
  /** The peer's certificate is not valid yet (its clock or ours is wrong). */
  PEER_NOT_YET_VALID: 'BOWLINE_E_TLS_PEER_NOT_YET_VALID',
  /** The peer sent no certificate where one is required. */
  PEER_NO_CERTIFICATE: 'BOWLINE_E_TLS_PEER_NO_CERTIFICATE',
  /** The peer's certificate carries no SPIFFE id. */
  PEER_NO_SPIFFE_ID: 'BOWLINE_E_TLS_PEER_NO_SPIFFE_ID',
  /** The peer's SPIFFE id is in another trust domain. */
  PEER_TRUST_DOMAIN: 'BOWLINE_E_TLS_PEER_TRUST_DOMAIN',
  /** The peer's SPIFFE id is not one the destination is expected to run as. */
  PEER_IDENTITY: 'BOWLINE_E_TLS_PEER_IDENTITY',
  /** The server's certificate carries none of the names the client expects (a cluster's subjectAltNames, the endpoint's SPIFFE id, its `sni`). */
  SAN_MISMATCH: 'BOWLINE_E_TLS_SAN_MISMATCH',
  /**
   * The server closed the connection during the TLS handshake, or right after it before answering, once this proxy
   * had offered its client certificate: most likely the server refused that certificate (node's TLS servers,
   * Bowline's among them, close without an alert, so the client learns nothing more).
   */
  CLIENT_REFUSED: 'BOWLINE_E_TLS_CLIENT_REFUSED',
  /** The TLS handshake failed for another reason (garbage bytes, protocol or cipher mismatch). */
  HANDSHAKE: 'BOWLINE_E_TLS_HANDSHAKE',
  /** The control plane's root does not match the hash in the bootstrap token (or --ca-cert-file). */
  ROOT_PIN_MISMATCH: 'BOWLINE_E_ROOT_PIN_MISMATCH',
  /** A bootstrap token that the proxy cannot read. */
  TOKEN_MALFORMED: 'BOWLINE_E_TOKEN_MALFORMED',
  /** Renewing the workload certificate failed (retried with backoff until expiry). */
  RENEWAL_FAILED: 'BOWLINE_E_IDENTITY_RENEWAL_FAILED',
  /** The saved workload certificate (`--identity-dir`) expired while the proxy was down; a new bootstrap token is needed. */
  EXPIRED: 'BOWLINE_E_IDENTITY_EXPIRED',
  /** A certificate the CA just issued is not current by this host's clock: the clock is off (peers' certificates are refused too). */
  CLOCK_SKEW: 'BOWLINE_E_IDENTITY_CLOCK_SKEW',
} as const;

/** One of the identity error codes. */
export type IdentityErrorCode = CodeOf<typeof IDENTITY_ERRORS>;

/** An identity failure with a stable code. */
export class IdentityError extends CodedError<IdentityErrorCode> {
  override name = 'IdentityError';
}
