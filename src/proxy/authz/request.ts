/** What authorization looks at: one HTTP request, or one TCP connection (no `method`). */
export interface AuthzRequest {
  /** The mTLS peer's principal, `cluster.local/ns/NS/sa/SA` (SPIFFE id without `spiffe://`); absent on plaintext. */
  principal?: string;
  /** The direct peer's address (Istio's source.ip / ipBlocks). */
  sourceIp: string;
  /** The original client address from X-Forwarded-For per trusted hops (remote.ip / remoteIpBlocks); default sourceIp. */
  remoteIp?: string;
  /** The connection's local address (destination.ip). */
  destinationIp?: string;
  /** The destination port (the listener's logical port or the original destination port). */
  port: number;
  /** SNI of a TLS connection. */
  sni?: string;
  /** HTTP only: the Host / :authority, method and path (query included or not; it is ignored). */
  host?: string;
  method?: string;
  path?: string;
  /** HTTP only: a request header by lowercase name (several values joined by `,`). */
  header?: (name: string) => string | undefined;
  /** HTTP only, once RequestAuthentication lands: the validated JWT. */
  requestAuth?: { principal?: string; audiences?: string[]; presenter?: string; claims?: Record<string, unknown> };
}

/** The outcome of authorization. */
export interface AuthzDecision {
  allowed: boolean;
  /** `namespace/name` of the policy that decided, when one did. */
  policy?: string;
  /** A sentence for the log and the access log. */
  reason: string;
  /** AUDIT policies that matched (the request is marked, not changed). */
  audited?: string[];
}
