/**
 * Everything telemetry reads from a request head, found in one pass over the proxy's header
 * list instead of one linear `get` per name (there were twelve per request: peer metadata,
 * x-forwarded-for, user-agent, content-type, x-request-id and seven trace headers). Telemetry
 * runs once per request on a proxy that sleeps between requests at moderate rates, so fewer
 * passes over the list is fewer cold cache lines touched, not just fewer instructions.
 *
 * A scan is reused (filled synchronously by `read`, consumed before the hook returns). Its
 * `get` answers for the names it knows, so the trace context parsers (tracing/context.ts)
 * read it like a header list. The first field of a name wins, as `Headers.get` does.
 */
import { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER } from './peer.js';
import type { HeaderAccess } from './tracing/context.js';

/** One request head's telemetry facts. */
export class RequestScan {
  peerMetadata: string | undefined = undefined;
  /** An older proxy's x-bowline-peer-metadata-id was present (taken off, never passed on). */
  peerId = false;
  xForwardedFor: string | undefined = undefined;
  userAgent: string | undefined = undefined;
  contentType: string | undefined = undefined;
  requestId: string | undefined = undefined;
  traceparent: string | undefined = undefined;
  tracestate: string | undefined = undefined;
  b3: string | undefined = undefined;
  b3TraceId: string | undefined = undefined;
  b3SpanId: string | undefined = undefined;
  b3ParentSpanId: string | undefined = undefined;
  b3Sampled: string | undefined = undefined;
  b3Flags: string | undefined = undefined;
  /** How many trace propagation fields the head carried (0: this hop starts the trace and only appends). */
  traceFields = 0;

  /** Fills the scan from `h`: one pass over its arrays when it has them, else a `get` per name. */
  read(h: HeaderAccess): this {
    this.peerMetadata = this.xForwardedFor = this.userAgent = this.contentType = this.requestId = undefined;
    this.traceparent = this.tracestate = this.b3 = this.b3TraceId = this.b3SpanId = this.b3ParentSpanId = this.b3Sampled = this.b3Flags = undefined;
    this.peerId = false;
    this.traceFields = 0;
    const names = h.names;
    const values = h.values;
    if (names === undefined || values === undefined) return this.readEach(h);
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      // Dispatch on the length first: most request fields (host, accept, cookie...) match no length here.
      switch (n.length) {
        case 2:
          if (n === 'b3') { this.traceFields++; this.b3 ??= values[i]; }
          break;
        case 10:
          if (n === 'user-agent') this.userAgent ??= values[i];
          else if (n === 'tracestate') { this.traceFields++; this.tracestate ??= values[i]; }
          else if (n === 'x-b3-flags') { this.traceFields++; this.b3Flags ??= values[i]; }
          break;
        case 11:
          if (n === 'traceparent') { this.traceFields++; this.traceparent ??= values[i]; }
          else if (n === 'x-b3-spanid') { this.traceFields++; this.b3SpanId ??= values[i]; }
          break;
        case 12:
          if (n === 'x-request-id') this.requestId ??= values[i];
          else if (n === 'content-type') this.contentType ??= values[i];
          else if (n === 'x-b3-traceid') { this.traceFields++; this.b3TraceId ??= values[i]; }
          else if (n === 'x-b3-sampled') { this.traceFields++; this.b3Sampled ??= values[i]; }
          break;
        case 15:
          if (n === 'x-forwarded-for') this.xForwardedFor ??= values[i];
          break;
        case 17:
          if (n === 'x-b3-parentspanid') { this.traceFields++; this.b3ParentSpanId ??= values[i]; }
          break;
        case PEER_METADATA_HEADER.length:
          if (n === PEER_METADATA_HEADER) this.peerMetadata ??= values[i];
          break;
        case PEER_METADATA_ID_HEADER.length:
          if (n === PEER_METADATA_ID_HEADER) this.peerId = true;
          break;
      }
    }
    return this;
  }

  /** The same facts from a header access without arrays (tests' map-backed headers). */
  private readEach(h: HeaderAccess): this {
    this.peerMetadata = h.get(PEER_METADATA_HEADER);
    this.peerId = h.get(PEER_METADATA_ID_HEADER) !== undefined;
    this.xForwardedFor = h.get('x-forwarded-for');
    this.userAgent = h.get('user-agent');
    this.contentType = h.get('content-type');
    this.requestId = h.get('x-request-id');
    for (const name of TRACE_FIELDS) {
      const v = h.get(name);
      if (v === undefined) continue;
      this.traceFields++;
      this.set(name, v);
    }
    return this;
  }

  private set(name: string, v: string): void {
    switch (name) {
      case 'traceparent': this.traceparent = v; break;
      case 'tracestate': this.tracestate = v; break;
      case 'b3': this.b3 = v; break;
      case 'x-b3-traceid': this.b3TraceId = v; break;
      case 'x-b3-spanid': this.b3SpanId = v; break;
      case 'x-b3-parentspanid': this.b3ParentSpanId = v; break;
      case 'x-b3-sampled': this.b3Sampled = v; break;
      case 'x-b3-flags': this.b3Flags = v; break;
    }
  }

  /** A trace header's value as scanned (the context parsers read the scan through this). */
  get(name: string): string | undefined {
    switch (name) {
      case 'traceparent': return this.traceparent;
      case 'tracestate': return this.tracestate;
      case 'b3': return this.b3;
      case 'x-b3-traceid': return this.b3TraceId;
      case 'x-b3-spanid': return this.b3SpanId;
      case 'x-b3-parentspanid': return this.b3ParentSpanId;
      case 'x-b3-sampled': return this.b3Sampled;
      case 'x-b3-flags': return this.b3Flags;
      case 'x-request-id': return this.requestId;
      default: return undefined;
    }
  }
}

/** The propagation fields a hop reads and rewrites (W3C, B3 multi, B3 single). */
const TRACE_FIELDS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;
