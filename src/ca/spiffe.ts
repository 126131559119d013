import { CA_ERRORS, CaError } from './errors.js';

/** A workload identity inside one trust domain: its namespace and service account. */
export interface WorkloadIdentity {
  namespace: string;
  serviceAccount: string;
}

/** The trust domain used when none is configured (Istio's default). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

const SEGMENT = /^[A-Za-z0-9._-]+$/;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

/** True when `s` can be a namespace / service account segment of a SPIFFE id. */
export function isIdentitySegment(s: string): boolean {
  return s.length > 0 && s.length <= 253 && SEGMENT.test(s);
}

/** Validates a trust domain (lowercase letters, digits, `.`, `-`, `_`), throwing a clear error. */
export function checkTrustDomain(td: string): string {
  if (!TRUST_DOMAIN.test(td) || td.length > 255) throw new Error(`invalid trust domain "${td}": use lowercase letters, digits, ".", "-" and "_"`);
  return td;
}

/** `spiffe://TD/ns/NS/sa/SA` for an identity, validating each segment. */
export function spiffeId(trustDomain: string, id: WorkloadIdentity): string {
  if (!isIdentitySegment(id.namespace) || !isIdentitySegment(id.serviceAccount)) {
    throw new CaError(CA_ERRORS.CSR_IDENTITY, `invalid identity namespace="${id.namespace}" serviceAccount="${id.serviceAccount}"`);
  }
  return `spiffe://${trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** Parses `spiffe://TD/ns/NS/sa/SA`; undefined for anything else. */
export function parseSpiffeId(uri: string): (WorkloadIdentity & { trustDomain: string }) | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m || !TRUST_DOMAIN.test(m[1]!) || !isIdentitySegment(m[2]!) || !isIdentitySegment(m[3]!)) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! };
}
