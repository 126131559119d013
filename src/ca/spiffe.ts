import { CA_ERRORS, CaError } from './errors.js';
import { formatSpiffeId, isIdentitySegment, isTrustDomain, parseSpiffeId as parseId } from '../proxy-config/spiffe.js';

/** A workload identity inside one trust domain: its namespace and service account. */
export interface WorkloadIdentity {
  namespace: string;
  serviceAccount: string;
}

// One parser for both planes: src/proxy-config/spiffe.ts.
export { DEFAULT_TRUST_DOMAIN, isIdentitySegment } from '../proxy-config/spiffe.js';

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

/** Parses `spiffe://TD/ns/NS/sa/SA`; undefined for anything else. */
export function parseSpiffeId(uri: string): (WorkloadIdentity & { trustDomain: string }) | undefined {
  return parseId(uri);
}
