/**
 * Istio's standard metrics (names, labels, buckets as Istio's telemetry v2 emits them) on a
 * Registry, and the hot-path series objects that record into them. A series is resolved once
 * per (reporter, source, destination, protocol, security policy) and caches one set of
 * children per response code, so a request costs an array index and a few number updates.
 */
import type { PeerMetadata } from '../peer.js';
import { type CounterChild, type Family, type HistogramChild, Registry } from './registry.js';

/** Istio's default request duration buckets (milliseconds). */
export const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Istio's request/response size buckets (bytes): 1, 10, ... 1e9. */
export const BYTE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1e6, 1e7, 1e8, 1e9];

/** Labels shared by every istio_* metric, in Istio's order (before the per-response ones). */
export const PEER_LABELS = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
] as const;

/** Labels of the HTTP metrics. */
export const HTTP_LABELS = [...PEER_LABELS, 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy'];
/** Labels of the TCP metrics. */
export const TCP_LABELS = [...PEER_LABELS, 'response_flags', 'connection_security_policy'];

/** One side (source or destination) of a label set. */
export interface WorkloadSide {
  workload: string;
  namespace: string;
  principal: string;
  app: string;
  version: string;
  canonicalService: string;
  canonicalRevision: string;
  cluster: string;
}

/** Everything that identifies a series except the per-response labels. */
export interface SeriesKey {
  reporter: 'source' | 'destination';
  source: WorkloadSide;
  destination: WorkloadSide;
  service: { host: string; name: string; namespace: string };
  protocol: 'http' | 'grpc' | 'tcp';
  securityPolicy: 'mutual_tls' | 'none' | 'unknown';
}

/** The `unknown` workload side (peer without a proxy). */
export const UNKNOWN_SIDE: WorkloadSide = { workload: 'unknown', namespace: 'unknown', principal: 'unknown', app: 'unknown', version: 'unknown', canonicalService: 'unknown', canonicalRevision: 'unknown', cluster: 'unknown' };

/**
 * A workload side from peer metadata and a principal a TLS handshake verified (`unknown` when none):
 * the metadata's own `principal` is what the peer claims, and never becomes a label.
 */
export function sideOf(m: PeerMetadata | undefined, principal?: string): WorkloadSide {
  if (!m) return principal ? { ...UNKNOWN_SIDE, principal } : UNKNOWN_SIDE;
  return { workload: m.workload, namespace: m.namespace, principal: principal ?? 'unknown', app: m.app, version: m.version, canonicalService: m.canonicalService, canonicalRevision: m.canonicalRevision, cluster: m.cluster };
}

function peerValues(k: SeriesKey): string[] {
  const s = k.source;
  const d = k.destination;
  return [
    k.reporter, s.workload, s.canonicalService, s.canonicalRevision, s.namespace, s.principal, s.app, s.version, s.cluster,
    d.workload, d.namespace, d.principal, d.app, d.version, k.service.host, d.canonicalService, d.canonicalRevision, k.service.name, k.service.namespace, d.cluster,
    k.protocol,
  ];
}

/** The eight istio_* families registered on one registry. */
export class IstioMetrics {
  readonly requests: Family<CounterChild>;
  readonly duration: Family<HistogramChild>;
  readonly requestBytes: Family<HistogramChild>;
  readonly responseBytes: Family<HistogramChild>;
  readonly tcpSent: Family<CounterChild>;
  readonly tcpReceived: Family<CounterChild>;
  readonly tcpOpened: Family<CounterChild>;
  readonly tcpClosed: Family<CounterChild>;

  constructor(readonly registry: Registry, maxSeries = 20_000) {
    const h = { labelNames: HTTP_LABELS, maxSeries };
    const t = { labelNames: TCP_LABELS, maxSeries };
    this.requests = registry.counter({ name: 'istio_requests_total', help: 'Total number of requests handled by the proxy.', ...h });
    this.duration = registry.histogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration in milliseconds.', buckets: DURATION_BUCKETS_MS, ...h });
    this.requestBytes = registry.histogram({ name: 'istio_request_bytes', help: 'Request body size in bytes.', buckets: BYTE_BUCKETS, ...h });
    this.responseBytes = registry.histogram({ name: 'istio_response_bytes', help: 'Response body size in bytes.', buckets: BYTE_BUCKETS, ...h });
    this.tcpSent = registry.counter({ name: 'istio_tcp_sent_bytes_total', help: 'Bytes sent to the downstream on TCP connections.', ...t });
    this.tcpReceived = registry.counter({ name: 'istio_tcp_received_bytes_total', help: 'Bytes received from the downstream on TCP connections.', ...t });
    this.tcpOpened = registry.counter({ name: 'istio_tcp_connections_opened_total', help: 'TCP connections opened.', ...t });
    this.tcpClosed = registry.counter({ name: 'istio_tcp_connections_closed_total', help: 'TCP connections closed.', ...t });
  }

  /** The HTTP series for a key (resolve once, keep it). */
  httpSeries(key: SeriesKey): HttpSeries {
    return new HttpSeries(this, peerValues(key), key.securityPolicy);
  }

  /** The TCP series for a key (resolve once, keep it). */
  tcpSeries(key: SeriesKey): TcpSeries {
    return new TcpSeries(this, peerValues(key), key.securityPolicy);
  }
}

/** The four HTTP children for one response code / flags / grpc status. */
class ResponseChildren {
  constructor(
    readonly requests: CounterChild,
    readonly duration: HistogramChild,
    readonly requestBytes: HistogramChild,
    readonly responseBytes: HistogramChild,
  ) {}
}

/** Records HTTP requests of one label set; children per response code are created on first use. */
export class HttpSeries {
  private readonly byCode: Array<ResponseChildren | undefined> = new Array(600).fill(undefined);
  private readonly other = new Map<string, ResponseChildren>();

  constructor(
    private readonly m: IstioMetrics,
    private readonly base: readonly string[],
    private readonly policy: string,
  ) {}

  /** Counts one request. `flags` is `-` when none; `grpcStatus` is '' for non-gRPC. */
  record(code: number, flags: string, grpcStatus: string, durationMs: number, requestBytes: number, responseBytes: number): void {
    let c: ResponseChildren | undefined;
    if (flags === '-' && grpcStatus === '' && code >= 0 && code < 600) {
      c = this.byCode[code];
      if (c === undefined) c = this.byCode[code] = this.resolve(code, flags, grpcStatus);
    } else {
      const k = `${code}|${flags}|${grpcStatus}`;
      c = this.other.get(k);
      if (c === undefined) {
        c = this.resolve(code, flags, grpcStatus);
        if (this.other.size < 256) this.other.set(k, c);
      }
    }
    c.requests.value++;
    c.duration.observe(durationMs);
    c.requestBytes.observe(requestBytes);
    c.responseBytes.observe(responseBytes);
  }

  /** Every HTTP label value of a response of this series, in HTTP_LABELS order (cold path: allocates). */
  values(code: number, flags: string, grpcStatus: string): string[] {
    return [...this.base, String(code), grpcStatus, flags, this.policy];
  }

  private resolve(code: number, flags: string, grpc: string): ResponseChildren {
    const v = [...this.base, String(code), grpc, flags, this.policy];
    return new ResponseChildren(this.m.requests.labels(...v), this.m.duration.labels(...v), this.m.requestBytes.labels(...v), this.m.responseBytes.labels(...v));
  }
}

/** Records TCP connections of one label set. */
export class TcpSeries {
  private readonly byFlags = new Map<string, [CounterChild, CounterChild, CounterChild, CounterChild]>();

  constructor(
    private readonly m: IstioMetrics,
    private readonly base: readonly string[],
    private readonly policy: string,
  ) {}

  private children(flags: string): [CounterChild, CounterChild, CounterChild, CounterChild] {
    let c = this.byFlags.get(flags);
    if (!c) {
      const v = [...this.base, flags, this.policy];
      c = [this.m.tcpOpened.labels(...v), this.m.tcpClosed.labels(...v), this.m.tcpSent.labels(...v), this.m.tcpReceived.labels(...v)];
      if (this.byFlags.size < 64) this.byFlags.set(flags, c);
    }
    return c;
  }

  /** Every TCP label value of this series with `flags`, in TCP_LABELS order (cold path: allocates). */
  values(flags: string): string[] {
    return [...this.base, flags, this.policy];
  }

  /** Counts an opened connection. */
  opened(): void {
    this.children('-')[0].value++;
  }

  /** Adds bytes moved since the last report. */
  bytes(sent: number, received: number, flags = '-'): void {
    const c = this.children(flags);
    c[2].inc(sent);
    c[3].inc(received);
  }

  /** Counts a closed connection (with its final flags). */
  closed(flags = '-'): void {
    this.children(flags)[1].value++;
  }
}
