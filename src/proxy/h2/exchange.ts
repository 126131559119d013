/**
 * One HTTP/2 (or gRPC) request on the shared request pipeline. H2Exchange is an Exchange
 * (http/exchange.ts), so http/pipeline.ts runs the very same steps on it -- request id,
 * x-forwarded-*, route selection, fault injection, CORS, header operations, cluster check,
 * mirrors -- and only the last step's `startForward` and the local replies are HTTP/2's own:
 * the upstream call goes over a multiplexed HTTP/2 session (or HTTP/1.1 when the cluster
 * says so), bodies stream with flow control both ways, trailers pass through, retries use
 * the same `shouldRetry` policy, and gRPC requests get gRPC statuses for local replies
 * (trailers-only responses) and honour `grpc-timeout`.
 */
import type { UpstreamEndpoint } from '../cluster/index.js';
import type { HttpListenerRuntime, ProxyContext } from '../context.js';
import { upstreamTlsOf } from '../detect/chains.js';
import { applyHeaderMutation, isRetriable, retryBackoffMs, shouldRetry, type AttemptOutcome, type HeaderPair } from '../filters/index.js';
import { Exchange, MAX_REPLAY_BYTES, type DownstreamSide } from '../http/exchange.js';
import { Headers } from '../http/head.js';
import { BODY_LENGTH, BODY_NONE, type RequestHead } from '../http/request-head.js';
import { Flag } from '../record.js';
import { reportInternalError } from '../internal-error.js';
import { grpcCode, grpcFromHttp, grpcMessage, grpcTimeoutMs, isGrpc } from './grpc.js';
import { toNode } from './headers.js';
import { clusterCalls } from './upstream.js';
import type { CallSink, FailureKind, UpstreamCall, UpstreamRequest } from '../upstream/call.js';
import { h1Dispatch } from '../upstream/h1-call.js';
import { guardSink } from './guarded-sink.js';
import type { H2RequestSink, H2Responder } from './responder.js';
import { ErrorCode } from './wire/errors.js';

/** The downstream HTTP/2 stream as the base Exchange sees it (only addresses and flow control are used). */
export class H2StreamSide implements DownstreamSide {
  constructor(readonly remoteAddress: string, readonly remote: string, private readonly port: H2Responder) {}
  write(): boolean { return true; }
  cork(): void {}
  uncork(): void {}
  onDrain(fn: () => void): void { this.port.onDrain(fn); }
  finished(): void {}
  abort(): void { this.port.reset(ErrorCode.INTERNAL_ERROR); }
  pause(): void { this.port.pause(); }
  resume(): void { this.port.resume(); }
}

/** An HTTP/2 request in flight (see the header comment). */
export class H2Exchange extends Exchange implements CallSink, H2RequestSink {
  /** Telemetry's protocol label. */
  readonly protocol = 'HTTP/2';
  /** The request is gRPC (content-type application/grpc*). */
  readonly grpc: boolean;
  /** The client takes trailers (gRPC, or it sent `te: trailers`): responses wait for the upstream's. */
  private readonly wantsTrailers: boolean;
  /** grpc-status of the response ('' until known), for telemetry's grpc_response_status. */
  grpcStatus = '';
  private call: UpstreamCall | null = null;
  private pickedEp: UpstreamEndpoint | null = null;
  private cookieToSet: string | undefined;
  private replay: Buffer[] | null = [];
  private replayBytes = 0;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private streamedAny = false;
  private started = false;
  private trailers: Headers | null = null;
  private attemptTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private waitingDrain = false;
  private readonly begin = performance.now();
  private h1StaleRetried = false;

  constructor(
    head: RequestHead, lst: HttpListenerRuntime, ctx: ProxyContext,
    readonly port: H2Responder, remoteAddress: string, remote: string, private readonly onDone: () => void,
  ) {
    super(new H2StreamSide(remoteAddress, remote, port), head, lst, ctx);
    this.grpc = isGrpc(head.headers.get('content-type'));
    this.wantsTrailers = this.grpc || head.headers.get('te')?.toLowerCase() === 'trailers';
    port.bind(this);
  }

  // ------------------------------------------------------------------ H2RequestSink: no throw crosses these (internal-error.ts)

  /** Request body bytes from the client. */
  onRequestData(chunk: Buffer): void {
    try { this.requestData(chunk); } catch (err) { this.streamFailed(err); }
  }

  /** The client ended the request. */
  onRequestEnd(): void {
    try { this.requestEnd(); } catch (err) { this.streamFailed(err); }
  }

  /** The stream closed before this exchange finished (client reset, connection gone). */
  onStreamClosed(): void {
    if (this.done) return;
    this.flags |= Flag.DC;
    try { this.abortCall(); this.end(); } catch (err) { reportInternalError(this.ctx, 'h2 downstream stream close', err); }
  }

  /** A throw while handling the client's stream: reported, the upstream call aborted, the stream reset. */
  private streamFailed(err: unknown): void {
    reportInternalError(this.ctx, 'h2 downstream stream', err);
    try { this.abortCall(); this.resetDownstream(); } catch { this.port.reset(ErrorCode.INTERNAL_ERROR); }
  }

  // ------------------------------------------------------------------ request body

  private requestData(b: Buffer): void {
    this.bytesIn += b.length;
    if (this.replay !== null) {
      if (this.replayBytes + b.length <= MAX_REPLAY_BYTES) { this.replay.push(b); this.replayBytes += b.length; } else this.replay = null;
    }
    if (this.done) return;
    const call = this.call;
    if (call !== null) {
      this.streamedAny = true;
      if (!call.write(b)) { this.port.pause(); call.onDrain(() => this.port.resume()); }
      return;
    }
    this.queued.push(b);
    this.queuedBytes += b.length;
    if (this.queuedBytes > MAX_REPLAY_BYTES) this.port.pause();
  }

  private requestEnd(): void {
    this.bodyDone = true;
    if (!this.done) this.call?.end();
  }

  private canReplay(): boolean {
    return !this.streamedAny || (this.replay !== null && this.bodyDone);
  }

  // ------------------------------------------------------------------ upstream

  /** The pipeline's last step: start the deadline, then the first attempt. The HTTP/1.1 head text is not used. */
  override startForward(_upHead: string): void {
    let t = this.route!.timeoutMs;
    if (this.grpc) {
      const g = grpcTimeoutMs(this.head.headers.get('grpc-timeout'));
      if (g !== undefined && (t === 0 || g < t)) t = g;
    }
    if (t > 0) this.deadlineTimer = setTimeout(() => this.deadline(), t);
    this.tryOnce();
  }

  private tryOnce(): void {
    if (this.done) return;
    this.attempts++;
    this.ctx.stats.upstreamRequestsTotal++;
    const picked = this.ctx.clusters.pick(this.cluster, this);
    if (picked === undefined) return this.localReply(503, 'no healthy upstream', Flag.UH);
    const ep = picked.endpoint;
    if (picked.setCookie !== undefined) this.cookieToSet = picked.setCookie;
    this.pickedEp = ep;
    if (this.route!.retries !== undefined) (this.exclude ??= new Set()).add(ep);
    this.upstreamHost = ep.key;
    const state = this.ctx.clusters.get(this.cluster)!;
    const calls = clusterCalls(this.ctx, this.cluster, upstreamTlsOf(state.config))!;
    const d = this.forward!;
    const h = this.head.headers;
    if (this.route!.retries !== undefined) h.set('x-envoy-attempt-count', String(this.attempts));
    const body = this.attempts > 1 ? this.replay ?? [] : this.queued;
    const endNow = this.bodyDone && body.length === 0;
    let call: UpstreamCall | undefined;
    if (state.config.protocol === 'http1' || state.config.protocol === 'tcp') {
      const hk = this.head.bodyKind;
      const req: UpstreamRequest = {
        method: this.method, path: d.path, authority: d.authority, headers: h, connectionTokens: null,
        bodyLength: hk === BODY_NONE ? 0 : hk === BODY_LENGTH ? this.head.contentLength : -1, upgrade: undefined,
      };
      const c = h1Dispatch(this.ctx.pool(this.cluster), ep, req, guardSink(this, this.ctx, 'h1 upstream response'));
      if (c === 'overflow') {
        this.reportOutcome({});
        return this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', Flag.UO);
      }
      call = c;
    } else {
      call = calls.h2(ep, toNode(h, { ':method': this.method, ':path': d.path, ':authority': d.authority }), endNow, this);
      if (call === undefined) {
        this.reportOutcome({});
        return this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', Flag.UO);
      }
    }
    this.call = call;
    this.streamedAny = false;
    for (const b of body) { call.write(b); this.streamedAny = true; }
    this.queued = [];
    this.queuedBytes = 0;
    if (this.bodyDone && !endNow) call.end();
    else if (this.bodyDone && state.config.protocol === 'http1') call.end();
    this.port.resume();
    const per = this.route!.retries?.perTryTimeoutMs ?? 0;
    if (per > 0) this.attemptTimer = setTimeout(() => this.perTryTimeout(), per);
  }

  private reportOutcome(o: AttemptOutcome): void {
    const ep = this.pickedEp;
    if (ep === null) return;
    this.pickedEp = null;
    this.ctx.clusters.report(ep, o);
  }

  private abortCall(): void {
    const c = this.call;
    this.call = null;
    c?.abort();
  }

  private clearAttemptTimer(): void {
    if (this.attemptTimer !== null) { clearTimeout(this.attemptTimer); this.attemptTimer = null; }
  }

  /** Retries when the policy, the method and the body allow it; true when a retry was scheduled. */
  private again(o: AttemptOutcome): boolean {
    const policy = this.route?.retries;
    if (policy === undefined || this.done || this.started || !this.canReplay()) return false;
    // A gRPC status is the server's own word that the call failed: retried whatever the method (all gRPC calls are POST), as Envoy does.
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
    this.clearAttemptTimer();
    setTimeout(() => this.tryOnce(), retryBackoffMs(this.attempts, this.ctx.random, policy.backoffBaseMs));
    return true;
  }

  private perTryTimeout(): void {
    this.attemptTimer = null;
    if (this.done || this.started) return;
    const o: AttemptOutcome = { timeout: true };
    this.reportOutcome(o);
    this.abortCall();
    if (this.again(o)) return;
    this.localReply(504, 'upstream request timeout', Flag.UT);
  }

  private deadline(): void {
    this.deadlineTimer = null;
    if (this.done) return;
    this.reportOutcome({ timeout: true });
    this.abortCall();
    this.localReply(504, 'upstream request timeout', Flag.UT);
  }

  // ------------------------------------------------------------------ CallSink: the upstream response

  /** Upstream response head. */
  onResponse(status: number, h: Headers, endStream: boolean): void {
    if (this.done) return;
    this.clearAttemptTimer();
    const gs = h.get('grpc-status');
    const outcome: AttemptOutcome = { status };
    if (gs !== undefined && /^\d+$/.test(gs)) outcome.grpcStatus = Number(gs);
    this.reportOutcome(outcome);
    if (this.route?.retries !== undefined && this.again(outcome)) return;
    if (gs !== undefined) this.grpcStatus = gs;
    this.started = true;
    this.status = status;
    const route = this.route;
    if (route?.headers?.response !== undefined) applyHeaderMutation(route.headers.response, h);
    const dh = this.forward?.destinationHeaders?.response;
    if (dh !== undefined) applyHeaderMutation(dh, h);
    if (this.corsHeaders !== undefined) for (const [n, v] of this.corsHeaders) h.set(n, v);
    if (this.cookieToSet !== undefined) h.add('set-cookie', this.cookieToSet);
    const hook = this.ctx.hooks.onResponseHeaders;
    if (hook !== undefined) {
      try { hook(this, h); } catch (err) { this.ctx.log('hook', `onResponseHeaders hook threw: ${String(err)}`); }
    }
    if (this.port.closed) return;
    try {
      // Trailers-only (gRPC errors) or an empty response: one HEADERS frame that ends the stream.
      // Trailers are relayed to clients that can take them (gRPC, or `te: trailers`); waiting for
      // them costs an extra HEADERS frame per response, so other responses end with their last DATA.
      this.port.respond(status, h, endStream, this.wantsTrailers);
    } catch (err) {
      this.ctx.log('h2respond', `cannot send response head: ${String(err)}`);
      this.abortCall();
      this.flags |= Flag.UPE;
      this.resetDownstream();
      return;
    }
    if (endStream) {
      this.call = null;
      this.end();
    }
  }

  /** Upstream body bytes; false asks the upstream to pause until the client reads. */
  onData(chunk: Buffer): boolean {
    if (this.done || !this.started) return true;
    this.bytesOut += chunk.length;
    const ok = this.port.write(chunk);
    if (!ok && !this.waitingDrain) {
      this.waitingDrain = true;
      this.port.onDrain(() => { this.waitingDrain = false; this.call?.resume(); });
    }
    return ok;
  }

  /** Upstream trailers (gRPC status lives here). */
  onTrailers(t: Headers): void {
    this.trailers = t;
    const gs = t.get('grpc-status');
    if (gs !== undefined) this.grpcStatus = gs;
  }

  /** The upstream response completed. */
  onEnd(): void {
    if (this.done || !this.started) return;
    this.call = null;
    if (!this.port.closed) this.port.end(this.wantsTrailers && this.trailers !== null ? this.trailers : undefined);
    this.end();
  }

  /** The upstream call failed. */
  onFailure(failure: FailureKind, message: string): void {
    if (this.done) return;
    this.call = null;
    this.clearAttemptTimer();
    if (failure === 'stale' && !this.h1StaleRetried && this.canReplay()) {
      // A reused keep-alive connection the upstream had closed while idle: sent once more, not an attempt of its own.
      this.h1StaleRetried = true;
      this.reportOutcome({});
      this.attempts--;
      this.tryOnce();
      return;
    }
    if (failure === 'protocol') {
      this.ctx.log('upe:' + this.cluster, `${message} from ${this.upstreamHost} (cluster ${this.cluster})`);
      this.reportOutcome({ reset: true });
      if (this.started) { this.flags |= Flag.UPE; this.resetDownstream(); return; }
      return this.localReply(502, 'upstream protocol error', Flag.UPE);
    }
    const kind = failure === 'connect-timeout' ? 'connect' : failure === 'stale' ? 'reset' : failure;
    if (this.started) {
      this.flags |= Flag.UC;
      this.ctx.stats.upstreamResets++;
      this.resetDownstream();
      return;
    }
    const o: AttemptOutcome = kind === 'connect' ? { connectFailure: true } : kind === 'refused' ? { refusedStream: true } : { reset: true };
    this.reportOutcome(o);
    if (kind === 'connect') this.flags |= Flag.UF; else this.ctx.stats.upstreamResets++;
    this.ctx.log(kind + ':' + this.cluster, `upstream ${this.upstreamHost} (cluster ${this.cluster}): ${message}`);
    if (this.again(o)) return;
    const reason = kind === 'connect' ? 'connection failure' : kind === 'refused' ? 'remote refused stream reset' : 'connection termination';
    this.localReply(503, `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`, kind === 'connect' ? Flag.UF : Flag.UC);
  }

  // ------------------------------------------------------------------ endings

  /** Answers locally; gRPC requests get a trailers-only response with a gRPC status. */
  override localReply(status: number, body: string, flag: number, extra?: HeaderPair[], contentType = 'text/plain'): void {
    if (this.done) return;
    this.flags |= flag;
    this.abortCall();
    if (this.started) { this.resetDownstream(); return; }
    this.started = true;
    const s = this.port;
    if (s.closed) { this.end(); return; }
    try {
      const h = new Headers();
      if (this.grpc) {
        const code = this.grpcCodeFor(status, flag);
        this.grpcStatus = String(code);
        this.status = 200;
        h.add('content-type', 'application/grpc');
        h.add('grpc-status', String(code));
        h.add('grpc-message', grpcMessage(body || `${status}`));
        s.respond(200, h, true, false);
      } else {
        this.status = status;
        if (extra !== undefined) for (const [n, v] of extra) h.set(n, v);
        const len = Buffer.byteLength(body);
        if (len > 0) h.set('content-type', contentType);
        h.set('content-length', String(len));
        if (this.method === 'HEAD' || len === 0) s.respond(status, h, true, false);
        else { s.respond(status, h, false, false); s.write(Buffer.from(body)); s.end(); this.bytesOut += len; }
      }
    } catch (err) {
      this.ctx.log('h2local', `cannot send a local reply: ${String(err)}`);
    }
    this.end();
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

  /** A fault abort with an HTTP/2 error code: the stream is reset with it (flag FI), nothing is answered. */
  override faultReset(code: number): void {
    if (this.done) return;
    this.flags |= Flag.FI;
    this.abortCall();
    this.port.reset(code);
    this.end();
  }

  /** The client went away (the stream's close handler covers it); kept for the base contract. */
  override onDownstreamClose(): void {
    if (this.done) return;
    this.flags |= Flag.DC;
    this.abortCall();
    this.end();
  }

  private resetDownstream(): void {
    this.port.reset(ErrorCode.INTERNAL_ERROR);
    this.end();
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    this.reportOutcome({});
    if (this.retrySlot !== null) { this.ctx.clusters.releaseRetry(this.retrySlot); this.retrySlot = null; }
    this.clearAttemptTimer();
    if (this.deadlineTimer !== null) { clearTimeout(this.deadlineTimer); this.deadlineTimer = null; }
    this.durationMs = performance.now() - this.begin;
    const stats = this.ctx.stats;
    stats.requestsActive--;
    stats.complete(this.status, this.flags);
    const hook = this.ctx.hooks.onRequestComplete;
    if (hook !== undefined) {
      try { hook(this); } catch (err) { this.ctx.log('hook', `onRequestComplete hook threw: ${String(err)}`); }
    }
    this.onDone();
  }
}
