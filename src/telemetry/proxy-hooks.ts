/**
 * The bridge from the proxy's hooks to ProxyTelemetry, typed structurally so telemetry does
 * not import the proxy (the proxy imports telemetry). The proxy calls:
 *   - onRequestHeaders(x, headers)  once the request is routed, before its head goes upstream:
 *       strips incoming peer metadata (keeping it for inbound labels), adds this proxy's toward
 *       mesh clusters on outbound, fixes x-request-id and rewrites trace headers;
 *   - onResponseHeaders(x, headers) on the upstream response head before it goes downstream:
 *       outbound takes the callee's metadata (its workload facts: its `principal` is a claim, and
 *       destination_principal is the record's `upstreamPeerIdentity`); inbound adds this proxy's;
 *   - onRequestComplete(x)          when the request is done (metrics, span, access log).
 * Per-request state lives in the record's `telemetry` slot; one reused RequestRecord is
 * filled per completion, so a request allocates nothing here beyond its trace handle.
 */
import { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, type PeerMetadata } from './peer.js';
import { RequestScan } from './request-scan.js';
import type { ConfigView } from './config-view.js';
import type { Direction, RequestRecord, TcpRecord } from './record.js';
import type { ProxyTelemetry } from './telemetry.js';
import type { HeaderAccess } from './tracing/context.js';
import type { RequestTrace } from './tracing/tracer.js';

/** The proxy's per-request record as telemetry reads it; src/proxy/record.ts RequestRecord extends it. Times in ms, `startTime` epoch ms. */
export interface ProxyRecordView {
  startTime: number;
  durationMs: number;
  method: string;
  authority: string;
  path: string;
  /** Status sent downstream (0 when none was sent). */
  status: number;
  /** Response flag bitmask (formatted by the `flagsText` the proxy passes in). */
  flags: number;
  /** Request body bytes received from downstream. */
  bytesIn: number;
  /** Response body bytes sent downstream. */
  bytesOut: number;
  /** `address:port` of the last upstream endpoint tried, or ''. */
  upstreamHost: string;
  cluster: string;
  routeName: string;
  requestId: string;
  /** Downstream peer `address:port`. */
  downstreamRemote: string;
  /** Verified SPIFFE id of the downstream client ('' when not mTLS). */
  peerIdentity: string;
  /**
   * Verified SPIFFE id of the upstream server whose response this is, read once per upstream
   * connection ('' when that connection was not mutual TLS, or no upstream answered): outbound
   * destination_principal. The response's peer metadata `principal` is a claim and is not used.
   */
  upstreamPeerIdentity: string;
  /** Name of the listener that accepted the request. */
  listener: string;
  /** A request header by lowercase name (user-agent, trace context...). */
  header(name: string): string | undefined;
  /** A slot the proxy reserves for telemetry's per-request state (initialised to undefined). */
  telemetry?: unknown;
  /** `HTTP/2` on HTTP/2 exchanges; absent means the bridge's default (`HTTP/1.1`). */
  protocol?: string;
  /** The request is gRPC (set by the HTTP/2 exchange). */
  grpc?: boolean;
  /** grpc-status from the response trailers ('' until known; HTTP/2 exchange). */
  grpcStatus?: string;
}

/**
 * Per-request state kept in the record's `telemetry` slot; it is also the request's trace
 * (one object per request, not two), handed to finishRequest when tracing is on. Made by an
 * object literal (`newState`): a class constructor here went through V8's generic construct
 * stub instead of an inlined allocation (1.3 % of the proxy's CPU at saturation).
 */
interface RequestState extends RequestTrace {
  readonly direction: Direction;
  peer: PeerMetadata | undefined;
  readonly userAgent: string | undefined;
  readonly xff: string | undefined;
  readonly grpc: boolean;
  /** grpc-status of a trailers-only (or header-carried) gRPC response. */
  grpcStatus: string | undefined;
  /** Tracing is on: the trace fields are this hop's trace. */
  traced: boolean;
}

function newState(direction: Direction, peer: PeerMetadata | undefined, userAgent: string | undefined, xff: string | undefined, grpc: boolean): RequestState {
  return {
    direction, peer, userAgent, xff, grpc, grpcStatus: undefined, traced: false,
    requestId: undefined, traceId: '', spanId: '', parentId: undefined, sampled: false, debug: false, tracestate: undefined,
  };
}

/** What telemetry reads from the proxy's TCP connection record (src/proxy/tcp/record.ts). */
export interface ProxyTcpView {
  listener: string;
  direction: Direction;
  cluster: string;
  upstreamHost: string;
  peerIdentity: string;
  /** Verified SPIFFE id of the upstream server (outbound mutual TLS), else ''. */
  upstreamPeerIdentity: string;
  mtls: boolean;
  /** Totals so far. */
  sentBytes: number;
  receivedBytes: number;
  flags: number;
}

/** Hooks the proxy calls; structurally compatible with src/proxy's ProxyHooks (and its TCP hooks). */
export interface TelemetryHooks {
  onRequestHeaders(x: ProxyRecordView, headers: HeaderAccess): void;
  onResponseHeaders(x: ProxyRecordView, headers: HeaderAccess): void;
  onRequestComplete(x: ProxyRecordView): void;
  onTcpOpened(r: ProxyTcpView): void;
  onTcpClosed(r: ProxyTcpView): void;
}

const noop = (): void => {};

/** The record's request headers as a HeaderAccess that only reads (a local reply sends nothing upstream). */
function readOnly(x: ProxyRecordView): HeaderAccess {
  return { get: (name) => x.header(name), set: noop, remove: noop };
}

/** Builds the proxy hooks for a ProxyTelemetry. `flagsText` formats the proxy's flag bitmask. */
export function telemetryHooks(t: ProxyTelemetry, opts: { flagsText(mask: number): string; protocol?: string }): TelemetryHooks {
  const defaultProtocol = opts.protocol ?? 'HTTP/1.1';
  const rec: RequestRecord = {
    direction: 'outbound', startTime: 0, durationMs: 0, method: '', authority: '', path: '', protocol: defaultProtocol,
    status: 0, responseFlags: '-', bytesReceived: 0, bytesSent: 0, cluster: undefined, route: undefined, upstreamHost: undefined,
    requestId: undefined, downstreamRemoteAddress: undefined, userAgent: undefined, xForwardedFor: undefined, peer: undefined,
    peerPrincipal: undefined, upstreamPrincipal: undefined, mtls: undefined, trace: undefined, grpc: false, grpcStatus: undefined,
  };
  const scan = new RequestScan();
  // The last listener's direction and cluster's mesh flag (consecutive requests mostly share both), per config view.
  let memoView = t.view;
  let lastListener: string | undefined;
  let lastDirection: Direction = 'outbound';
  let lastCluster: string | undefined;
  let lastMesh = false;
  const sync = (): ConfigView => {
    if (memoView !== t.view) { memoView = t.view; lastListener = undefined; lastCluster = undefined; }
    return memoView;
  };
  const directionOf = (listener: string): Direction => {
    const view = sync();
    if (listener !== lastListener) { lastListener = listener; lastDirection = view.direction(listener); }
    return lastDirection;
  };
  const meshCluster = (cluster: string): boolean => {
    const view = sync();
    if (cluster !== lastCluster) { lastCluster = cluster; lastMesh = view.cluster(cluster).mesh; }
    return lastMesh;
  };
  const tcp: TcpRecord = { direction: 'outbound', cluster: undefined, upstreamHost: undefined, peer: undefined, peerPrincipal: undefined, upstreamPrincipal: undefined, mtls: undefined, sentBytes: 0, receivedBytes: 0, responseFlags: '-' };
  const fillTcp = (r: ProxyTcpView, final: boolean): TcpRecord => {
    tcp.direction = r.direction;
    tcp.cluster = r.cluster === '' ? undefined : r.cluster;
    tcp.upstreamHost = r.upstreamHost === '' ? undefined : r.upstreamHost;
    tcp.peerPrincipal = r.peerIdentity === '' ? undefined : r.peerIdentity;
    tcp.upstreamPrincipal = r.upstreamPeerIdentity === '' ? undefined : r.upstreamPeerIdentity;
    tcp.mtls = r.direction === 'inbound' ? r.mtls : undefined;
    tcp.sentBytes = final ? r.sentBytes : 0;
    tcp.receivedBytes = final ? r.receivedBytes : 0;
    tcp.responseFlags = r.flags === 0 ? '-' : opts.flagsText(r.flags);
    return tcp;
  };
  return {
    onTcpOpened(r) {
      t.tcpOpened(fillTcp(r, false));
    },
    onTcpClosed(r) {
      t.tcpClosed(fillTcp(r, true));
    },
    onRequestHeaders(x, h) {
      const direction = directionOf(x.listener);
      const sc = scan.read(h);
      // Incoming peer metadata never reaches the application; inbound keeps it for its labels.
      const incoming = sc.peerMetadata !== undefined ? t.peerFromHeader(sc.peerMetadata) : undefined;
      if (sc.peerMetadata !== undefined) h.remove(PEER_METADATA_HEADER);
      if (sc.peerId) h.remove(PEER_METADATA_ID_HEADER); // an older proxy's, read by nobody
      // Gone or never sent: appended.
      if (direction !== 'inbound' && meshCluster(x.cluster)) t.appendPeerHeaders(h);
      const ct = sc.contentType;
      const s = newState(direction, direction === 'inbound' ? incoming : undefined, sc.userAgent, sc.xForwardedFor, ct !== undefined && ct.startsWith('application/grpc'));
      // x-request-id is the proxy's (its head step honours generateRequestId); only trace headers change here.
      s.traced = t.startScanned(sc, h, s);
      x.telemetry = s;
    },
    onResponseHeaders(x, h) {
      const s = x.telemetry as RequestState | undefined;
      const direction = s?.direction ?? t.view.direction(x.listener);
      if (s?.grpc) s.grpcStatus = h.get('grpc-status');
      if (direction === 'inbound') {
        h.remove(PEER_METADATA_HEADER);
        t.addPeerHeaders(h, true);
      } else {
        const callee = t.takePeer(h);
        if (s !== undefined) s.peer = callee;
      }
    },
    onRequestComplete(x) {
      const s = x.telemetry as RequestState | undefined;
      if (s !== undefined && !(s.traced && s.sampled && t.spansWanted) && t.countsOnly) {
        // Metrics are all that is left to do (no access log, no metric overrides, no span wanted): the
        // series and its numbers straight from the record, without filling `rec` (whose stores of
        // this request's young strings into a long-lived object each take the write barrier's slow path).
        // The verified identity of the peer the series is about: inbound the client's, outbound the upstream server's.
        const inbound = s.direction === 'inbound';
        const id = inbound ? x.peerIdentity : x.upstreamPeerIdentity;
        t.countRequest(
          s.direction, x.cluster === '' ? undefined : x.cluster, x.upstreamHost === '' ? undefined : x.upstreamHost, s.peer,
          id === '' ? undefined : id, inbound ? id !== '' : undefined, x.grpc ?? s.grpc,
          x.status, x.flags === 0 ? '-' : opts.flagsText(x.flags) || '-', x.grpcStatus || s.grpcStatus || '', x.durationMs, x.bytesIn, x.bytesOut,
        );
        return;
      }
      const direction = s?.direction ?? t.view.direction(x.listener);
      rec.direction = direction;
      rec.protocol = x.protocol ?? defaultProtocol;
      rec.startTime = x.startTime;
      rec.durationMs = x.durationMs;
      rec.method = x.method;
      rec.authority = x.authority;
      rec.path = x.path;
      rec.status = x.status;
      rec.responseFlags = x.flags === 0 ? '-' : opts.flagsText(x.flags);
      rec.bytesReceived = x.bytesIn;
      rec.bytesSent = x.bytesOut;
      rec.cluster = x.cluster === '' ? undefined : x.cluster;
      rec.route = x.routeName === '' ? undefined : x.routeName;
      rec.upstreamHost = x.upstreamHost === '' ? undefined : x.upstreamHost;
      rec.requestId = x.requestId === '' ? undefined : x.requestId;
      rec.downstreamRemoteAddress = x.downstreamRemote;
      rec.peerPrincipal = x.peerIdentity === '' ? undefined : x.peerIdentity;
      rec.upstreamPrincipal = x.upstreamPeerIdentity === '' ? undefined : x.upstreamPeerIdentity;
      rec.mtls = direction === 'inbound' ? x.peerIdentity !== '' : undefined;
      rec.requestHeaders = x;
      if (s !== undefined) {
        rec.trace = s.traced ? s : undefined;
        rec.peer = s.peer;
        rec.userAgent = s.userAgent;
        rec.xForwardedFor = s.xff;
        rec.grpc = x.grpc ?? s.grpc;
        rec.grpcStatus = x.grpcStatus || s.grpcStatus;
      } else {
        rec.grpc = x.grpc ?? false;
        rec.grpcStatus = x.grpcStatus || undefined;
        // The proxy did not call onRequestHeaders: it answered itself (404 NR, fault abort, direct
        // response, redirect, denial). Read what we can; a sampled request gets a span of its own,
        // so its trace shows the hop where it stopped.
        rec.trace = t.localReplyTrace(readOnly(x), rec.requestId);
        rec.peer = direction === 'inbound' ? t.peerFromHeader(x.header(PEER_METADATA_HEADER)) : undefined;
        rec.userAgent = x.header('user-agent');
        rec.xForwardedFor = x.header('x-forwarded-for');
      }
      t.finishRequest(rec);
      // Hold nothing of this request until the next one (it would survive scavenges for nothing).
      rec.requestHeaders = undefined;
      rec.trace = undefined;
    },
  };
}
