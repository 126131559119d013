/** A finished span, format-neutral; encoded to Zipkin or OTLP only when a batch is sent. */
export interface SpanData {
  /** 16 or 32 hex. */
  traceId: string;
  /** 16 hex. */
  id: string;
  /** The caller's span id, absent for a root span. */
  parentId?: string;
  /** Operation name, e.g. `reviews.default.svc.cluster.local:9080/*`. */
  name: string;
  /** CLIENT for the outbound side of a proxy (and gateways), SERVER for inbound. */
  kind: 'CLIENT' | 'SERVER';
  /** Start, microseconds since the epoch. */
  timestampUs: number;
  /** Duration in microseconds (at least 1). */
  durationUs: number;
  /** Local service name: `CANONICAL_SERVICE.NAMESPACE` as Istio names it. */
  localService: string;
  /** The peer's address (`ip:port` or ip), when known. */
  remoteAddress?: string;
  /** Envoy/Istio span tags. */
  tags: Record<string, string>;
  /** Status >= 500 or no response: marked as an error. */
  error: boolean;
}
