/**
 * Label resolution: maps a finished request's config facts (direction, cluster, peer object,
 * verified principal, gRPC, mTLS) to a cached HttpSeries. The principal is always one a TLS
 * handshake verified, never one peer metadata claims: inbound, the client certificate's
 * (source_principal); outbound, the upstream server certificate's (destination_principal).
 * Keys are objects and interned config strings, so the per-request path is a few Map lookups
 * with no string building. Caches are bounded; the registry keeps counter values across config
 * changes (children are keyed by label values), so a new ConfigView simply starts with empty caches.
 */
import type { ConfigView } from './config-view.js';
import { type HttpSeries, type IstioMetrics, type SeriesKey, sideOf, type TcpSeries, type WorkloadSide } from './metrics/istio.js';
import type { PeerMetadata } from './peer.js';
import type { Direction } from './record.js';

const NO_PEER = {};
const MAX_ENTRIES = 4096;

/** Facts that select a series. */
export interface SeriesFacts {
  direction: Direction;
  cluster?: string;
  upstreamHost?: string;
  peer?: PeerMetadata;
  /** Verified SPIFFE id of the downstream client (inbound mTLS): source_principal. */
  peerPrincipal?: string;
  /** Verified SPIFFE id of the upstream server (outbound mutual TLS): destination_principal. */
  upstreamPrincipal?: string;
  mtls?: boolean;
  grpc?: boolean;
}

/** The verified principal that selects a series: the peer's the series describes (inbound: the client; else: the upstream server). */
function verifiedPrincipal(f: SeriesFacts): string | undefined {
  return f.direction === 'inbound' ? f.peerPrincipal : f.upstreamPrincipal;
}

/** Resolves and caches series per (direction, cluster, peer, verified principal, variant). */
export class LabelResolver {
  private readonly http = new Map<string, Map<object, Map<string, Array<HttpSeries | undefined>>>>();
  private readonly tcp = new Map<string, Map<object, Map<string, Array<TcpSeries | undefined>>>>();
  private entries = 0;

  constructor(
    private readonly metrics: IstioMetrics,
    private readonly view: ConfigView,
  ) {}

  /**
   * The last HTTP series resolved and the facts that selected it: consecutive requests of a
   * route mostly share cluster, endpoint (or peer) and principal, so they take it without the
   * five Map lookups below (compared by identity: config strings and interned peers).
   */
  private lastHttp: HttpSeries | undefined = undefined;
  private lastCluster: string | undefined = undefined;
  private lastPeer: PeerMetadata | undefined = undefined;
  private lastHost: string | undefined = undefined;
  private lastPrincipal: string | undefined = undefined;
  private lastVariant = -1;

  /**
   * `httpSeries` from the facts as arguments: the memo's hit allocates nothing. `principal` is the
   * verified one of the peer the series describes: inbound the client's, outbound the upstream server's.
   */
  httpSeriesOf(direction: Direction, cluster: string | undefined, upstreamHost: string | undefined, peer: PeerMetadata | undefined, principal: string | undefined, mtls: boolean | undefined, grpc: boolean): HttpSeries {
    const last = this.lastHttp;
    if (last !== undefined && cluster === this.lastCluster && peer === this.lastPeer && principal === this.lastPrincipal) {
      const variant = (grpc ? 1 : 0) + (mtls ? 2 : 0) + (direction === 'inbound' ? 4 : 0);
      if (variant === this.lastVariant && (peer === undefined && variant < 4 ? upstreamHost : undefined) === this.lastHost) return last;
    }
    const inbound = direction === 'inbound';
    return this.httpSeries({ direction, cluster, upstreamHost, peer, peerPrincipal: inbound ? principal : undefined, upstreamPrincipal: inbound ? undefined : principal, mtls, grpc });
  }

  /** The HTTP series for these facts. */
  httpSeries(f: SeriesFacts): HttpSeries {
    const variant = (f.grpc ? 1 : 0) + (f.mtls ? 2 : 0) + (f.direction === 'inbound' ? 4 : 0);
    // The endpoint only selects the series when there is no peer (outbound: its workload from the config).
    const host = f.peer === undefined && variant < 4 ? f.upstreamHost : undefined;
    const principal = verifiedPrincipal(f);
    const last = this.lastHttp;
    if (last !== undefined && variant === this.lastVariant && f.cluster === this.lastCluster && f.peer === this.lastPeer && host === this.lastHost && principal === this.lastPrincipal) return last;
    const slot = this.slot(this.http, f);
    let s = slot[variant];
    if (s === undefined) {
      s = this.metrics.httpSeries(this.key(f, f.grpc ? 'grpc' : 'http'));
      slot[variant] = s;
    }
    this.lastHttp = s;
    this.lastVariant = variant;
    this.lastCluster = f.cluster;
    this.lastPeer = f.peer;
    this.lastHost = host;
    this.lastPrincipal = principal;
    return s;
  }

  /** The TCP series for these facts. */
  tcpSeries(f: SeriesFacts): TcpSeries {
    const variant = (f.mtls ? 2 : 0) + (f.direction === 'inbound' ? 4 : 0);
    const slot = this.slot(this.tcp, f);
    let s = slot[variant];
    if (s === undefined) {
      s = this.metrics.tcpSeries(this.key(f, 'tcp'));
      slot[variant] = s;
    }
    return s;
  }

  private slot<T>(root: Map<string, Map<object, Map<string, T[]>>>, f: SeriesFacts): T[] {
    const cluster = f.cluster ?? '';
    let byPeer = root.get(cluster);
    if (!byPeer) {
      byPeer = new Map();
      if (this.entries++ < MAX_ENTRIES) root.set(cluster, byPeer);
    }
    const peerKey = f.peer ?? (f.direction !== 'inbound' && f.upstreamHost !== undefined ? this.endpointPeer(f) : undefined) ?? NO_PEER;
    let byPrincipal = byPeer.get(peerKey);
    if (!byPrincipal) {
      byPrincipal = new Map();
      if (this.entries++ < MAX_ENTRIES) byPeer.set(peerKey, byPrincipal);
    }
    const principal = verifiedPrincipal(f) ?? '';
    let slot = byPrincipal.get(principal);
    if (!slot) {
      slot = [];
      if (this.entries++ < MAX_ENTRIES) byPrincipal.set(principal, slot);
    }
    return slot;
  }

  private endpointPeer(f: SeriesFacts): PeerMetadata | undefined {
    return this.view.cluster(f.cluster).endpoints.get(f.upstreamHost!);
  }

  /** Builds the label key (cold path, once per series). */
  key(f: SeriesFacts, protocol: SeriesKey['protocol']): SeriesKey {
    const self = this.view.self;
    if (f.direction === 'inbound') {
      const ci = f.cluster !== undefined ? this.view.cluster(f.cluster) : undefined;
      const service = ci && ci.serviceNamespace !== 'unknown' ? { host: ci.serviceHost, name: ci.serviceName, namespace: ci.serviceNamespace } : this.view.selfService;
      const destination: WorkloadSide = { ...sideOf(self), principal: f.mtls ? self.principal ?? 'unknown' : 'unknown' };
      return {
        reporter: 'destination',
        source: sideOf(f.peer, f.mtls ? f.peerPrincipal ?? 'unknown' : 'unknown'),
        destination,
        service,
        protocol,
        securityPolicy: f.mtls ? 'mutual_tls' : 'none',
      };
    }
    const ci = this.view.cluster(f.cluster);
    const peer = f.peer ?? (f.upstreamHost !== undefined ? ci.endpoints.get(f.upstreamHost) : undefined);
    const mtls = f.mtls ?? ci.mtls;
    return {
      reporter: 'source',
      source: { ...sideOf(self), principal: mtls ? self.principal ?? 'unknown' : 'unknown' },
      // The server's workload facts come from its peer metadata (or the endpoint's config), as in Istio; its principal
      // only from the certificate the upstream connection verified (Envoy's upstream peer URI SAN), never from what
      // the response header or the endpoint's config claims: `unknown` when the connection was not mutual TLS.
      destination: sideOf(peer, f.upstreamPrincipal ?? 'unknown'),
      service: { host: ci.serviceHost, name: ci.serviceName, namespace: ci.serviceNamespace },
      protocol,
      securityPolicy: 'unknown',
    };
  }
}
