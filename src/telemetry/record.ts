/**
 * What the proxy tells telemetry about one finished request (or TCP connection). The proxy
 * fills it from facts it already has; telemetry reads it synchronously and keeps nothing but
 * numbers (and, for sampled traces, a span). Label values come only from config and peer
 * metadata, never from the path or other request headers.
 */
import type { PeerMetadata } from './peer.js';
import type { RequestTrace } from './tracing/tracer.js';

/** Which side of the proxy handled the request. `gateway` reports like outbound (reporter=source). */
export type Direction = 'inbound' | 'outbound' | 'gateway';

/** One finished HTTP request as seen by the proxy. */
export interface RequestRecord {
  direction: Direction;
  /** Request start, milliseconds since the epoch (may be fractional). */
  startTime: number;
  /** Start to last response byte (or reset), milliseconds. */
  durationMs: number;
  method: string;
  authority: string;
  /** Path as received (with query); used in access logs and span urls only. */
  path: string;
  /** `HTTP/1.1`, `HTTP/1.0` or `HTTP/2`. */
  protocol: string;
  /** Response status sent downstream; 0 when no response started. */
  status: number;
  /** Envoy response flags (`UH`, `UF`, `NR`, `URX`...), `-` when none. */
  responseFlags: string;
  /** Request body bytes received from downstream. */
  bytesReceived: number;
  /** Response body bytes sent downstream. */
  bytesSent: number;
  /** Cluster name the router picked (config string). */
  cluster?: string;
  /** Route name (config string). */
  route?: string;
  /** Chosen upstream endpoint `ip:port`. */
  upstreamHost?: string;
  /** x-request-id after generation. */
  requestId?: string;
  /** Downstream peer `ip:port`. */
  downstreamRemoteAddress?: string;
  /** The listener's local `ip:port`. */
  downstreamLocalAddress?: string;
  userAgent?: string;
  xForwardedFor?: string;
  /** The peer proxy's workload: inbound, from the request header (cached per connection);
   *  outbound, from the response header. Absent when the peer has no proxy. */
  peer?: PeerMetadata;
  /** Verified SPIFFE id of the downstream client certificate (inbound mTLS). */
  peerPrincipal?: string;
  /**
   * Verified SPIFFE id of the upstream server's certificate on the connection that answered
   * (outbound and gateway over mutual TLS): the source reporter's destination_principal. Never
   * taken from the response's peer metadata, whose `principal` is only the server's claim.
   */
  upstreamPrincipal?: string;
  /** The connection was mutual TLS (inbound: the filter chain; outbound: upstream ISTIO_MUTUAL/MUTUAL). */
  mtls?: boolean;
  /** Request was gRPC (content-type application/grpc). */
  grpc?: boolean;
  /** grpc-status of the response, when gRPC. */
  grpcStatus?: string;
  /** The trace handle `Telemetry.startRequest` returned. */
  trace?: RequestTrace;
  /** Milliseconds the upstream took (x-envoy-upstream-service-time). */
  upstreamServiceTimeMs?: number;
  /** The request's headers, read synchronously while the record is handed over (access-log %REQ(...)%). */
  requestHeaders?: { header(name: string): string | undefined };
}

/** One TCP connection's counters (opened: bytes 0; closed: final totals). */
export interface TcpRecord {
  direction: Direction;
  cluster?: string;
  upstreamHost?: string;
  peer?: PeerMetadata;
  peerPrincipal?: string;
  /** As RequestRecord's: the upstream server's verified SPIFFE id (outbound mutual TLS). */
  upstreamPrincipal?: string;
  mtls?: boolean;
  /** Bytes sent to downstream since the last report. */
  sentBytes: number;
  /** Bytes received from downstream since the last report. */
  receivedBytes: number;
  responseFlags?: string;
}
