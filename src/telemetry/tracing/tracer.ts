/**
 * One span per proxy hop. `start` runs when a request head arrives: it fixes x-request-id,
 * reads the incoming trace context, makes this hop's span id, keeps or makes the sampling
 * decision and rewrites the propagation headers for the upstream. `finish` runs when the
 * request completes and, only for sampled requests, hands a span to the exporters.
 */
import type { ConfigView } from '../config-view.js';
import type { RequestRecord } from '../record.js';
import { extractContext, type HeaderAccess, injectContext, sampleByTraceId } from './context.js';
import { type IdSource, RandomIds } from './ids.js';
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
  /** Istio's mesh id tag (default `cluster.local`). */
  meshId?: string;
  ids?: IdSource;
  /** Injected randomness for sampling new traces (0 <= x < 1); default: derived from the trace id. */
  random?: () => number;
}

/** Creates spans and rewrites propagation headers. */
export class Tracer {
  private readonly ids: IdSource;
  private readonly staticTags: Record<string, string>;
  private readonly localService: string;

  constructor(private readonly o: TracerOptions) {
    this.ids = o.ids ?? new RandomIds();
    const self = o.view.self;
    this.localService = `${self.app}.${self.namespace}`;
    this.staticTags = {
      node_id: o.view.node.id,
      'istio.canonical_service': self.app,
      'istio.canonical_revision': self.version,
      'istio.mesh_id': o.meshId ?? 'cluster.local',
      'istio.namespace': self.namespace,
      component: 'proxy',
      downstream_cluster: '-',
    };
  }

  /** Sampling percentage in effect. */
  get samplingPercent(): number {
    return this.o.samplingPercent;
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

  /** Emits the hop's span if sampled. */
  finish(t: RequestTrace, r: RequestRecord): void {
    if (!t.sampled) return;
    const ci = this.o.view.cluster(r.cluster);
    const inbound = r.direction === 'inbound';
    const span: SpanData = {
      traceId: t.traceId,
      id: t.spanId,
      parentId: t.parentId,
      name: ci.port !== undefined ? `${ci.serviceHost}:${ci.port}/*` : `${r.authority}/*`,
      kind: inbound ? 'SERVER' : 'CLIENT',
      timestampUs: Math.round(r.startTime * 1000),
      durationUs: Math.max(1, Math.round(r.durationMs * 1000)),
      localService: this.localService,
      remoteAddress: inbound ? r.downstreamRemoteAddress : r.upstreamHost,
      tags: {
        ...this.staticTags,
        'http.url': `http://${r.authority}${r.path}`,
        'http.method': r.method,
        'http.protocol': r.protocol,
        'http.status_code': String(r.status),
        'upstream_cluster': ci.name,
        'upstream_cluster.name': ci.name,
        response_flags: r.responseFlags,
        'guid:x-request-id': t.requestId ?? '-',
        user_agent: r.userAgent ?? '-',
        'peer.address': r.downstreamRemoteAddress ?? '-',
        request_size: String(r.bytesReceived),
        response_size: String(r.bytesSent),
      },
      error: r.status === 0 || r.status >= 500,
    };
    for (const s of this.o.sinks) s.add(span);
  }
}
