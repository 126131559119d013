/**
 * A pod's projected service-account token (audience `istio-ca`, mounted by the injector at
 * /var/run/secrets/tokens/istio-token) exchanged for its workload certificate, as istiod's CA
 * does: the control plane asks the cluster's apiserver with a TokenReview whether the token is
 * valid for that audience (signature, expiry, and for a bound token its pod still existing), and
 * the identity is the service account the apiserver names (`system:serviceaccount:NS:SA`).
 * Everything else is refused, with the apiserver's reason; an apiserver that cannot be asked
 * refuses too (fail closed).
 */
import { CA_ERRORS, CaError, type WorkloadIdentity } from '../ca/index.js';
import { KubeRest } from '../store/kubernetes/rest.js';

/** The audience Istio's proxies ask their token for, and the one accepted here. */
export const ISTIO_CA_AUDIENCE = 'istio-ca';

const UNAUTHENTICATED = CA_ERRORS.UNAUTHENTICATED;

/** A reviewer for the CA (CaOptions.reviewToken) against the apiserver of `kubeconfig` (absent: the pod's own). */
export function kubeTokenReviewer(o: { kubeconfig?: string; audience?: string }): (token: string) => Promise<WorkloadIdentity> {
  const rest = new KubeRest(o.kubeconfig);
  const audience = o.audience ?? ISTIO_CA_AUDIENCE;
  return async (token) => {
    let review: { status?: { authenticated?: boolean; error?: string; audiences?: string[]; user?: { username?: string } } };
    try {
      review = await rest.call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: token.trim(), audiences: [audience] } });
    } catch (err) {
      throw new CaError(UNAUTHENTICATED, `the token could not be reviewed by the apiserver ${rest.server}: ${(err as Error).message}`);
    }
    const s = review.status ?? {};
    if (!s.authenticated) throw new CaError(UNAUTHENTICATED, `the apiserver does not accept the token for audience ${audience}: ${s.error || 'not authenticated'}`);
    if (s.audiences && !s.audiences.includes(audience)) throw new CaError(UNAUTHENTICATED, `the token is not for audience ${audience} (it is for ${s.audiences.join(', ')})`);
    const m = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(s.user?.username ?? '');
    if (!m) throw new CaError(UNAUTHENTICATED, `the token is ${s.user?.username ?? 'nobody'}'s, not a service account's`);
    return { namespace: m[1]!, serviceAccount: m[3]! };
  };
}
