/** Spec types of security.istio.io (v1beta1, v1) and the legacy authentication.istio.io/v1alpha1 kinds. */

/** Selects workloads by labels. */
export interface LabelSelector { matchLabels?: Record<string, string> }
/** A reference to a Kubernetes-style resource (Gateway API targetRef). */
export interface PolicyTargetReference { group?: string; kind: string; name: string; namespace?: string }

/** Mutual TLS mode of a PeerAuthentication. */
export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
/** spec of a PeerAuthentication. */
export interface PeerAuthenticationSpec {
  selector?: LabelSelector;
  mtls?: { mode?: MtlsMode };
  /** Port number (as a string key) -> mode for that port. */
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

/** spec of an AuthorizationPolicy. */
export interface AuthorizationPolicySpec {
  selector?: LabelSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  rules?: AuthorizationRule[];
  action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  provider?: { name?: string };
}
/** One rule: who (from), what (to), when (conditions). */
export interface AuthorizationRule {
  from?: Array<{ source?: AuthorizationSource }>;
  to?: Array<{ operation?: AuthorizationOperation }>;
  when?: AuthorizationCondition[];
}
/** Who sends the request. */
export interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
}
/** What the request does. */
export interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}
/** An extra condition such as `request.headers[x-token]` in values. */
export interface AuthorizationCondition { key: string; values?: string[]; notValues?: string[] }

/** spec of a RequestAuthentication. */
export interface RequestAuthenticationSpec {
  selector?: LabelSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  jwtRules?: JWTRule[];
}
/** How to validate one issuer's JWTs. */
export interface JWTRule {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: Array<{ name: string; prefix?: string }>;
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  outputClaimToHeaders?: Array<{ header: string; claim: string }>;
  forwardOriginalToken?: boolean;
  timeout?: string;
}

/** spec of the legacy authentication.istio.io/v1alpha1 Policy and MeshPolicy. */
export interface LegacyPolicySpec {
  targets?: Array<{ name: string; ports?: Array<{ number?: number; name?: string }> }>;
  peers?: Array<{ mtls?: { mode?: 'STRICT' | 'PERMISSIVE'; allowTls?: boolean } | null; jwt?: Record<string, unknown> }>;
  peerIsOptional?: boolean;
  origins?: Array<{ jwt?: Record<string, unknown> }>;
  originIsOptional?: boolean;
  principalBinding?: 'USE_PEER' | 'USE_ORIGIN';
}
