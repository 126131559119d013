/**
 * Spec types of networking.istio.io (v1alpha3, v1beta1, v1): Istio's field names in camelCase.
 * Durations are strings such as "7s" or "100ms" (see parseDuration); enums are upper-case strings.
 */

/** A string match: exactly one of exact, prefix or regex (RE2 syntax). */
export interface StringMatch { exact?: string; prefix?: string; regex?: string }
/** A percentage 0..100 (fractions allowed). */
export interface Percent { value: number }
/** A port by number. */
export interface PortSelector { number?: number }
/** Where traffic goes: a service host, optional subset and port. */
export interface Destination { host: string; subset?: string; port?: PortSelector }
/** Header edits for a request or a response. */
export interface HeaderOperations { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] }
/** Header edits for the request and the response of a route or destination. */
export interface Headers { request?: HeaderOperations; response?: HeaderOperations }

/** spec of a VirtualService. */
export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: TLSRoute[];
  tcp?: TCPRoute[];
  exportTo?: string[];
}
/** One HTTP rule of a VirtualService: match conditions and what to do. */
export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  delegate?: Delegate;
  rewrite?: HTTPRewrite;
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrors?: HTTPMirrorPolicy[];
  mirrorPercentage?: Percent;
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}
/** Match conditions of an HTTP rule (all must hold). */
export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  queryParams?: Record<string, StringMatch>;
  ignoreUriCase?: boolean;
  withoutHeaders?: Record<string, StringMatch>;
  sourceNamespace?: string;
  statPrefix?: string;
}
/** A weighted destination of an HTTP rule. */
export interface HTTPRouteDestination { destination: Destination; weight?: number; headers?: Headers }
/** A weighted destination of a TCP or TLS rule. */
export interface RouteDestination { destination: Destination; weight?: number }
/** Delegates an HTTP rule to another VirtualService. */
export interface Delegate { name?: string; namespace?: string }
/** An HTTP redirect response. */
export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  redirectCode?: number;
}
/** A fixed response without any upstream. */
export interface HTTPDirectResponse { status: number; body?: HTTPBody }
/** Body of a direct response: a string or base64 bytes. */
export interface HTTPBody { string?: string; bytes?: string }
/** Rewrites the URI or authority before forwarding. */
export interface HTTPRewrite { uri?: string; authority?: string; uriRegexRewrite?: RegexRewrite }
/** A regex rewrite of the path (RE2). */
export interface RegexRewrite { match?: string; rewrite?: string }
/** Retry policy. */
export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  retryRemoteLocalities?: boolean;
  retryIgnorePreviousHosts?: boolean;
  backoff?: string;
}
/** CORS policy. */
export interface CorsPolicy {
  allowOrigins?: StringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
  unmatchedPreflights?: 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';
}
/** Fault injection: delays and aborts. */
export interface HTTPFaultInjection { delay?: FaultDelay; abort?: FaultAbort }
/** A fixed delay for a percentage of requests. */
export interface FaultDelay {
  fixedDelay?: string;
  exponentialDelay?: string;
  percentage?: Percent;
}
/** An abort (HTTP status, gRPC status or HTTP/2 error) for a percentage of requests. */
export interface FaultAbort {
  httpStatus?: number;
  grpcStatus?: string;
  http2Error?: string;
  percentage?: Percent;
}
/** A mirror destination with its percentage. */
export interface HTTPMirrorPolicy { destination: Destination; percentage?: Percent }
/** Match conditions of a TLS rule. */
export interface TLSMatchAttributes {
  sniHosts: string[];
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}
/** Match conditions of a TCP rule. */
export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}
/** A TLS (SNI) rule. */
export interface TLSRoute { match: TLSMatchAttributes[]; route?: RouteDestination[] }
/** A TCP rule. */
export interface TCPRoute { match?: L4MatchAttributes[]; route?: RouteDestination[] }

/** spec of a DestinationRule. */
export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: WorkloadSelector;
}
/** Label selector of the workloads a resource applies to (matchLabels). */
export interface WorkloadSelector { matchLabels?: Record<string, string> }
/** Policies for traffic to a destination (or one of its ports). */
export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: PortTrafficPolicy[];
  tunnel?: { protocol?: string; targetHost: string; targetPort: number };
  proxyProtocol?: { version?: 'V1' | 'V2' };
  retryBudget?: { percent?: number; minRetryConcurrency?: number; budgetInterval?: string };
}
/** Traffic policy of one port. */
export interface PortTrafficPolicy {
  port?: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}
/** A named set of endpoints (by labels) with an optional policy override. */
export interface Subset { name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicy }
/** Load balancing: a simple algorithm or consistent hashing. */
export interface LoadBalancerSettings {
  simple?: 'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLoadBalancerSetting;
  warmupDurationSecs?: string;
  warmup?: { duration: string; minimumPercent?: number; aggression?: number };
}
/** Consistent hashing by header, cookie, source IP or query parameter. */
export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: { name: string; path?: string; ttl?: string; attributes?: Array<{ name: string; value?: string }> };
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
}
/** Locality-weighted load balancing and failover. */
export interface LocalityLoadBalancerSetting {
  distribute?: Array<{ from?: string; to?: Record<string, number> }>;
  failover?: Array<{ from?: string; to?: string }>;
  failoverPriority?: string[];
  enabled?: boolean;
}
/** Connection limits for TCP and HTTP. */
export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: { probes?: number; time?: string; interval?: string };
    maxConnectionDuration?: string;
    idleTimeout?: string;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}
/** Passive health checking (ejecting failing hosts). */
export interface OutlierDetection {
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}
/** TLS the client side (sidecar or gateway) uses to reach a destination. */
export interface ClientTLSSettings {
  mode?: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
  caCrl?: string;
}

/** spec of a Gateway. */
export interface GatewaySpec { servers: Server[]; selector?: Record<string, string> }
/** One listener of a gateway. */
export interface Server {
  port: Port;
  bind?: string;
  hosts: string[];
  tls?: ServerTLSSettings;
  defaultEndpoint?: string;
  name?: string;
}
/** A port with its protocol (HTTP|HTTPS|GRPC|GRPC-WEB|HTTP2|MONGO|TCP|TLS, any case). */
export interface Port { number: number; protocol: string; name?: string; targetPort?: number }
/** TLS a server side (gateway or sidecar inbound) terminates or passes through. */
export interface ServerTLSSettings {
  httpsRedirect?: boolean;
  mode?: 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  credentialName?: string;
  credentialNames?: string[];
  tlsCertificates?: Array<{ serverCertificate?: string; privateKey?: string; caCertificates?: string }>;
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: TLSProtocol;
  maxProtocolVersion?: TLSProtocol;
  cipherSuites?: string[];
}
/** TLS protocol versions. */
export type TLSProtocol = 'TLS_AUTO' | 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';

/** spec of a ServiceEntry. */
export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}
/** A port of a ServiceEntry. */
export interface ServicePort { number: number; protocol?: string; name: string; targetPort?: number }

/** spec of a WorkloadEntry (also an endpoint of a ServiceEntry). */
export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

/** spec of a Sidecar. */
export interface SidecarSpec {
  workloadSelector?: { labels?: Record<string, string> };
  ingress?: IstioIngressListener[];
  egress?: IstioEgressListener[];
  inboundConnectionPool?: ConnectionPoolSettings;
  outboundTrafficPolicy?: { mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY'; egressProxy?: Destination };
}
/** How traffic reaches a sidecar listener. */
export type CaptureMode = 'DEFAULT' | 'IPTABLES' | 'NONE';
/** A sidecar port (number, protocol, name). */
export interface SidecarPort { number?: number; protocol?: string; name?: string; targetPort?: number }
/** An inbound listener of a Sidecar. */
export interface IstioIngressListener {
  port: SidecarPort;
  bind?: string;
  captureMode?: CaptureMode;
  defaultEndpoint?: string;
  tls?: ServerTLSSettings;
  connectionPool?: ConnectionPoolSettings;
}
/** An outbound listener of a Sidecar: which hosts the workload may reach. */
export interface IstioEgressListener { port?: SidecarPort; bind?: string; captureMode?: CaptureMode; hosts: string[] }
