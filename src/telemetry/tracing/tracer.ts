/**
 * One span per proxy hop. `start` runs when a request head arrives: it fixes x-request-id,
 * reads the incoming trace context, makes this hop's span id, keeps or makes the sampling
 * decision and rewrites the propagation headers for the upstream. `finish` runs when the
 * request completes and, only for sampled requests, hands a span to the exporters.
 */
import type { ClusterInfo, ConfigView } from '../config-view.js';
import { meshIdOf } from '../peer.js';
import type { RequestRecord } from '../record.js';
import type { RequestScan } from '../request-scan.js';
import { appendNewContext, extractContext, type HeaderAccess, injectContext, sampleByTraceId } from './context.js';
import { ContextPool, type IdSource, RandomIds, SAMPLED_AT, SPAN_ID_AT, TRACE_ID_AT, TRACEPARENT_AT } from './ids.js';
import type { SpanData } from './span.js';

/** Where finished spans go (a BatchExporter, or a test's array). */
export interface SpanSink {
  add(span: SpanData): void;
}

/** This hop's trace facts, carried from `start` to `finish`. */
export interface RequestTrace {
  requestId: string | undefined;
  traceId: string;
  spanId: string;
  parentId: string | undefined;
  sampled: boolean;
  debug: boolean;
  tracestate: string | undefined;
}

/** Options of a tracer. */
export interface TracerOptions {
  view: ConfigView;
  /** Percentage of new traces sampled (0..100); mesh `tracingSampling`. */
  samplingPercent: number;
  sinks: SpanSink[];
  ids?: IdSource;
  /** Injected randomness for sampling new traces (0 <= x < 1); default: derived from the trace id. */
  random?: () => number;
}

/** Creates spans and rewrites propagation headers. */
export class Tracer {
  private readonly ids: IdSource;
  /** New trace contexts written out in advance (default ids and sampling only). */
  private readonly pool: ContextPool | undefined;
  private readonly staticTags: Record<string, string>;
  private readonly localService: string;

  constructor(private readonly o: TracerOptions) {
    this.ids = o.ids ?? new RandomIds();
    // Injected ids or sampling randomness (tests) take the general path.
    this.pool = o.ids === undefined && o.random === undefined ? new ContextPool(o.samplingPercent) : undefined;
    const self = o.view.self;
    this.localService = `${self.app}.${self.namespace}`;
    this.staticTags = {
      node_id: o.view.node.id,
      'istio.canonical_service': self.canonicalService,
      'istio.canonical_revision': self.canonicalRevision,
      'istio.mesh_id': self.meshId ?? meshIdOf(o.view.node), // mesh.meshId, else the trust domain (ConfigView)
      'istio.namespace': self.namespace,
      component: 'proxy',
      downstream_cluster: '-',
    };
  }

  /** Handles x-request-id and trace headers of a request about to go upstream. */
  start(h: HeaderAccess, generateRequestId = true): RequestTrace {
    let requestId = h.get('x-request-id');
    if (requestId === undefined && generateRequestId) {
      requestId = this.ids.requestId();
      h.set('x-request-id', requestId);
    }
    const inc = extractContext(h);
    const traceId = inc?.traceId ?? this.ids.traceId();
    let sampled = inc?.sampled;
    if (sampled === undefined) {
      const p = this.o.samplingPercent;
      sampled = this.o.random ? this.o.random() * 100 < p : sampleByTraceId(traceId, p);
    }
    const t: RequestTrace = {
      requestId,
      traceId,
      spanId: this.ids.spanId(),
      parentId: inc?.spanId,
      sampled,
      debug: inc?.debug === true,
      tracestate: inc?.tracestate,
    };
    injectContext(h, t, inc?.format === 'b3-single');
    return t;
  }

  /**
   * `start` for a head already read by a RequestScan (the proxy hooks), filling `t` instead of
   * allocating: the same headers go upstream. x-request-id is the proxy's (never generated
   * here). A head with no propagation field gets this hop's four appended (the common first
   * hop); one with a context has its fields rewritten in place as `start` does.
   */
  startScanned(s: RequestScan, h: HeaderAccess, t: RequestTrace): void {
    const pool = this.pool;
    if (s.traceFields === 0 && pool !== undefined && h.add !== undefined) {
      // A new trace from the pool: the four lines written out, the ids and the decision are slices of one record.
      const at = pool.next();
      const text = pool.text;
      t.requestId = s.requestId;
      t.parentId = undefined;
      t.sampled = text.charCodeAt(at + SAMPLED_AT) === 49;
      t.debug = false;
      t.tracestate = undefined;
      const values = h.values;
      if (h.addLines !== undefined && values !== undefined) {
        // The proxy's head takes the record's lines as its fields (and may write them as one piece).
        const first = h.addLines(pool.lines, text, at);
        t.traceId = values[first + 1]!;
        t.spanId = values[first + 2]!;
        return;
      }
      t.traceId = text.substring(at + TRACE_ID_AT, at + TRACE_ID_AT + 32);
      t.spanId = text.substring(at + SPAN_ID_AT, at + SPAN_ID_AT + 16);
      h.add('traceparent', text.substring(at + TRACEPARENT_AT, at + TRACEPARENT_AT + 55));
      h.add('x-b3-traceid', t.traceId);
      h.add('x-b3-spanid', t.spanId);
      h.add('x-b3-sampled', t.sampled ? '1' : '0');
      // The head writer may take the record as it is (it checks that the fields still say the same).
      h.markPrepared?.(4, text, at);
      return;
    }
    const inc = s.traceFields === 0 ? undefined : extractContext(s);
    const traceId = inc?.traceId ?? this.ids.traceId();
    let sampled = inc?.sampled;
    if (sampled === undefined) {
      const p = this.o.samplingPercent;
      sampled = this.o.random ? this.o.random() * 100 < p : sampleByTraceId(traceId, p);
    }
    t.requestId = s.requestId;
    t.traceId = traceId;
    t.spanId = this.ids.spanId();
    t.parentId = inc?.spanId;
    t.sampled = sampled;
    t.debug = inc?.debug === true;
    t.tracestate = inc?.tracestate;
    if (s.traceFields === 0 && h.add !== undefined) appendNewContext(h as HeaderAccess & { add(name: string, value: string): void }, t);
    else injectContext(h, t, inc?.format === 'b3-single');
  }

  /**
   * The hop's trace for a request the proxy answered itself (404 NR, fault abort, direct
   * response, redirect, authz denial): reads the incoming context, writes nothing (no request
   * goes upstream). Undefined when not sampled, so an unsampled local reply costs one header scan.
   */
  startLocal(h: HeaderAccess, requestId: string | undefined): RequestTrace | undefined {
    const inc = extractContext(h);
    if (inc?.sampled === false) return undefined;
    if (inc?.sampled === undefined && this.o.samplingPercent <= 0 && !this.o.random) return undefined;
    const traceId = inc?.traceId ?? this.ids.traceId();
    let sampled: boolean | undefined = inc?.sampled;
    if (sampled === undefined) {
      const p = this.o.samplingPercent;
      sampled = this.o.random ? this.o.random() * 100 < p : sampleByTraceId(traceId, p);
    }
    if (!sampled) return undefined;
    return { requestId, traceId, spanId: this.ids.spanId(), parentId: inc?.spanId, sampled, debug: inc?.debug === true, tracestate: inc?.tracestate };
  }

  /** Whether finished spans go anywhere (a collector in mesh.tracing, or a sink given): with none, a sampled request makes no span. */
  get exportsSpans(): boolean {
    return this.o.sinks.length > 0;
  }

  /** Emits the hop's span if sampled and something takes spans. Only copies facts: tags are built when the batch is encoded. */
  finish(t: RequestTrace, r: RequestRecord): void {
    if (!t.sampled || this.o.sinks.length === 0) return;
    const span = new HopSpan(t, r, this.o.view.cluster(r.cluster), this.localService, this.staticTags);
    for (const s of this.o.sinks) s.add(span);
  }
}

/**
 * A finished hop's span: a fixed-shape copy of the request's facts. Building a tag object on
 * the request path costs microseconds (object literals with dotted keys go dictionary-mode),
 * so `tags` is computed only when an exporter encodes the span.
 */
class HopSpan implements SpanData {
  readonly traceId: string;
  readonly id: string;
  readonly parentId: string | undefined;
  readonly kind: 'CLIENT' | 'SERVER';
  readonly timestampUs: number;
  readonly durationUs: number;
  readonly remoteAddress: string | undefined;
  readonly error: boolean;
  private readonly requestId: string | undefined;
  private readonly method: string;
  private readonly authority: string;
  private readonly path: string;
  private readonly protocol: string;
  private readonly status: number;
  private readonly flags: string;
  private readonly userAgent: string | undefined;
  private readonly peerAddress: string | undefined;
  private readonly bytesIn: number;
  private readonly bytesOut: number;

  constructor(
    t: RequestTrace,
    r: RequestRecord,
    private readonly ci: ClusterInfo,
    readonly localService: string,
    private readonly staticTags: Readonly<Record<string, string>>,
  ) {
    const inbound = r.direction === 'inbound';
    this.traceId = t.traceId;
    this.id = t.spanId;
    this.parentId = t.parentId;
    this.kind = inbound ? 'SERVER' : 'CLIENT';
    this.timestampUs = Math.round(r.startTime * 1000);
    this.durationUs = Math.max(1, Math.round(r.durationMs * 1000));
    this.remoteAddress = inbound ? r.downstreamRemoteAddress : r.upstreamHost;
    this.error = r.status === 0 || r.status >= 500;
    this.requestId = t.requestId;
    this.method = r.method;
    this.authority = r.authority;
    this.path = r.path;
    this.protocol = r.protocol;
    this.status = r.status;
    this.flags = r.responseFlags;
    this.userAgent = r.userAgent;
    this.peerAddress = r.downstreamRemoteAddress;
    this.bytesIn = r.bytesReceived;
    this.bytesOut = r.bytesSent;
  }

  /** Operation name: `SERVICE_HOST:PORT/*` (Istio's default decorator), else `AUTHORITY/*`. */
  get name(): string {
    return this.ci.port !== undefined ? `${this.ci.serviceHost}:${this.ci.port}/*` : `${this.authority}/*`;
  }

  /** Istio/Envoy span tags. */
  get tags(): Record<string, string> {
    return {
      ...this.staticTags,
      'http.url': `http://${this.authority}${this.path}`,
      'http.method': this.method,
      'http.protocol': this.protocol,
      'http.status_code': String(this.status),
      upstream_cluster: this.ci.name,
      'upstream_cluster.name': this.ci.name,
      response_flags: this.flags,
      'guid:x-request-id': this.requestId ?? '-',
      user_agent: this.userAgent ?? '-',
      'peer.address': this.peerAddress ?? '-',
      request_size: String(this.bytesIn),
      response_size: String(this.bytesOut),
    };
  }
}
