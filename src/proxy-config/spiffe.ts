/**
 * SPIFFE workload ids, `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`: the one parser
 * and formatter for the CA (which issues them), the proxy (which checks peers against them) and
 * telemetry (which labels requests with them). It lives with the proxy schema because the id is
 * part of the contract between the planes (Endpoint.identity, DownstreamTls.subjectAltNames).
 */

/** The trust domain used when none is configured (Istio's default). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** A parsed SPIFFE workload id. */
export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const ID = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** True when `s` can be a namespace or service-account segment (1-253 of A-Z a-z 0-9 . _ -). */
export function isIdentitySegment(s: string): boolean {
  return s.length > 0 && s.length <= 253 && SEGMENT.test(s);
}

/** True when `td` can be a trust domain (1-255 lowercase letters, digits, `.`, `-`, `_`). */
export function isTrustDomain(td: string): boolean {
  return td.length <= 255 && TRUST_DOMAIN.test(td);
}

/** Parses `spiffe://TD/ns/NS/sa/SA`; undefined for anything else (other paths, bad characters). */
export function parseSpiffeId(uri: string): SpiffeId | undefined {
  const m = ID.exec(uri);
  if (!m || !isTrustDomain(m[1]!) || !isIdentitySegment(m[2]!) || !isIdentitySegment(m[3]!)) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! };
}

/** Formats a SPIFFE id (no checks: callers that take user input validate the parts first). */
export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}
