/**
 * Bowline telemetry: Istio-compatible metrics, trace propagation and export, access logs, and
 * a Prometheus registry the control plane shares. See docs/telemetry.md.
 */
export { TelemetryCodes, TelemetryError } from './errors.js';
export { Registry, Family, CounterChild, GaugeChild, HistogramChild, type MetricOptions } from './metrics/registry.js';
export { EXPOSITION_CONTENT_TYPE, escapeLabelValue, escapeHelp } from './metrics/exposition.js';
export { IstioMetrics, DURATION_BUCKETS_MS, BYTE_BUCKETS, HTTP_LABELS, TCP_LABELS } from './metrics/istio.js';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './metrics/server.js';
export { createControlPlaneMetrics, type ControlPlaneMetrics } from './control.js';
export {
  PEER_METADATA_HEADER,
  PEER_METADATA_ID_HEADER,
  PeerCache,
  decodePeerMetadata,
  encodePeerMetadata,
  nodePeerMetadata,
  spiffeId,
  type PeerMetadata,
} from './peer.js';
export { extractContext, injectContext, parseB3Single, parseTraceparent, sampleByTraceId, type HeaderAccess } from './tracing/context.js';
export { BatchExporter, type ExporterOptions, type ExporterStats } from './tracing/exporter.js';
export { Tracer, type RequestTrace, type SpanSink } from './tracing/tracer.js';
export type { SpanData } from './tracing/span.js';
export { encodeZipkin } from './tracing/zipkin.js';
export { encodeOtlp } from './tracing/otlp.js';
export { BufferedSink, fileSink, type LogSink } from './accesslog/sink.js';
export { formatJson, formatText } from './accesslog/format.js';
export { ProxyTelemetry, createProxyTelemetry, type ProxyTelemetryOptions, type TelemetryConfig } from './telemetry.js';
export { telemetryHooks, type ProxyRecordView, type ProxyTcpView, type TelemetryHooks } from './proxy-hooks.js';
export { startCollector, validateOtlp, validateZipkinV2, type Collector, type CollectedSpan } from './tracing/collector.js';
export { RandomIds, type IdSource } from './tracing/ids.js';
export type { Direction, RequestRecord, TcpRecord } from './record.js';
