// Istio YAML for a service with two versions, as the e2e tests route it: a DestinationRule with
// subsets v1 and v2, and a VirtualService around a list of HTTP or TCP rules. One copy for the
// field tests (Bookinfo's reviews over HTTP, a database over TCP) and the control-plane test.

/** A DestinationRule `host` for host `host` with subsets v1 and v2 (by the version label). */
export function versionSubsets(host: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${host}, namespace: default}
spec:
  host: ${host}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;
}

/** A VirtualService `host` for host `host` with these `http` or `tcp` rules (YAML list items, indented 2). */
export function virtualService(host: string, kind: 'http' | 'tcp', rules: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${host}, namespace: default}
spec:
  hosts: [${host}]
  ${kind}:
${rules}`;
}

/** Bookinfo's reviews: its subsets v1 and v2. */
export const REVIEWS_SUBSETS = versionSubsets('reviews');

/** A VirtualService `reviews` for host reviews with these HTTP rules (YAML list items, indented 2). */
export function reviewsRoutes(http: string): string {
  return virtualService('reviews', 'http', http);
}
