/**
 * The proxy's telemetry in one object: Istio metrics, tracing and access logs, configured from
 * a ProxyConfig. The proxy calls, per request:
 *   1. `startRequest(headers, direction)` when the request head is ready to go upstream
 *      (fixes x-request-id and trace headers, strips and returns nothing else);
 *   2. `finishRequest(record)` once the response is done (metrics, span, access log).
 * and per connection `peerFromHeader(value)` (inbound: request header; outbound: response
 * header), with `peerHeaderValue` added to outgoing requests and responses.
 * Nothing here throws or waits on the request path.
 */
import type { MeshSettings, ProxyConfig } from '../proxy-config/index.js';
import { type LogIdentities, formatJson, formatText } from './accesslog/format.js';
import { fileSink, type LogSink } from './accesslog/sink.js';
import { compileJsonFormat, compileTextFormat, type CompiledFormat } from './accesslog/custom-format.js';
import { ConfigView } from './config-view.js';
import { LabelResolver } from './labels.js';
import { IstioMetrics } from './metrics/istio.js';
import { MetricOverrides } from './metrics/overrides.js';
import { Registry } from './metrics/registry.js';
import { encodePeerMetadata, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, PeerCache, type PeerMetadata } from './peer.js';
import type { Direction, RequestRecord, TcpRecord } from './record.js';
import type { RequestScan } from './request-scan.js';
import type { HeaderAccess } from './tracing/context.js';
import { BatchExporter } from './tracing/exporter.js';
import type { IdSource } from './tracing/ids.js';
import { type RequestTrace, type SpanSink, Tracer } from './tracing/tracer.js';

/** The parts of a ProxyConfig telemetry reads (listeners optional: they give listener directions). */
export type TelemetryConfig = Pick<ProxyConfig, 'node' | 'mesh' | 'clusters' | 'endpoints'> & { listeners?: ProxyConfig['listeners'] };

/** Options of createProxyTelemetry. Everything but `config` has a sensible default. */
export interface ProxyTelemetryOptions {
  config: TelemetryConfig;
  /** Registry to record into (default: a new one, served by startMetricsServer). */
  registry?: Registry;
  /** Turn istio_* metrics off (the benchmark's "telemetry off"). Default on. */
  metrics?: boolean;
  /** Turn tracing off entirely (no header rewriting, no spans). Default on. */
  tracing?: boolean;
  /** Extra span sinks (tests). Exporters from mesh.tracing are added automatically. */
  sinks?: SpanSink[];
  /** Access log sink override (tests); default: file sink on mesh.accessLog.path or /dev/stdout. */
  accessLogSink?: LogSink;
  ids?: IdSource;
  random?: () => number;
}

/** The per-proxy telemetry facade the proxy pipeline calls. */
export class ProxyTelemetry {
  /** The registry (serve it with startMetricsServer). */
  readonly registry: Registry;
  /**
   * Value of PEER_METADATA_HEADER this proxy sends on responses (computed once). It still carries the
   * principal: an older Bowline proxy in a mixed-version mesh labels destination_principal from it. A
   * receiver of this version ignores it (the caller takes the principal from the certificate its upstream
   * connection verified); drop it once no such proxy is left (~75 bytes per response).
   */
  peerHeaderValue: string;
  /**
   * Value of PEER_METADATA_HEADER this proxy sends on requests: the same metadata without its
   * principal. A receiver takes the caller's principal from the verified client certificate only
   * (Istio's `source_principal` is the peer certificate's identity): a principal in a request header
   * is a claim nobody checked, and ~75 bytes on every request.
   */
  peerRequestHeaderValue: string;
  /** Decoded peers, bounded. */
  readonly peers = new PeerCache();
  /** Span exporters created from mesh.tracing. */
  readonly exporters: BatchExporter[] = [];
  /** The indexed config in force (cluster and listener lookups). */
  view: ConfigView;
  private labels: LabelResolver | undefined;
  private tracer: Tracer | undefined;
  private accessLog: { sink: LogSink; json: boolean; format: CompiledFormat | undefined } | undefined;
  private readonly istio: IstioMetrics | undefined;
  /** Telemetry metrics overrides in force (mesh.metrics), undefined when none. */
  private metricOverrides: MetricOverrides | undefined;
  /** The istio_* families (undefined with metrics off): the push stream's stats report reads them. */
  get istioMetrics(): IstioMetrics | undefined {
    return this.istio;
  }

  constructor(private readonly o: ProxyTelemetryOptions) {
    this.registry = o.registry ?? new Registry();
    this.istio = o.metrics === false ? undefined : new IstioMetrics(this.registry);
    this.view = new ConfigView(o.config.node, o.config);
    this.peerHeaderValue = encodePeerMetadata(this.view.self);
    this.peerRequestHeaderValue = encodePeerMetadata(withoutPrincipal(this.view.self));
    this.setup(o.config);
    this.registerSelfMetrics();
  }

  /** Applies a new config (clusters, endpoints, mesh settings). Counters keep their values. */
  reconfigure(config: TelemetryConfig): void {
    this.view = new ConfigView(config.node, config);
    this.peerHeaderValue = encodePeerMetadata(this.view.self);
    this.peerRequestHeaderValue = encodePeerMetadata(withoutPrincipal(this.view.self));
    const oldTracing = JSON.stringify(this.o.config.mesh.tracing ?? {});
    const oldLog = JSON.stringify(this.o.config.mesh.accessLog ?? {});
    const tracingChanged = JSON.stringify(config.mesh.tracing ?? {}) !== oldTracing;
    const logChanged = JSON.stringify(config.mesh.accessLog ?? {}) !== oldLog;
    if (tracingChanged) for (const e of this.exporters.splice(0)) this.retire(e);
    if (logChanged && this.accessLog && !this.o.accessLogSink) void this.accessLog.sink.close();
    this.o.config = config;
    this.setup(config, tracingChanged, logChanged);
  }

  private setup(config: ProxyTelemetryOptions['config'], newExporters = true, newLog = true): void {
    const mesh = config.mesh;
    this.labels = this.istio ? new LabelResolver(this.istio, this.view) : undefined;
    this.setupMetricOverrides(mesh);
    if (newExporters && this.o.tracing !== false) {
      const t = mesh.tracing;
      this.collectorsRefused = 0;
      if (t?.zipkin?.url) this.addExporter(t.zipkin.url, 'zipkin', t.maxQueue);
      if (t?.otlp?.url) this.addExporter(t.otlp.url, 'otlp', t.maxQueue);
    }
    this.tracer =
      this.o.tracing === false
        ? undefined
        : new Tracer({
            view: this.view,
            samplingPercent: mesh.tracingSampling ?? 1,
            sinks: [...this.exporters, ...(this.o.sinks ?? [])],
            ids: this.o.ids,
            random: this.o.random,
          });
    if (newLog) {
      const al = mesh.accessLog;
      this.accessLog = al?.enabled
        ? { sink: this.o.accessLogSink ?? fileSink(al.path ?? '/dev/stdout'), json: al.encoding === 'JSON', format: customFormat(al) }
        : undefined;
    }
  }

  /** Collector URLs in mesh.tracing that cannot be used (not http/https): counted, never thrown, so a config still applies. */
  collectorsRefused = 0;
  /** Exporters replaced by a tracing change, still flushing; their counts stay on the page. */
  private readonly retiring = new Set<BatchExporter>();
  /** Final counts of exporters that were replaced, per format, so counters never go backwards. */
  private readonly retired = new Map<string, { exported: number; dropped: number; failed: number }>();

  private addExporter(url: string, format: 'zipkin' | 'otlp', maxQueue: number | undefined): void {
    try {
      this.exporters.push(new BatchExporter({ url, format, maxQueue }));
    } catch {
      this.collectorsRefused++;
    }
  }

  private retire(e: BatchExporter): void {
    this.retiring.add(e);
    void e.close().finally(() => {
      this.retiring.delete(e);
      const f = e.options.format;
      const r = this.retired.get(f) ?? { exported: 0, dropped: 0, failed: 0 };
      r.exported += e.stats.exported;
      r.dropped += e.stats.dropped;
      r.failed += e.stats.failed;
      this.retired.set(f, r);
    });
  }

  /** The interned peer for a PEER_METADATA_HEADER value (cache it on the connection). */
  peerFromHeader(value: string | undefined): PeerMetadata | undefined {
    return this.peers.get(value);
  }

  /**
   * Reads and removes the peer metadata headers from a request or response head, so the
   * application never sees them; returns the decoded peer.
   */
  takePeer(h: HeaderAccess): PeerMetadata | undefined {
    const v = h.get(PEER_METADATA_HEADER);
    if (v === undefined) return undefined;
    h.remove(PEER_METADATA_HEADER);
    h.remove(PEER_METADATA_ID_HEADER);
    return this.peers.get(v);
  }

  /**
   * Adds this proxy's metadata header to a request (`response` false) or a response going to another
   * proxy, replacing any there, and takes off an `x-bowline-peer-metadata-id` (an older proxy's).
   * That id header (the sender's proxy id, like Istio's `x-envoy-peer-metadata-id`) is no longer
   * sent: nothing ever read it, and it was 35-70 bytes on every request and response.
   */
  addPeerHeaders(h: HeaderAccess, response = false): void {
    h.set(PEER_METADATA_HEADER, response ? this.peerHeaderValue : this.peerRequestHeaderValue);
    h.remove(PEER_METADATA_ID_HEADER);
  }

  /** Adds this proxy's metadata header to a request known to carry no peer headers (removed or never sent): appended without lookups. */
  appendPeerHeaders(h: HeaderAccess): void {
    if (h.add === undefined) return this.addPeerHeaders(h);
    h.add(PEER_METADATA_HEADER, this.peerRequestHeaderValue);
  }

  /**
   * The proxy hooks' `startRequest`: trace headers from a RequestScan of the head, this hop's
   * trace written into `t` (no allocation). False when tracing is off (`t` untouched).
   */
  startScanned(s: RequestScan, h: HeaderAccess, t: RequestTrace): boolean {
    if (!this.tracer) return false;
    this.tracer.startScanned(s, h, t);
    return true;
  }

  /** Fixes x-request-id and trace headers before the request goes upstream; keep the result for finishRequest. */
  startRequest(h: HeaderAccess, _direction: Direction, generateRequestId = true): RequestTrace | undefined {
    if (!this.tracer) {
      if (generateRequestId && h.get('x-request-id') === undefined) h.set('x-request-id', crypto.randomUUID());
      return undefined;
    }
    return this.tracer.start(h, generateRequestId);
  }

  /** The trace of a request answered locally (nothing went upstream), if sampled; `h` is only read. */
  localReplyTrace(h: HeaderAccess, requestId: string | undefined): RequestTrace | undefined {
    return this.tracer?.startLocal(h, requestId);
  }

  /** Records a finished request: metrics, span (if sampled), access log line. Never throws. */
  finishRequest(r: RequestRecord): void {
    try {
      if (this.labels) {
        const series = this.labels.httpSeries(r);
        series.record(r.status, r.responseFlags || '-', r.grpcStatus ?? '', r.durationMs, r.bytesReceived, r.bytesSent);
        this.metricOverrides?.http(r, series);
      }
      if (r.trace && this.tracer) this.tracer.finish(r.trace, r);
      if (this.accessLog) {
        const al = this.accessLog;
        const line = al.format ? al.format(r, this.identities(r)) : al.json ? formatJson(r, this.identities(r)) : formatText(r, this.identities(r));
        this.accessLog.sink.write(line);
      }
    } catch {
      this.internalErrors++;
    }
  }

  /**
   * A sampled request's span goes somewhere (mesh.tracing names a collector, or a test's sink).
   * With none (the bench's config: 1 % sampled, no collector) no span is made, so a sampled
   * request is counted like any other (`countsOnly`): spans are never buffered without a collector.
   */
  get spansWanted(): boolean {
    return this.tracer?.exportsSpans === true;
  }

  /** Only metrics record a finished request (no access log, no metric overrides): `countRequest` does all of finishRequest's work for an unsampled request. */
  get countsOnly(): boolean {
    return this.accessLog === undefined && this.metricOverrides === undefined;
  }

  /**
   * finishRequest for an unsampled request when `countsOnly`: the istio_* series and its numbers, from the facts alone. Never throws.
   * `principal`: the verified SPIFFE id of the peer the series describes (inbound the client's, outbound the upstream server's).
   */
  countRequest(
    direction: Direction, cluster: string | undefined, upstreamHost: string | undefined, peer: PeerMetadata | undefined, principal: string | undefined,
    mtls: boolean | undefined, grpc: boolean, status: number, flags: string, grpcStatus: string, durationMs: number, bytesIn: number, bytesOut: number,
  ): void {
    try {
      this.labels?.httpSeriesOf(direction, cluster, upstreamHost, peer, principal, mtls, grpc).record(status, flags, grpcStatus, durationMs, bytesIn, bytesOut);
    } catch {
      this.internalErrors++;
    }
  }

  /** Counts a TCP connection opening. */
  tcpOpened(r: TcpRecord): void {
    const s = this.labels?.tcpSeries(r);
    s?.opened();
    if (s) this.metricOverrides?.tcp(r, s, { opened: true });
  }

  /** Adds TCP bytes (call periodically and at close). */
  tcpBytes(r: TcpRecord): void {
    const s = this.labels?.tcpSeries(r);
    s?.bytes(r.sentBytes, r.receivedBytes, r.responseFlags);
    if (s) this.metricOverrides?.tcp(r, s, {});
  }

  /** Counts a TCP connection closing (and its last bytes). */
  tcpClosed(r: TcpRecord): void {
    const s = this.labels?.tcpSeries(r);
    if (!s) return;
    if (r.sentBytes || r.receivedBytes) s.bytes(r.sentBytes, r.receivedBytes, r.responseFlags);
    s.closed(r.responseFlags);
    this.metricOverrides?.tcp(r, s, { closed: true });
  }

  /** (Re)builds the metric overrides when mesh.metrics changed; unchanged settings keep their series. */
  private setupMetricOverrides(mesh: MeshSettings): void {
    if (!this.istio) return;
    const want = mesh.metrics;
    if (JSON.stringify(want) === JSON.stringify(this.metricOverrides?.settings)) return;
    this.metricOverrides?.dispose();
    this.metricOverrides = undefined;
    if (!want) return;
    const o = new MetricOverrides(this.istio, this.registry, want);
    if (o.active) this.metricOverrides = o;
  }

  /** Errors swallowed on the request path (should stay 0). */
  internalErrors = 0;

  private identities(r: RequestRecord): LogIdentities {
    const self = this.view.self;
    const peer = r.peer ?? (r.upstreamHost !== undefined && r.direction !== 'inbound' ? this.view.cluster(r.cluster).endpoints.get(r.upstreamHost) : undefined);
    // Whether this hop was mutual TLS: inbound, the record says (the client's certificate was verified); outbound the
    // proxies never set it, and the cluster's TLS decides, as for the metrics' source_principal (labels.ts `key`).
    const mtls = r.mtls ?? (r.direction !== 'inbound' && r.cluster !== undefined ? this.view.cluster(r.cluster).mtls : false);
    const selfPrincipal = mtls ? self.principal ?? '-' : '-';
    if (r.direction === 'inbound') {
      // The caller's principal is the verified client certificate's, or none: never what a header claims.
      return { sourcePrincipal: r.peerPrincipal ?? '-', destinationPrincipal: selfPrincipal, sourceWorkload: peer?.workload ?? '-', sourceNamespace: peer?.namespace ?? '-', destinationWorkload: self.workload, destinationNamespace: self.namespace };
    }
    // The callee's principal is the one its certificate proved on the upstream connection, or none: never what its
    // response header (or the endpoint's config) claims, and not the downstream client's (a gateway's mTLS caller).
    return { sourcePrincipal: selfPrincipal, destinationPrincipal: r.upstreamPrincipal ?? '-', sourceWorkload: self.workload, sourceNamespace: self.namespace, destinationWorkload: peer?.workload ?? '-', destinationNamespace: peer?.namespace ?? '-' };
  }

  private registerSelfMetrics(): void {
    const exported = this.registry.counter({ name: 'bowline_tracing_spans_exported_total', help: 'Spans accepted by trace collectors.', labelNames: ['format'] });
    const dropped = this.registry.counter({ name: 'bowline_tracing_spans_dropped_total', help: 'Spans lost: queue full or collector failed.', labelNames: ['format', 'reason'] });
    const logDropped = this.registry.gauge({ name: 'bowline_access_log_dropped_lines', help: 'Access log lines dropped because the sink was slow, full or gone.' });
    const peerInvalid = this.registry.gauge({ name: 'bowline_peer_metadata_rejected', help: 'Peer metadata header values ignored (invalid or over the cache bound).' });
    const refused = this.registry.gauge({ name: 'bowline_tracing_collectors_refused', help: 'Trace collector URLs in the mesh config that cannot be used (not http/https).' });
    this.registry.onCollect(() => {
      const sums = new Map<string, { exported: number; dropped: number; failed: number }>();
      for (const [f, r] of this.retired) sums.set(f, { ...r });
      for (const e of [...this.exporters, ...this.retiring]) {
        const f = e.options.format;
        const sum = sums.get(f) ?? { exported: 0, dropped: 0, failed: 0 };
        sum.exported += e.stats.exported;
        sum.dropped += e.stats.dropped;
        sum.failed += e.stats.failed;
        sums.set(f, sum);
      }
      for (const [f, sum] of sums) {
        exported.labels(f).value = sum.exported;
        dropped.labels(f, 'queue_full').value = sum.dropped;
        dropped.labels(f, 'export_failed').value = sum.failed;
      }
      refused.labels().set(this.collectorsRefused);
      logDropped.labels().set(this.accessLog?.sink.stats.dropped ?? 0);
      peerInvalid.labels().set(this.peers.invalid + this.peers.overflowed);
    });
  }

  /** Flushes exporters and the access log (best effort) and stops timers. */
  async close(): Promise<void> {
    await Promise.all(this.exporters.map((e) => e.close()));
    await this.accessLog?.sink.close();
  }
}

/** Creates the proxy's telemetry from its configuration. */
export function createProxyTelemetry(o: ProxyTelemetryOptions): ProxyTelemetry {
  return new ProxyTelemetry(o);
}

/** The mesh config's access-log format for the encoding in use, compiled; undefined: the default format. */
function customFormat(al: MeshSettings['accessLog']): CompiledFormat | undefined {
  if (al.encoding === 'JSON') return al.jsonFormat ? compileJsonFormat(al.jsonFormat) : undefined;
  return al.format ? compileTextFormat(al.format) : undefined;
}

/** `m` without its principal (the metadata a request carries, see peerRequestHeaderValue). */
function withoutPrincipal(m: PeerMetadata): PeerMetadata {
  const { principal: _principal, ...rest } = m;
  return rest;
}
