/**
 * One request's life on the data path, whatever the protocols: the request body streamed from
 * the downstream (its Responder, responder.ts) to the upstream call(s), the attempts (one
 * dispatch each through upstream/dispatch.ts: HTTP/1.1 on the pooled raw-socket client or
 * HTTP/2 on our own codec), retries and timeouts around them, the response streamed back,
 * local replies (gRPC ones as trailers-only responses), and the per-request record. The order
 * of the steps before forwarding is in http/pipeline.ts. No exception escapes: failures become
 * a local reply with a response flag, or a reset when the response already started.
 *
 * Retries and request bodies: a request is retried only while its body is replayable -- no body
 * sent yet, or a body of at most 64 KiB kept in memory as it streams (the received views, no
 * concatenation) that is complete or of known length. Once a larger body has started flowing
 * upstream, the attempt is final. Retry eligibility by condition and method is `shouldRetry`; a
 * gRPC status is the server's own word that the call failed, retried whatever the method.
 */
import { cookieFromHeader, type PickContext, type UpstreamEndpoint } from '../cluster/index.js';
import type { HttpListenerRuntime, ProxyContext } from '../context.js';
import { applyHeaderMutation, isRetriable, retryBackoffMs, shouldRetry, type AttemptOutcome, type HeaderPair } from '../filters/index.js';
import { grpcCode, grpcFromHttp, grpcMessage, grpcTimeoutMs, isGrpc } from '../h2/grpc.js';
import { Headers } from '../http/head.js';
import { BODY_LENGTH, BODY_NONE, type RequestHead } from '../http/request-head.js';
import { reportInternalError } from '../internal-error.js';
import { Flag, type RequestRecord } from '../record.js';
import { parseQuery, type CompiledRoute, type ForwardDecision } from '../router/index.js';
import type { CallSink, FailureKind, UpstreamCall, UpstreamRequest } from '../upstream/call.js';
import { dispatch } from '../upstream/dispatch.js';
import type { Responder } from './responder.js';
import { performance } from 'node:perf_hooks';

/** Largest request body kept for replay on retry. */
export const MAX_REPLAY_BYTES = 64 * 1024;
const GRPC_CT = 'application/grpc';
/** The outcome of an attempt that ended without a status, failure or timeout to report (no object per request). */
const NO_OUTCOME: AttemptOutcome = Object.freeze({});
/** No body parts (shared, never written to). */
const NO_PARTS: readonly Buffer[] = Object.freeze([]);

/** A request in flight. Fields are public for the pipeline steps (http/pipeline.ts). */
export class Exchange implements CallSink, RequestRecord, PickContext {
  // --- record fields (RequestRecord)
  durationMs = 0;
  method: string;
  authority: string;
  path: string;
  status = 0;
  flags = 0;
  bytesIn = 0;
  bytesOut = 0;
  upstreamHost = '';
  cluster = '';
  routeName = '';
  requestId = '';
  downstreamRemote: string;
  peerIdentity: string;
  /** The verified SPIFFE id of the server whose response this is (the answering attempt's connection); '' when not mutual TLS or none answered. */
  upstreamPeerIdentity = '';
  listener: string;
  attempts = 0;
  telemetry: unknown = undefined;
  /** Telemetry's request_protocol. */
  readonly protocol: string;
  /** The request is gRPC (HTTP/2 with content-type application/grpc*). */
  readonly grpc: boolean;
  /** grpc-status of the response ('' until known), for telemetry's grpc_response_status. */
  grpcStatus = '';
  // --- routing state set by the pipeline
  route: CompiledRoute | undefined;
  forward: ForwardDecision | undefined;
  /** CORS headers to add to the response. */
  corsHeaders: HeaderPair[] | undefined;
  /** Where the pipeline resumes after an asynchronous step (fault delay, external authorization). */
  resumeAt = 0;
  done = false;
  /** The cluster whose retry slot (maxRetries circuit breaker) this request holds, from its first retry to its end. */
  retrySlot: string | null = null;
  /** Endpoints tried by earlier attempts (load balancers avoid them on retries). */
  exclude: Set<UpstreamEndpoint> | undefined;
  /** The original destination of a captured connection, for passthrough clusters. */
  readonly capturedDst: { address: string; port: number } | undefined;
  /** The checked passthrough destination (pipeline `cluster` step) an `original_dst` cluster connects to. */
  originalDst: { address: string; port: number } | undefined;
  /** False once the downstream connection must not carry another request (HTTP/1.1: protocol error, internal error). */
  keepDownstream = true;
  /** The response is a local reply (not the upstream's). */
  local = false;
  // --- request body
  /** The request body is complete. */
  bodyDone: boolean;
  /** Body views kept for replay (null until the first; made only for requests with a body). */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  /** The body outgrew MAX_REPLAY_BYTES: nothing is kept for replay. */
  private heldOver = false;
  /** Body views received but not yet handed to a call (null until the first). */
  private unsent: Buffer[] | null = null;
  private unsentBytes = 0;
  /** Body bytes already written in the current attempt. */
  private sentAny = false;
  /** Reading the client is paused until the upstream call drains. */
  private bodyPaused = false;
  // --- upstream
  private req: UpstreamRequest | null = null;
  private call: UpstreamCall | null = null;
  /** The last call made (not cleared when it ends): what `ctx.kept` holds once the request finishes (kept-request.ts). */
  private lastCall: UpstreamCall | null = null;
  /** The endpoint of the current attempt until its outcome is reported (exactly once per pick). */
  private picked: UpstreamEndpoint | null = null;
  /** A Set-Cookie the load balancer asked to add (consistent hash on an absent cookie). */
  private setCookie: string | undefined;
  private queryMap: Map<string, string> | undefined;
  private tryTimer: NodeJS.Timeout | null = null;
  private routeTimer: NodeJS.Timeout | null = null;
  private staleRetried = false;
  private tunneling = false;
  // --- response
  private resStarted = false;
  private upPaused = false;
  private trailers: Headers | undefined;
  private readonly t0 = performance.now();
  /** `startTime` once read (-1 before). */
  private wallStart = -1;

  constructor(readonly ds: Responder, readonly head: RequestHead, readonly lst: HttpListenerRuntime, readonly ctx: ProxyContext) {
    this.method = head.method;
    this.authority = head.authority;
    this.path = head.path;
    this.downstreamRemote = ds.remote;
    this.peerIdentity = ds.peerIdentity;
    this.capturedDst = ds.capturedDst;
    this.listener = lst.name;
    this.protocol = ds.protocol;
    this.grpc = ds.protocol === 'HTTP/2' && isGrpc(head.headers.get('content-type'));
    this.bodyDone = head.bodyKind === BODY_NONE;
    if (head.bodyKind === BODY_LENGTH && head.contentLength > MAX_REPLAY_BYTES) this.heldOver = true;
  }

  /**
   * When the request started, epoch ms (fractional): the wall clock read when first asked, less the
   * monotonic time since the start. Most requests are never asked (metrics need only the duration;
   * access logs and sampled spans ask), and `Date.now()` is a call into V8's runtime that was ~1.5 %
   * of the proxy's CPU at 1000 rps when every request read it.
   */
  get startTime(): number {
    if (this.wallStart < 0) this.wallStart = Date.now() - (performance.now() - this.t0);
    return this.wallStart;
  }

  /** A request header (lowercase name); the record's accessor for hooks and hashing. */
  header(name: string): string | undefined {
    return this.head.headers.get(name);
  }

  /** A request cookie (consistent hashing on a cookie). */
  cookie(name: string): string | undefined {
    return cookieFromHeader(this.head.headers.get('cookie'), name);
  }

  /** A query parameter (consistent hashing on a query parameter). */
  query(name: string): string | undefined {
    return (this.queryMap ??= parseQuery(this.path)).get(name);
  }

  /** The client's address (consistent hashing on the source IP). */
  get sourceIp(): string {
    return this.ds.remoteAddress;
  }

  // ------------------------------------------------------------------ request body (from the responder)

  /** Request body bytes from the client (after a 101: raw tunnel bytes). */
  requestData(b: Buffer): void {
    if (this.tunneling) {
      const call = this.call;
      // Backpressure both ways (a peer that never reads holds the other side).
      if (call !== null && !call.write(b) && !this.bodyPaused) this.waitUpstreamDrain(call);
      return;
    }
    this.bytesIn += b.length;
    if (!this.heldOver) {
      if (this.heldBytes + b.length <= MAX_REPLAY_BYTES) {
        (this.held ??= []).push(b);
        this.heldBytes += b.length;
      } else {
        this.heldOver = true;
        this.held = null;
      }
    }
    if (this.done) return;
    const call = this.call;
    if (call !== null) {
      this.sentAny = true;
      if (!call.write(b) && !this.bodyPaused) this.waitUpstreamDrain(call);
      return;
    }
    (this.unsent ??= []).push(b);
    this.unsentBytes += b.length;
    if (this.unsentBytes > MAX_REPLAY_BYTES) this.ds.pause();
  }

  private waitUpstreamDrain(call: UpstreamCall): void {
    this.bodyPaused = true;
    this.ds.pause();
    call.onDrain(() => { this.bodyPaused = false; this.ds.resume(); });
  }

  /** The request body is complete. */
  requestEnd(): void {
    if (this.bodyDone) return;
    this.bodyDone = true;
    if (!this.done && this.call !== null && !this.tunneling) this.call.end();
  }

  /** The request body's framing is broken (HTTP/1.1 chunked): 400 DPE and the connection closes. */
  requestInvalid(message: string): void {
    this.ctx.stats.downstreamProtocolErrors++;
    this.keepDownstream = false;
    this.abortCall();
    this.localReply(400, message, Flag.DPE);
  }

  /** The client went away before the response completed (DC). */
  clientGone(): void {
    if (this.done) return;
    if (!this.tunneling) this.flags |= Flag.DC;
    this.abortCall();
    this.finish();
  }

  /** Whether the body can be sent again from the start. */
  private replayable(): boolean {
    return !this.sentAny || (!this.heldOver && (this.bodyDone || this.head.bodyKind === BODY_LENGTH));
  }

  // ------------------------------------------------------------------ upstream attempts

  /** Starts forwarding: the request as routing shaped it, the route (or gRPC) deadline, then the first attempt. */
  startForward(upgrade: string | undefined): void {
    const h = this.head;
    const d = this.forward!;
    this.req = {
      method: h.method, path: d.path, authority: d.authority, headers: h.headers, connectionTokens: h.connectionTokens,
      bodyLength: h.bodyKind === BODY_NONE ? 0 : h.bodyKind === BODY_LENGTH ? h.contentLength : -1, upgrade,
    };
    let t = this.route!.timeoutMs;
    if (this.grpc) {
      const g = grpcTimeoutMs(h.headers.get('grpc-timeout'));
      if (g !== undefined && (t === 0 || g < t)) t = g;
    }
    if (t > 0) this.routeTimer = setTimeout(() => this.routeTimeout(), t);
    this.attempt();
  }

  private attempt(): void {
    if (this.done) return;
    this.attempts++;
    this.ctx.stats.upstreamRequestsTotal++;
    const picked = this.ctx.clusters.pick(this.cluster, this);
    if (picked === undefined) return this.localReply(503, 'no healthy upstream', Flag.UH);
    const ep = picked.endpoint;
    if (picked.setCookie !== undefined) this.setCookie = picked.setCookie;
    this.picked = ep;
    const req = this.req!;
    if (this.route!.retries !== undefined) {
      (this.exclude ??= new Set()).add(ep);
      req.headers.set('x-envoy-attempt-count', String(this.attempts));
      req.h1Head = undefined;
    }
    this.upstreamHost = ep.key;
    this.upstreamPeerIdentity = '';
    const call = dispatch(this.ctx, this.cluster, ep, req, this, this.protocol === 'HTTP/2', this.lst.idleTimeoutMs);
    if (call === undefined || call === 'overflow') {
      this.report(NO_OUTCOME);
      return this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', Flag.UO);
    }
    this.call = call;
    this.lastCall = call;
    this.sentAny = false;
    const unsent = this.unsent;
    const parts = this.attempts > 1 || unsent === null || unsent.length === 0 ? this.held ?? NO_PARTS : unsent;
    for (let i = 0; i < parts.length; i++) { call.write(parts[i]!); this.sentAny = true; }
    this.unsent = null;
    this.unsentBytes = 0;
    if (this.bodyDone && req.bodyLength !== 0) call.end();
    if (this.call !== call) return; // the call failed while the body was written
    this.ds.resume();
    const per = this.route!.retries?.perTryTimeoutMs ?? 0;
    if (per > 0) this.tryTimer = setTimeout(() => this.tryTimeout(), per);
  }

  /** Decides on a retry after a failed attempt; schedules it and returns true, or returns false. */
  private retry(o: AttemptOutcome): boolean {
    const policy = this.route?.retries;
    if (policy === undefined || this.done || this.resStarted || !this.replayable()) return false;
    const method = this.grpc && o.grpcStatus !== undefined ? 'GET' : this.method;
    if (!shouldRetry(policy, o, this.attempts, method)) {
      if (isRetriable(policy, o) && this.attempts > policy.attempts) this.flags |= Flag.URX;
      return false;
    }
    if (this.retrySlot === null) {
      if (!this.ctx.clusters.acquireRetry(this.cluster)) { this.ctx.stats.upstreamRetryOverflow++; return false; }
      this.retrySlot = this.cluster;
    }
    this.ctx.stats.upstreamRetries++;
    this.abortCall();
    this.clearTryTimer();
    setTimeout(() => this.attempt(), retryBackoffMs(this.attempts, this.ctx.random, policy.backoffBaseMs));
    return true;
  }

  /** Reports the current attempt's outcome to the cluster manager (once per pick). */
  private report(o: AttemptOutcome): void {
    const ep = this.picked;
    if (ep === null) return;
    this.picked = null;
    this.ctx.clusters.report(ep, o);
  }

  private tryTimeout(): void {
    this.tryTimer = null;
    if (this.done || this.resStarted) return;
    const o: AttemptOutcome = { timeout: true };
    this.report(o);
    this.abortCall();
    if (this.retry(o)) return;
    this.localReply(504, 'upstream request timeout', Flag.UT);
  }

  private routeTimeout(): void {
    this.routeTimer = null;
    if (this.done) return;
    this.flags |= Flag.UT;
    this.report({ timeout: true });
    this.abortCall();
    if (this.resStarted) return this.fail();
    this.localReply(504, 'upstream request timeout', Flag.UT);
  }

  /** Gives up the current call (closing its connection or resetting its stream). */
  private abortCall(): void {
    const c = this.call;
    if (c === null) return;
    this.call = null;
    c.abort();
  }

  private clearTryTimer(): void {
    if (this.tryTimer !== null) { clearTimeout(this.tryTimer); this.tryTimer = null; }
  }

  private clearRouteTimer(): void {
    if (this.routeTimer !== null) { clearTimeout(this.routeTimer); this.routeTimer = null; }
  }

  // ------------------------------------------------------------------ CallSink: the upstream response

  /** The upstream's response head. */
  onResponse(status: number, h: Headers, endStream: boolean, reason?: string): void {
    if (this.done) return;
    this.clearTryTimer();
    const gs = h.get('grpc-status');
    const outcome: AttemptOutcome = { status };
    if (gs !== undefined && this.grpc && /^\d+$/.test(gs)) outcome.grpcStatus = Number(gs);
    this.report(outcome);
    if (this.route?.retries !== undefined && this.retry(outcome)) return;
    // This attempt's response goes downstream: whom it came from is its connection's verified identity (a field read).
    const call = this.call;
    if (call !== null) this.upstreamPeerIdentity = call.peerIdentity;
    if (gs !== undefined) this.grpcStatus = gs;
    this.status = status;
    if (status === 101) return this.startTunnel(h, reason);
    const route = this.route;
    if (route?.headers?.response !== undefined) applyHeaderMutation(route.headers.response, h);
    const dh = this.forward?.destinationHeaders?.response;
    if (dh !== undefined) applyHeaderMutation(dh, h);
    if (this.corsHeaders !== undefined) for (const [n, v] of this.corsHeaders) h.set(n, v);
    if (this.setCookie !== undefined) h.add('set-cookie', this.setCookie);
    const onHeaders = this.ctx.hooks.onResponseHeaders;
    if (onHeaders !== undefined) {
      try { onHeaders(this, h); } catch (err) { this.ctx.log('hook', `onResponseHeaders hook threw: ${String(err)}`); }
    }
    this.resStarted = true;
    this.ds.respond(status, h, endStream, reason);
    if (endStream) this.responseDone();
  }

  /** Upstream body bytes; the call is paused while the client is slow. */
  onData(chunk: Buffer): boolean {
    if (this.done || !this.resStarted) return true;
    if (!this.tunneling) this.bytesOut += chunk.length;
    if (!this.ds.write(chunk) && !this.upPaused && this.call !== null) {
      const call = this.call;
      this.upPaused = true;
      call.pause();
      this.ds.onDrain(() => { this.upPaused = false; call.resume(); });
    }
    return true;
  }

  /** Upstream trailers (gRPC status lives here). */
  onTrailers(t: Headers): void {
    this.trailers = t;
    const gs = t.get('grpc-status');
    if (gs !== undefined) this.grpcStatus = gs;
  }

  /** The upstream response completed (after a 101: the upstream closed the tunnel). */
  onEnd(): void {
    if (this.done || !this.resStarted) return;
    this.call = null;
    if (this.tunneling) { this.keepDownstream = false; this.fail(); return; }
    this.responseDone();
  }

  private responseDone(): void {
    this.call = null;
    this.ds.end(this.trailers);
    this.finish();
  }

  /** The upstream call failed. */
  onFailure(kind: FailureKind, message: string): void {
    if (this.done) return;
    this.call = null;
    this.clearTryTimer();
    if (kind === 'stale' && !this.staleRetried && this.replayable()) {
      // A reused keep-alive connection the upstream had closed while idle: sent once more, not an attempt of its own.
      this.staleRetried = true;
      this.report(NO_OUTCOME);
      this.attempts--;
      this.attempt();
      return;
    }
    if (message.includes('BOWLINE_E_PROXY_INTERNAL')) return this.internalError();
    if (this.resStarted) {
      this.flags |= kind === 'protocol' ? Flag.UPE : this.tunneling ? 0 : Flag.UC;
      if (!this.tunneling) this.ctx.stats.upstreamResets++;
      this.ctx.log('reset:' + this.cluster, `upstream ${this.upstreamHost} (cluster ${this.cluster}) failed mid-response: ${message}`);
      this.report({ reset: true });
      return this.fail();
    }
    if (kind === 'protocol') {
      this.ctx.log('upe:' + this.cluster, `${message} from ${this.upstreamHost} (cluster ${this.cluster})`);
      this.report({ reset: true });
      return this.localReply(502, 'upstream protocol error', Flag.UPE);
    }
    const connect = kind === 'connect' || kind === 'connect-timeout';
    const o: AttemptOutcome = connect ? { connectFailure: true } : kind === 'refused' ? { refusedStream: true } : { reset: true };
    this.report(o);
    if (connect) {
      this.flags |= Flag.UF;
      this.ctx.log('connect:' + this.cluster, `upstream connect failure to ${this.upstreamHost} (cluster ${this.cluster}): ${message}`);
    } else {
      this.ctx.stats.upstreamResets++;
      this.ctx.log('reset:' + this.cluster, `upstream ${this.upstreamHost} (cluster ${this.cluster}): ${message}`);
    }
    if (this.retry(o)) return;
    const reason = kind === 'connect' ? 'connection failure' : kind === 'connect-timeout' ? 'connection timeout' : kind === 'refused' ? 'remote refused stream reset' : 'connection termination';
    this.localReply(503, `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`, connect ? Flag.UF : Flag.UC);
  }

  /**
   * A throw escaped the handling of an upstream event (reported by the guard, BOWLINE_E_PROXY_INTERNAL):
   * the client gets a 500 and the connection closes (an HTTP/2 stream is reset), or a reset once its response started.
   */
  private internalError(): void {
    this.keepDownstream = false;
    if (this.resStarted || this.ds.protocol === 'HTTP/2') return this.fail();
    this.localReply(500, 'internal error\n', 0);
  }

  // ------------------------------------------------------------------ upgrades (WebSocket)

  private startTunnel(h: Headers, reason: string | undefined): void {
    this.resStarted = true;
    this.tunneling = true;
    this.keepDownstream = false;
    this.clearRouteTimer();
    this.ds.respond(101, h, false, reason);
    this.bodyDone = false; // downstream bytes now flow raw to the upstream through requestData
  }

  // ------------------------------------------------------------------ endings

  /** Answers locally (404 NR, 503 UH, ...); gRPC requests get a trailers-only response. When the response already started, resets instead. */
  localReply(status: number, body: string, flag: number, extra?: HeaderPair[], contentType = 'text/plain'): void {
    if (this.done) return;
    this.flags |= flag;
    this.abortCall();
    if (this.resStarted) return this.fail();
    this.resStarted = true;
    this.local = true;
    const h = new Headers();
    if (this.grpc) {
      this.status = 200;
      const code = this.grpcCodeFor(status, flag);
      this.grpcStatus = String(code);
      h.add('content-type', GRPC_CT);
      h.add('grpc-status', this.grpcStatus);
      h.add('grpc-message', grpcMessage(body || `${status}`));
      this.ds.respond(200, h, true);
      this.ds.end();
      this.finish();
      return;
    }
    this.status = status;
    if (extra !== undefined) for (const [n, v] of extra) h.add(n, v);
    const len = Buffer.byteLength(body);
    if (len > 0) h.add('content-type', contentType);
    h.add('content-length', String(len));
    const noBody = this.method === 'HEAD' || len === 0;
    this.ds.respond(status, h, noBody);
    if (!noBody) { this.ds.write(Buffer.from(body)); this.bytesOut += len; }
    this.ds.end();
    this.finish();
  }

  private grpcCodeFor(status: number, flag: number): number {
    if ((flag & Flag.FI) !== 0) {
      const name = this.route?.fault?.policy.abort?.grpcStatus;
      const c = name !== undefined ? grpcCode(name) : undefined;
      if (c !== undefined) return c;
    }
    if ((flag & Flag.UT) !== 0) return 4;
    if ((flag & Flag.NR) !== 0) return 14;
    return grpcFromHttp(status);
  }

  /** A fault abort with an HTTP/2 error code (flag FI): no response; the stream is reset with `code` (HTTP/1.1 closes the connection). */
  faultReset(code: number): void {
    if (this.done) return;
    this.flags |= Flag.FI;
    this.keepDownstream = false;
    this.fail(code);
  }

  /** The connection became a CONNECT tunnel (detect/tunnel): the request ends here, 200, with no response of its own
   *  (the tunnel's TCP connection is what telemetry records). */
  handedOff(): void {
    if (this.done) return;
    this.done = true;
    this.status = 200;
    this.clearRouteTimer();
    this.ctx.stats.requestsActive--;
    this.ctx.stats.complete(200, 0);
  }

  /** A throw while handling this request's downstream events: reported (BOWLINE_E_PROXY_INTERNAL), the request reset. */
  downstreamFault(where: string, err: unknown): void {
    reportInternalError(this.ctx, where, err);
    this.keepDownstream = false;
    try { this.fail(); } catch { this.ds.reset(); }
  }

  /** The response cannot be completed: reset the client's stream (HTTP/1.1: its connection). */
  private fail(code?: number): void {
    if (this.done) return;
    this.abortCall();
    this.ds.reset(code);
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.ctx.kept.keep(this, this.lastCall);
    this.report(NO_OUTCOME);
    if (this.retrySlot !== null) { this.ctx.clusters.releaseRetry(this.retrySlot); this.retrySlot = null; }
    this.clearTryTimer();
    this.clearRouteTimer();
    this.durationMs = performance.now() - this.t0;
    const stats = this.ctx.stats;
    stats.requestsActive--;
    stats.complete(this.status, this.flags);
    const hook = this.ctx.hooks.onRequestComplete;
    if (hook !== undefined) {
      try { hook(this); } catch (err) { this.ctx.log('hook', `onRequestComplete hook threw: ${String(err)}`); }
    }
    this.ds.finished();
  }
}
