/**
 * The CA's checks on the identities it signs, with its error codes; parsing and formatting are
 * src/proxy-config/spiffe.ts's (one home for both planes).
 */
import { CA_ERRORS, CaError } from './errors.js';
import { formatSpiffeId, isIdentitySegment, isTrustDomain } from '../proxy-config/spiffe.js';

/** A workload identity inside one trust domain: its namespace and service account. */
export interface WorkloadIdentity {
  namespace: string;
  serviceAccount: string;
}

/** Validates a trust domain (lowercase letters, digits, `.`, `-`, `_`), throwing a clear error. */
export function checkTrustDomain(td: string): string {
  if (!isTrustDomain(td)) throw new Error(`invalid trust domain "${td}": use lowercase letters, digits, ".", "-" and "_"`);
  return td;
}

/** `spiffe://TD/ns/NS/sa/SA` for an identity, validating each segment. */
export function spiffeId(trustDomain: string, id: WorkloadIdentity): string {
  if (!isIdentitySegment(id.namespace) || !isIdentitySegment(id.serviceAccount)) {
    throw new CaError(CA_ERRORS.CSR_IDENTITY, `invalid identity namespace="${id.namespace}" serviceAccount="${id.serviceAccount}"`);
  }
  return formatSpiffeId({ trustDomain, namespace: id.namespace, serviceAccount: id.serviceAccount });
}
