/**
 * The Bowline proxy configuration: what a proxy runs from. Bowline's own schema, never Istio
 * kinds -- the control plane translates VirtualService, DestinationRule, Gateway, ... into
 * this (src/push/), and a proxy can also start from it in a file (`bowline proxy --config`).
 *
 * Shape follows Envoy's proven split, simplified: listeners (with filter chains) hold
 * HTTP connection managers or TCP proxies; HTTP listeners name a route table; routes name
 * clusters; clusters get endpoints; TLS material lives in secrets referenced by name.
 * Every resource is plain JSON data, so it can be diffed, golden-tested and pushed by type.
 *
 * Conventions: durations are milliseconds (`...Ms`), percentages are 0..100 floats,
 * names are unique within their resource type. Documented in docs/proxy-config.md.
 */

/** The whole configuration of one proxy. */
export interface ProxyConfig {
  /** An opaque version label for logs and /config_dump (the push stream versions each type). */
  version?: string;
  node: NodeInfo;
  mesh: MeshSettings;
  listeners: Listener[];
  routes: RouteConfig[];
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
  secrets: Secret[];
  /** Authorization policies that apply to this proxy's inbound traffic (security issue). */
  authorization?: AuthorizationConfig;
  /** The mesh's name table for the proxy's DNS proxy (docs/capture.md "DNS"): absent or empty, every query is forwarded. */
  names?: NameEntry[];
}

/** One host of the name table: the addresses the DNS proxy answers for `name` and its aliases. */
export interface NameEntry {
  /** The host (FQDN, or a wildcard `*.example.com`); unique in the table. */
  name: string;
  /** Other names of the same host this proxy may use (`reviews.default`, `reviews` in its own namespace). */
  aliases?: string[];
  /** IPv4 and IPv6 addresses: A queries get the IPv4 ones, AAAA the IPv6 ones. */
  addresses: string[];
}

/** Resource types carried by the push stream, one per field of ProxyConfig that holds a list. */
export type ResourceType = 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets' | 'mesh' | 'authorization' | 'names';

// ---------------------------------------------------------------------------------------
// The proxy itself

/** Who this proxy is: used for sourceLabels matching, telemetry labels and its certificate. */
export interface NodeInfo {
  /** Unique proxy id, e.g. `reviews-v1-1.default` (Istio: `sidecar~IP~POD.NS~NS.svc.cluster.local`). */
  id: string;
  /** `sidecar` beside a workload, `gateway` for ingress/egress/east-west gateways. */
  role: 'sidecar' | 'gateway';
  /** Workload name (telemetry's `*_workload`). */
  workload: string;
  namespace: string;
  serviceAccount: string;
  /** The workload's labels, including `app` and `version` (matched by VirtualService sourceLabels). */
  labels: Record<string, string>;
  /** The cluster (network) this proxy runs in, telemetry's `*_cluster`. Default `Kubernetes` as in Istio. */
  cluster?: string;
  /** Trust domain of this proxy's SPIFFE id. */
  trustDomain?: string;
  /** The workload's services as `host:port` (e.g. `reviews.default.svc.cluster.local:9080`), for telemetry. */
  services?: string[];
  /** Where this proxy runs, `REGION/ZONE/SUBZONE` (`bowline proxy --locality`): locality load balancing prefers
   *  endpoints near it (clusters' `localityLb`). Absent: locality load balancing is off for this proxy. */
  locality?: string;
}

/** The Envoy command operators the proxy's access log fills (docs/telemetry.md). */
export const ACCESS_LOG_OPERATORS = [
  'START_TIME', 'REQ', 'PROTOCOL', 'RESPONSE_CODE', 'RESPONSE_FLAGS', 'BYTES_RECEIVED', 'BYTES_SENT', 'DURATION',
  'UPSTREAM_HOST', 'UPSTREAM_CLUSTER', 'ROUTE_NAME', 'DOWNSTREAM_REMOTE_ADDRESS',
  'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_PEER_URI_SAN', 'TRACE_ID', 'HOSTNAME', 'RESP',
] as const;

/** One piece of an access-log line: literal text, or a command operator (`REQ`/`RESP` name a lowercase header,
 *  `altHeader` the one read when it is absent; `maxLength` truncates). */
export type AccessLogPart = string | { op: (typeof ACCESS_LOG_OPERATORS)[number]; header?: string; altHeader?: string; maxLength?: number };

/** Mesh-wide settings a proxy needs (from Istio's MeshConfig). */
export interface MeshSettings {
  /** Percentage of requests traced, 0..100 (Istio default 1). */
  tracingSampling: number;
  tracing?: {
    zipkin?: { url: string };
    otlp?: { url: string };
    /** Span export batching: max spans queued before new ones are dropped (counted). */
    maxQueue?: number;
  };
  accessLog: {
    enabled: boolean;
    /** Istio's accessLogEncoding. */
    encoding: 'TEXT' | 'JSON';
    /** `/dev/stdout` (default when enabled) or a file path. */
    path?: string;
    /** Istio's accessLogFormat, parsed: TEXT lines from these parts (absent: the default format). */
    format?: AccessLogPart[];
    /** Istio's accessLogFormat with JSON encoding: one field per key (absent: the default fields). */
    jsonFormat?: Array<{ key: string; parts: AccessLogPart[] }>;
  };
  /** Istio's enableAutoMtls: outbound uses ISTIO_MUTUAL when no DestinationRule decides and the endpoint has a proxy. */
  autoMtls: boolean;
  /** Istio's outboundTrafficPolicy.mode: unknown hosts pass through (ALLOW_ANY) or get 502 NR (REGISTRY_ONLY). */
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** The drain time in ms (Istio's drainDuration): how long a listener / filter chain change lets connections finish before the rest are closed (docs/protocols.md, Drain). */
  drainDurationMs?: number;
  /** The shutdown drain time in ms (Istio's terminationDrainDuration, protocol 11): how long a proxy told to stop (SIGTERM, POST /quitquitquit) drains; absent: 5 s. */
  terminationDrainDurationMs?: number;
  /** Istio's pathNormalization.normalization, applied before authorization and routing (absent: BASE). */
  pathNormalization?: 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
  /** Telemetry `metrics` for the Prometheus provider (protocol 9): absent, every istio_* metric with Istio's labels. */
  metrics?: MetricsSettings;
  /** Istio's meshId (MeshConfig `meshId`, `bowline up --mesh-id`; protocol 12): spans' `istio.mesh_id` and the peer metadata's
   *  mesh id. Absent (a proxy started from a file): the node's trust domain, as Istio defaults it. */
  meshId?: string;
}

/** The istio_* metrics an override may name (Istio's MetricSelector.IstioMetric, without the gRPC message counts). */
export const ISTIO_METRICS = [
  'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES',
] as const;

/** Which istio_* series the proxy exposes on /stats/prometheus and with which labels (Istio's Telemetry `metrics`). */
export interface MetricsSettings {
  /** false: no istio_* metric at all (the Telemetry's providers name no Prometheus provider). Default true. */
  enabled?: boolean;
  /** Applied in order, a later one winning per metric, reporter side and tag. */
  overrides: MetricOverride[];
}

/** One Telemetry metrics override. */
export interface MetricOverride {
  /** The metric, or ALL_METRICS. */
  metric: (typeof ISTIO_METRICS)[number] | 'ALL_METRICS';
  /** CLIENT: series this proxy reports as the caller (reporter=source); SERVER: as the callee; or both. */
  mode: 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER';
  /** true: the metric is not exposed; false: exposed again (undoes a broader override). */
  disabled?: boolean;
  /** Labels removed, or set (an existing label replaced, a new one appended) from a CEL expression over
   *  Envoy's request attributes (docs/telemetry.md "Expressions"); the value is `unknown` when it cannot be evaluated. */
  tags?: Array<{ name: string; operation: 'UPSERT' | 'REMOVE'; value?: string }>;
}

// ---------------------------------------------------------------------------------------
// Listeners

/** A socket the proxy listens on, and what it does with each accepted connection. */
export interface Listener {
  name: string;
  /** Bind address, e.g. `127.0.0.1`, `0.0.0.0`, `::`. */
  address: string;
  /** Bind port; 0 means ephemeral (the chosen port is reported in the ports file and /config_dump). */
  port: number;
  /** What traffic this listener carries. `outbound`: from the local app to the mesh (HTTP_PROXY or capture);
   *  `inbound`: from the mesh to the local app; `gateway`: a Gateway's server port. */
  direction: 'inbound' | 'outbound' | 'gateway';
  /** The port the listener stands for when it differs from the bind port (a Gateway's port 80 bound on 8080,
   *  the service port behind a capture port). Routing by `port` matches against this. Default: `port`. */
  logicalPort?: number;
  /** Filter chains tried in order; the first whose match fits the connection handles it. */
  filterChains: FilterChain[];
  /** How long to wait for the first bytes when a chain needs protocol detection (default 100 ms, then TCP). Not for a
   *  connection made to an HTTP proxy listener itself (docs/protocols.md): an HTTP_PROXY client waits up to the idle timeout. */
  detectTimeoutMs?: number;
  /** Use the original destination of a captured connection (SO_ORIGINAL_DST) to pick a chain or cluster. */
  useOriginalDst?: boolean;
}

/** Chooses a filter chain by what the connection's first bytes say (Envoy's filter chain match). */
export interface FilterChainMatch {
  /** `tls` when the first bytes are a TLS ClientHello, `raw` otherwise. Absent: either. */
  transportProtocol?: 'tls' | 'raw';
  /** SNI names from the ClientHello (`*.example.com` wildcards allowed). Absent: any. */
  serverNames?: string[];
  /** ALPN protocols offered in the ClientHello (e.g. `istio-peer-exchange`, `h2`). Absent: any. */
  applicationProtocols?: string[];
  /** Detected application protocol on a raw connection. Absent: any. */
  protocol?: 'http1' | 'http2' | 'tcp';
  /** Original destination port (captured traffic) or the listener's logical port. */
  destinationPort?: number;
  /** CIDRs of the original destination address. */
  prefixRanges?: string[];
  /** CIDRs of the connection's source address. */
  sourcePrefixRanges?: string[];
}

/** One way to handle a connection: optional TLS termination, then HTTP or TCP. */
export interface FilterChain {
  name: string;
  match?: FilterChainMatch;
  /** Terminate TLS with these settings (gateway SIMPLE/MUTUAL, sidecar inbound mTLS). Absent: plaintext or passthrough. */
  tls?: DownstreamTls;
  /** Exactly one of http / tcp. */
  http?: HttpConnectionManager;
  tcp?: TcpProxy;
}

/** Server-side TLS on a filter chain. */
export interface DownstreamTls {
  /** Secret (kind `tls-certificate`) holding this server's certificate chain and key. */
  certificateSecret: string;
  /** Secret (kind `validation`) with the roots that client certificates must chain to. Set => client certs verified. */
  validationSecret?: string;
  /** Require a client certificate (MUTUAL / ISTIO_MUTUAL). */
  requireClientCertificate?: boolean;
  /** Accept only peers whose SPIFFE id / SAN is in this list (empty: any verified peer). */
  subjectAltNames?: string[];
  /** Accept only client certificates whose SPIFFE id is in one of these trust domains (mesh mTLS chains). */
  trustDomains?: string[];
  /** ALPN protocols to offer, in order (e.g. ['h2', 'http/1.1']). */
  alpn?: string[];
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Istio's connection_security_policy for telemetry: `mutual_tls` for mTLS chains. */
  securityPolicy?: 'mutual_tls' | 'none';
}

/** HTTP handling on a connection (Envoy's HTTP connection manager). */
export interface HttpConnectionManager {
  /** Name of the RouteConfig that routes this listener's requests. */
  routeConfig: string;
  /** Accept absolute-form request targets (`GET http://host/path`), i.e. act as HTTP_PROXY. Outbound only. */
  acceptAbsoluteForm?: boolean;
  /** Protocols the codec accepts: `auto` sniffs HTTP/1.1 vs the HTTP/2 preface. Default `auto`. */
  codec?: 'http1' | 'http2' | 'auto';
  /** Maximum bytes of a request head (request line plus headers). Default 60 KiB. */
  maxRequestHeadersBytes?: number;
  /** Close idle downstream keep-alive connections after this long. Default 1 h. */
  idleTimeoutMs?: number;
  /** Time from the first byte of an HTTP/1.1 request head to its end (Envoy's request_headers_timeout);
   *  a slower head gets 408 and the connection closes. 0 disables. Default 10 s. */
  requestHeadersTimeoutMs?: number;
  /** HTTP/2 limits. */
  http2?: {
    maxConcurrentStreams?: number;
    initialWindowSize?: number;
    /** Memory (MB) a session may hold in buffers (pending bytes) before new streams are refused. Default 16. */
    maxSessionMemoryMb?: number;
    /** Invalid frames tolerated per session before it is closed. Default 100. */
    maxInvalidFrames?: number;
    /** Streams refused (e.g. over maxConcurrentStreams, RST floods) per session before it is closed. Default 100. */
    maxRejectedStreams?: number;
  };
  /** Number of trusted proxies in front (x-forwarded-for handling). Default 0. */
  xffNumTrustedHops?: number;
  /** Redirect every request to https (Gateway `httpsRedirect`). */
  httpsRedirect?: boolean;
  /** Generate `x-request-id` when absent. Default true. */
  generateRequestId?: boolean;
  /** What to do with `x-forwarded-client-cert` (Envoy's forward_client_cert_details). Default `sanitize_set` inbound. */
  forwardClientCertDetails?: 'sanitize' | 'append_forward' | 'sanitize_set';
}

/** Raw TCP handling on a connection: pick a cluster, splice bytes. */
export interface TcpProxy {
  /** Routes tried in order (VirtualService `tcp` / `tls` rules); the first match picks the destinations. */
  routes: TcpRoute[];
  /** Close the connection after this long with no bytes either way. Default 1 h. */
  idleTimeoutMs?: number;
  /** Name for stats (`stat_prefix`). */
  statPrefix?: string;
  /** Gateway AUTO_PASSTHROUGH: an SNI `outbound_.PORT_.SUBSET_.HOST` picks the cluster `outbound|PORT|SUBSET|HOST`
   *  directly (Istio's east-west gateway); routes are tried when the SNI has another form. */
  autoPassthrough?: boolean;
}

/** A TCP/TLS route: match the connection, then weighted destinations. */
export interface TcpRoute {
  match?: {
    /** Original destination port / logical listener port. */
    port?: number;
    destinationSubnets?: string[];
    /** This proxy's own labels must include these (Istio's sourceLabels). */
    sourceLabels?: Record<string, string>;
    /** SNI names (TLS passthrough). */
    sniHosts?: string[];
    sourceNamespace?: string;
  };
  destinations: WeightedCluster[];
}

// ---------------------------------------------------------------------------------------
// HTTP routes (VirtualService semantics)

/** A route table, referenced by listeners (Envoy's RouteConfiguration). */
export interface RouteConfig {
  name: string;
  virtualHosts: VirtualHost[];
  /** Validate that the clusters routes name exist; unknown cluster -> 503 NC at request time otherwise. */
  validateClusters?: boolean;
}

/** A set of domains and their ordered routes. */
export interface VirtualHost {
  name: string;
  /** Host header values this vhost serves: `reviews`, `reviews:9080`, `*.example.com`, `*`. Port suffix optional. */
  domains: string[];
  /** Ordered: the first route whose match fits wins (Istio semantics). */
  routes: Route[];
  /** CORS applied to all routes of this host unless a route overrides. */
  cors?: CorsPolicy;
  /** Retry policy for routes that have none. */
  retries?: RetryPolicy;
}

/** One HTTP route: Istio's HTTPRoute, resolved to cluster names. */
export interface Route {
  /** Name for stats and debugging (Istio's HTTPRoute.name). */
  name?: string;
  /** Any one of these matches selects the route (OR); an empty or absent list matches everything. */
  match?: HttpMatch[];
  /** Exactly one of route / redirect / directResponse. */
  route?: RouteAction;
  redirect?: RedirectAction;
  directResponse?: { status: number; body?: string; contentType?: string };
  /** Header manipulation for requests and responses of this route. */
  headers?: HeaderOperations;
  fault?: FaultPolicy;
  cors?: CorsPolicy;
}

/** Exact / prefix / regex (RE2 syntax, full-string match as in Istio). */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

/** Istio's HTTPMatchRequest (all present conditions must hold). */
export interface HttpMatch {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  /** Header name (lowercase) -> match. `{ present: true }` only checks presence. */
  headers?: Record<string, StringMatch | { present: boolean }>;
  /** Header names that must NOT match (Istio withoutHeaders): name -> match. */
  withoutHeaders?: Record<string, StringMatch | { present: boolean }>;
  queryParams?: Record<string, StringMatch | { present: boolean }>;
  /** Case-insensitive uri matching. */
  ignoreUriCase?: boolean;
  /** The listener's logical port. */
  port?: number;
  /** This proxy's own labels must include these. */
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  /** Gateway names this match applies to (only meaningful on gateways). */
  gateways?: string[];
}

/** A cluster with a relative weight. Weights need not total 100; they are normalised. */
export interface WeightedCluster {
  cluster: string;
  weight: number;
  /** Header operations applied only when this destination is picked (Istio's HTTPRouteDestination.headers). */
  headers?: HeaderOperations;
}

/** Forward the request to one of several clusters. */
export interface RouteAction {
  destinations: WeightedCluster[];
  /** Whole-request timeout including retries; absent or 0: none (Istio default for HTTP). */
  timeoutMs?: number;
  retries?: RetryPolicy;
  rewrite?: {
    /** Replace the matched prefix (or the whole path for exact matches) with this. */
    uri?: string;
    /** RE2 regex rewrite of the path. */
    uriRegex?: { match: string; rewrite: string };
    authority?: string;
  };
  /** Mirror copies of requests (fire and forget, response discarded). */
  mirrors?: Array<{ cluster: string; percentage: number }>;
  /** Allow protocol upgrades such as WebSocket (Istio allows them by default). */
  allowUpgrade?: boolean;
  /** Cookie / header / source IP / query hash inputs for consistent-hash clusters are on the cluster. */
}

/** Istio's HTTPRedirect. */
export interface RedirectAction {
  uri?: string;
  authority?: string;
  port?: number;
  /** `http` or `https`. */
  scheme?: string;
  /** 301 by default. */
  redirectCode?: number;
  /** Istio's derivePort when `port` is absent: `FROM_PROTOCOL_DEFAULT` leaves the port out (the scheme's default),
   *  `FROM_REQUEST_PORT` uses the port of the listener the request came in on. */
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
}

/** Istio's HTTPRetry. */
export interface RetryPolicy {
  /** Retries after the first try (Istio's attempts). 0 disables retries. */
  attempts: number;
  perTryTimeoutMs?: number;
  /** Envoy retry-on conditions: 5xx, gateway-error, reset, connect-failure, refused-stream, retriable-4xx,
   *  retriable-status-codes, and gRPC: cancelled, deadline-exceeded, internal, resource-exhausted, unavailable. */
  retryOn: string[];
  /** Status codes for `retriable-status-codes` (Istio writes them as numbers inside retryOn). */
  retriableStatusCodes?: number[];
  /** Retry on a different host than the one that failed (Istio default true). */
  retryRemoteLocalities?: boolean;
  /** Base interval of the jittered exponential back-off between retries (Istio's retries.backoff, Envoy's
   *  retry_back_off.base_interval): retry N waits a random time in [0, base * (2^N - 1)), capped at 10 * base.
   *  Default 25 ms. */
  backoffBaseMs?: number;
}

/** Istio's HTTPFaultInjection. */
export interface FaultPolicy {
  /** Exactly one of fixedDelayMs / exponentialDelayMs (a delay drawn from an exponential distribution with this mean). */
  delay?: { fixedDelayMs?: number; exponentialDelayMs?: number; percentage: number };
  /** Exactly one of httpStatus / grpcStatus / http2Error (an HTTP/2 error code name such as `REFUSED_STREAM`: the
   *  stream is reset with it; an HTTP/1.1 request's connection is closed without a response). */
  abort?: { httpStatus?: number; grpcStatus?: string; http2Error?: string; percentage: number };
}

/** Set / add / remove for request and response headers. */
export interface HeaderOperations {
  request?: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] };
  response?: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] };
}

/** Istio's CorsPolicy. */
export interface CorsPolicy {
  allowOrigins: StringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAgeMs?: number;
  allowCredentials?: boolean;
}

// ---------------------------------------------------------------------------------------
// Clusters and endpoints (DestinationRule semantics)

/** A named group of upstream endpoints with its policies (one per service port and subset). */
export interface Cluster {
  /** Istio-style name: `outbound|9080|v1|reviews.default.svc.cluster.local`, `inbound|9080||`. */
  name: string;
  /** `eds`: endpoints come from ClusterLoadAssignment; `dns`: resolve `dnsHosts` (ServiceEntry DNS);
   *  `original_dst`: the captured connection's original destination (passthrough). */
  discovery: 'eds' | 'dns' | 'original_dst';
  /** For `dns` clusters: host:port pairs the proxy resolves itself. */
  dnsHosts?: Array<{ host: string; port: number }>;
  /** Upstream protocol. `auto` follows the downstream (useClientProtocol). */
  protocol: 'http1' | 'http2' | 'tcp' | 'auto';
  /** The service this cluster stands for, for telemetry's destination_service labels. */
  service?: { host: string; name: string; namespace: string; port: number };
  /** The DestinationRule subset name, if any. */
  subset?: string;
  loadBalancer?: LoadBalancer;
  connectionPool?: ConnectionPool;
  outlierDetection?: OutlierDetection;
  tls?: UpstreamTls;
  /** Upgrade HTTP/1.1 requests to HTTP/2 toward this cluster (Istio h2UpgradePolicy UPGRADE). */
  h2Upgrade?: boolean;
  /** Istio's localityLbSetting, applied by the proxy against its own `node.locality` (see docs/proxy-config.md). */
  localityLb?: LocalityLb;
}

/** Locality-aware load balancing: exactly one of `distribute` (locality weights) or priorities (failover). */
export interface LocalityLb {
  /** For a proxy whose locality matches `from` (the first rule that does), each endpoint locality matching a `to`
   *  pattern gets that share (split evenly among the localities the pattern matches); other localities get none.
   *  Patterns are `REGION/ZONE/SUBZONE` with `*` for "any from here on". */
  distribute?: Array<{ from: string; to: Record<string, number> }>;
  /** Priorities by locality: same subzone, same zone, same region, a region named by `failover` for this proxy's
   *  region, then the rest. Traffic moves to the next priority as endpoints of one become unhealthy or ejected
   *  (Envoy's 1.4 overprovisioning), and back as they recover. Set only with outlier detection (as Istio). */
  priorities?: {
    failover?: Array<{ from: string; to: string }>;
    /** Istio's failoverPriority: label keys; an endpoint's priority is how many of them, in order, fail to match
     *  this proxy's values (topology.kubernetes.io/region|zone and topology.istio.io/subzone come from localities). */
    failoverPriority?: string[];
  };
}

/** Istio's LoadBalancerSettings. */
export interface LoadBalancer {
  policy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH';
  /** Slow start (Istio's warmup / warmupDurationSecs, Envoy's slow_start_config) for ROUND_ROBIN and LEAST_REQUEST:
   *  an endpoint that joins a running cluster has its weight scaled by max(minimumPercent / 100,
   *  (age / durationMs) ^ (1 / aggression)) until it is `durationMs` old. */
  warmup?: { durationMs: number; minimumPercent?: number; aggression?: number };
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string; path?: string; ttlMs?: number };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
    /** Ring size / table size hint. */
    minimumRingSize?: number;
  };
}

/** Istio's ConnectionPoolSettings (TCP and HTTP halves flattened). */
export interface ConnectionPool {
  /** Max upstream connections to the cluster (all endpoints). Default 2^32-1. */
  maxConnections?: number;
  connectTimeoutMs?: number;
  /** TCP keepalive on upstream sockets: probes start after `timeMs` idle (SO_KEEPALIVE + TCP_KEEPIDLE). Node sets
   *  neither TCP_KEEPINTVL nor TCP_KEEPCNT: the kernel's interval and probe count apply (see docs/proxy-config.md). */
  tcpKeepalive?: { timeMs?: number; intervalMs?: number; probes?: number };
  /** Max requests waiting for a connection (HTTP/1.1). Overflow -> 503 UO. */
  http1MaxPendingRequests?: number;
  /** Max concurrent requests to the cluster (HTTP/2 streams). Overflow -> 503 UO. */
  http2MaxRequests?: number;
  /** Requests per upstream connection before it is closed; 0 or absent: unlimited. */
  maxRequestsPerConnection?: number;
  /** Max requests retrying to the cluster at once (Envoy's max_retries circuit breaker): a request that would
   *  retry while this many others are retrying gets its failed attempt's answer instead (counted as retry overflow). */
  maxRetries?: number;
  /** Close idle upstream connections after this long. */
  idleTimeoutMs?: number;
  /** Max concurrent streams per HTTP/2 connection. */
  maxConcurrentStreams?: number;
}

/** Istio's OutlierDetection. */
export interface OutlierDetection {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  consecutiveLocalOriginFailures?: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  minHealthPercent?: number;
}

/** Client-side TLS toward upstream endpoints (DestinationRule `tls`). */
export interface UpstreamTls {
  /** ISTIO_MUTUAL uses this proxy's workload certificate and the mesh roots. */
  mode: 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  /** Secret (kind `tls-certificate`) with the client certificate (MUTUAL, ISTIO_MUTUAL). */
  certificateSecret?: string;
  /** Secret (kind `validation`) with the roots to verify the server against. Absent with SIMPLE: system roots. */
  validationSecret?: string;
  sni?: string;
  /** Accept the server only if one of its SANs (DNS, URI/SPIFFE) is listed. */
  subjectAltNames?: string[];
  insecureSkipVerify?: boolean;
  alpn?: string[];
  /** Set by auto-mTLS (no DestinationRule decided): a proxy without a workload certificate connects in plaintext instead. */
  auto?: boolean;
  /** The credential this cluster needs cannot be had (why): every connection is refused (fail closed), never sent without it. */
  unavailable?: string;
}

/** Endpoints of one cluster (Envoy's ClusterLoadAssignment). */
export interface ClusterLoadAssignment {
  cluster: string;
  endpoints: Endpoint[];
}

/** One upstream address with what the mesh knows about it. */
export interface Endpoint {
  address: string;
  port: number;
  /** Relative weight for load balancing (default 1). */
  weight?: number;
  /** The workload's labels (subset selection already applied by the control plane; kept for telemetry). */
  labels?: Record<string, string>;
  /** SPIFFE id the endpoint presents, e.g. `spiffe://cluster.local/ns/default/sa/reviews`. */
  identity?: string;
  /** `istio`: the endpoint has a Bowline proxy and speaks mTLS (auto-mTLS uses it). */
  tlsMode?: 'istio' | 'disabled';
  /** Workload name and namespace, for telemetry's destination_* labels. */
  workload?: string;
  namespace?: string;
  /** Health as reported by the registry; `unhealthy` endpoints get no traffic. */
  health?: 'healthy' | 'unhealthy' | 'draining';
  locality?: string;
}

// ---------------------------------------------------------------------------------------
// Secrets

/** TLS material referenced by name from listeners and clusters (Envoy's SDS). PEM strings or file paths. */
export interface Secret {
  name: string;
  kind: 'tls-certificate' | 'validation';
  /** PEM text; or `file:` + path, read by the proxy (user-provided certificates). */
  certificateChain?: string;
  privateKey?: string;
  /** Trusted roots (kind `validation`). */
  trustedCa?: string;
}

// ---------------------------------------------------------------------------------------
// Authorization (AuthorizationPolicy, compiled per proxy)

/** Policies that apply to this proxy's inbound traffic, evaluated DENY first, then ALLOW. */
export interface AuthorizationConfig {
  policies: AuthorizationPolicy[];
  /** RequestAuthentication: JWTs validated on inbound HTTP requests before authorization (a request with an
   *  invalid token gets 401; one without a token passes with no request.auth.* for the policies). */
  jwtRules?: JwtRule[];
  /** AuthorizationPolicy action CUSTOM: requests matching a policy's rules are checked by its external
   *  authorizer before DENY and ALLOW (Istio's order); absent: none. */
  custom?: CustomAuthorization[];
}

/** One CUSTOM policy: which requests go to which external authorizer (Envoy's ext_authz, HTTP service). */
export interface CustomAuthorization {
  /** `namespace/name` of the source policy, for logs. */
  name: string;
  /** Requests matching any rule are checked (a rule `{}` matches every request); conditions as in AuthzRule. */
  rules: AuthzRule[];
  provider: ExtAuthzHttp;
}

/** MeshConfig extensionProviders `envoyExtAuthzHttp` (or, with `protocol: 'grpc'`, `envoyExtAuthzGrpc`), resolved by
 *  the control plane to a cluster of this proxy. */
export interface ExtAuthzHttp {
  /** The provider's name in the mesh config, for logs. */
  name: string;
  /** `grpc`: Envoy's ext_authz gRPC service (`envoy.service.auth.v3.Authorization/Check` over HTTP/2, protocol 10);
   *  then only name, cluster, authority, timeoutMs, failOpen and statusOnError apply. Absent: the HTTP service. */
  protocol?: 'grpc';
  /** The cluster (`outbound|PORT||HOST`) the check requests go to, with its endpoints and TLS. */
  cluster: string;
  /** Host header of a check request (`HOST:PORT`). */
  authority: string;
  /** Give up after this long (Istio default 600 s); then the request fails closed unless `failOpen`. */
  timeoutMs: number;
  /** Prepended to the request's path in the check request. */
  pathPrefix?: string;
  /** Request headers copied into the check request besides Host, method, path and Content-Length (0);
   *  lowercase names or patterns `prefix*` / `*suffix`. */
  includeRequestHeaders?: string[];
  /** Headers set on every check request. */
  includeAdditionalHeaders?: Record<string, string>;
  /** Response headers of an allowing check copied onto the request sent upstream (patterns as above); absent: none. */
  headersToUpstreamOnAllow?: string[];
  /** Response headers of a denying check sent to the client (patterns as above); absent: all but hop-by-hop and Host. */
  headersToDownstreamOnDeny?: string[];
  /** When the authorizer cannot be reached, times out or answers 5xx: allow instead of refusing. */
  failOpen?: boolean;
  /** The status sent to the client in that case when not `failOpen` (default 403). */
  statusOnError?: number;
}

/** One issuer's JWT validation (Istio's JWTRule, resolved for this proxy). */
export interface JwtRule {
  /** `namespace/name` of the RequestAuthentication, for logs. */
  policy: string;
  issuer: string;
  /** Accepted `aud` values; empty: any. */
  audiences?: string[];
  /** JWKS JSON inline, or fetched from `jwksUri` (http(s) URL or `file:` path) by the proxy. */
  jwks?: string;
  jwksUri?: string;
  /** Where the token is: headers (default `Authorization: Bearer `) and query parameters. */
  fromHeaders?: Array<{ name: string; prefix?: string }>;
  fromParams?: string[];
  /** Keep the token on the request sent to the app (default: removed). */
  forwardOriginalToken?: boolean;
  /** Put the verified payload (base64url JSON) in this request header. */
  outputPayloadToHeader?: string;
}

/** One AuthorizationPolicy, selected for this workload and translated by the control plane into conditions. */
export interface AuthorizationPolicy {
  /** `namespace/name` of the source policy, for logs. */
  name: string;
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  /** The policy matches a request when any rule matches. An ALLOW policy with no rules matches nothing
   *  (so it allows nothing), and a rule `{}` matches every request. */
  rules: AuthzRule[];
}

/** A rule: `from` AND `to` AND `when`. `from` and `to` list alternatives (any one must hold), each
 *  alternative a list of conditions that must all hold; absent: no constraint. */
export interface AuthzRule {
  from?: AuthzCondition[][];
  to?: AuthzCondition[][];
  when?: AuthzCondition[];
}

/**
 * What a condition tests. `source.*` come from the mTLS peer's SPIFFE id (absent on plaintext);
 * `*.ip` compare CIDR blocks; `destination.port` exact numbers; `source.serviceAccount` exact
 * `NAMESPACE/SA`; `request.host` ignores case and a port; `request.path` ignores the query; the
 * rest compare Istio string patterns (`exact`, `prefix*`, `*suffix`, `*`). `request.*` exist only
 * on HTTP requests.
 */
export type AuthzAttribute =
  | 'source.principal' | 'source.namespace' | 'source.serviceAccount' | 'source.trustDomain'
  | 'source.ip' | 'remote.ip' | 'destination.ip' | 'destination.port' | 'connection.sni'
  | 'request.host' | 'request.method' | 'request.path' | 'request.header'
  | 'request.auth.principal' | 'request.auth.audiences' | 'request.auth.presenter' | 'request.auth.claims';

/** One condition: the attribute matches one of `values` (when given) and none of `notValues` (when given). */
export interface AuthzCondition {
  attribute: AuthzAttribute;
  /** `request.header`: one lowercase header name; `request.auth.claims`: the claim path (nested names). Absent otherwise. */
  key?: string[];
  values?: string[];
  notValues?: string[];
}
