// Istio YAML for Bookinfo's reviews service, as the e2e tests route it: its two subsets and a
// VirtualService around a list of HTTP rules. One copy for the field tests and the control-plane test.

/** A DestinationRule for reviews with subsets v1 and v2 (by the version label). */
export const REVIEWS_SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

/** A VirtualService `reviews` for host reviews with these HTTP rules (YAML list items, indented 2). */
export function reviewsRoutes(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
${http}`;
}
