/**
 * SPIFFE workload ids, `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`: the one parser
 * and formatter for the CA (which issues them), the proxy (which checks peers against them) and
 * telemetry (which labels requests with them). It lives with the proxy schema because the id is
 * part of the contract between the planes (Endpoint.identity, DownstreamTls.subjectAltNames).
 *
 * Authorization names peers by principal, Istio's form of the id without its scheme
 * (`TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`); `principalOf` and `spiffeIdOf` convert
 * between the two, and return undefined for anything malformed so callers fail closed.
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
const SCHEME = 'spiffe://';
/** Any SPIFFE id (spec: a lowercase trust domain, path segments of A-Z a-z 0-9 . _ - other than `.` and `..`), captured without its scheme. */
const ANY_ID = /^spiffe:\/\/([a-z0-9._-]{1,255}(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)*)$/;
/** The SPIFFE spec's limit on an id's length (bytes; ids here are ASCII). */
const MAX_ID_LENGTH = 2048;

/** True when `s` can be a namespace or service-account segment (1-253 of A-Z a-z 0-9 . _ -, not `.` or `..`, which SPIFFE paths refuse). */
export function isIdentitySegment(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s !== '.' && s !== '..' && SEGMENT.test(s);
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
  return `${SCHEME}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/**
 * The principal authorization matches for a SPIFFE id: the id without `spiffe://`
 * (`cluster.local/ns/NS/sa/SA`, or `TD/PATH` for a SPIFFE id that is not a workload id, as Istio).
 * Undefined for anything that is not a SPIFFE id (other schemes, '', upper-case trust domain,
 * empty, `.` or `..` segments, other characters, over 2048 bytes): no principal, so no rule naming one matches.
 */
export function principalOf(spiffeId: string): string | undefined {
  if (spiffeId.length > MAX_ID_LENGTH) return undefined;
  return ANY_ID.exec(spiffeId)?.[1];
}

/**
 * The principal a peer with a verified certificate is matched by: `principalOf` its SPIFFE URI,
 * and for a `spiffe://` URI that is not a well-formed SPIFFE id its text without the scheme
 * (undefined for another scheme: not a SPIFFE peer). Such a peer is
 * still authenticated: a DENY rule naming principals `*` must match it (a DENY fails closed), as
 * an ALLOW `*` does in Istio; `parsePrincipal` refuses it, so rules naming namespaces or service
 * accounts never match it.
 */
export function peerPrincipal(uri: string): string | undefined {
  return principalOf(uri) ?? (uri.startsWith(SCHEME) ? uri.slice(SCHEME.length) : undefined);
}

/** The SPIFFE id of a principal (`TD/ns/NS/sa/SA` -> `spiffe://TD/ns/NS/sa/SA`); undefined when the result would not be a SPIFFE id. */
export function spiffeIdOf(principal: string): string | undefined {
  const id = SCHEME + principal;
  return principalOf(id) === principal ? id : undefined;
}

/** The workload parts of a principal `TD/ns/NS/sa/SA`; undefined for any other principal. */
export function parsePrincipal(principal: string): SpiffeId | undefined {
  return parseSpiffeId(SCHEME + principal);
}

/** The principal of a workload identity, `TD/ns/NS/sa/SA` (no checks, as formatSpiffeId). */
export function formatPrincipal(id: SpiffeId): string {
  return formatSpiffeId(id).slice(SCHEME.length);
}
