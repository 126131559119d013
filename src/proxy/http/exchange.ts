/**
 * One request's life on the data path: its body streamed from downstream to upstream, the
 * upstream attempt(s) on pooled keep-alive sockets, the response streamed back, local replies,
 * timeouts, retries and the per-request record. The order of the steps is in pipeline.ts;
 * this file is the machinery the steps drive. No exception escapes: failures become a local
 * reply with a response flag, or a reset when the response already started.
 *
 * Retries and request bodies: a request is retried only while its body is replayable -- no
 * body, or a body of at most 64 KiB that is kept in memory as it streams (the received views,
 * no concatenation). Once a larger body has started flowing upstream, the attempt is final.
 * Retry eligibility by condition and method is proxy-routing's `shouldRetry`.
 */
import { cookieFromHeader, type PickContext, type UpstreamEndpoint } from '../cluster/index.js';
import type { ProxyContext, HttpListenerRuntime } from '../context.js';
import { Flag, type RequestRecord } from '../record.js';
import { reportInternalError } from '../internal-error.js';
import { parseQuery, type CompiledRoute, type ForwardDecision } from '../router/index.js';
import { applyHeaderMutation, isRetriable, retryBackoffMs, shouldRetry, type AttemptOutcome, type HeaderPair } from '../filters/index.js';
import type { ClusterPool, ConnOwner, UpstreamConn, Waiter } from '../upstream/pool.js';
import { ChunkedDecoder } from './chunked.js';
import { h2UpstreamFor } from '../h2/bridge.js';
import { HeadError } from './head.js';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, type RequestHead } from './request-head.js';
import { parseResponseHead, RBODY_CHUNKED, RBODY_CLOSE, RBODY_LENGTH, RBODY_NONE, type ResponseHead } from './response-head.js';
import { endToEndFields, REASONS, responseHead, type Framing } from './serialize.js';

/** Largest request body kept for replay on retry. */
export const MAX_REPLAY_BYTES = 64 * 1024;
/** Largest response head accepted from an upstream. */
const MAX_RESPONSE_HEAD = 64 * 1024;
const FRAME_NONE: Framing = { kind: 'none' };
const FRAME_CHUNKED: Framing = { kind: 'chunked' };
const FRAME_CLOSE: Framing = { kind: 'close' };
const LAST_CHUNK = '0\r\n\r\n';

/** The downstream side as an exchange sees it (implemented by Downstream). */
export interface DownstreamSide {
  readonly remoteAddress: string;
  readonly remote: string;
  /** Writes bytes to the client; false when the socket buffer is full. */
  write(data: string | Buffer): boolean;
  cork(): void;
  uncork(): void;
  /** Calls `fn` once the client socket drained. */
  onDrain(fn: () => void): void;
  /** The exchange is complete; `keepAlive` false closes the connection. */
  finished(x: Exchange, keepAlive: boolean): void;
  /** Destroys the client connection (response cannot be completed). */
  abort(): void;
  pause(): void;
  resume(): void;
  /** Turns the connection into a TCP tunnel to host:port after `CONNECT` (detect/tunnel.ts); absent: not supported. */
  tunnel?(x: Exchange, host: string, port: number): void;
}

/** A request in flight. Fields are public for the pipeline steps (pipeline.ts). */
export class Exchange implements ConnOwner, Waiter, RequestRecord, PickContext {
  // --- record fields (RequestRecord)
  startTime = Date.now();
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
  peerIdentity = '';
  listener: string;
  attempts = 0;
  telemetry: unknown = undefined;
  // --- routing state set by the pipeline
  route: CompiledRoute | undefined;
  forward: ForwardDecision | undefined;
  /** CORS headers to add to the response. */
  corsHeaders: HeaderPair[] | undefined;
  /** Where the pipeline resumes after an asynchronous step (fault delay). */
  resumeAt = 0;
  done = false;
  /** The cluster whose retry slot (maxRetries circuit breaker) this request holds, from its first retry to its end. */
  retrySlot: string | null = null;
  /** Endpoints tried by earlier attempts (load balancers avoid them on retries). */
  exclude: Set<UpstreamEndpoint> | undefined;
  /** The original destination of a captured connection (set by the downstream), for passthrough clusters. */
  capturedDst: { address: string; port: number } | undefined;
  /** The checked passthrough destination (pipeline `cluster` step) an `original_dst` cluster connects to. */
  originalDst: { address: string; port: number } | undefined;
  // --- request body
  private bodyRemaining: number;
  private decoder: ChunkedDecoder | null = null;
  bodyDone: boolean;
  /** Body views kept for replay (null once the body outgrew MAX_REPLAY_BYTES). */
  private held: Buffer[] | null = [];
  private heldBytes = 0;
  /** Body views received but not yet written upstream (no connection yet). */
  private unsent: Buffer[] = [];
  private unsentBytes = 0;
  /** Body bytes already written upstream in the current attempt. */
  private sentAny = false;
  // --- upstream
  private up: UpstreamConn | null = null;
  private pool: ClusterPool | null = null;
  private waiting = false;
  /** The endpoint of the current attempt until its outcome is reported (exactly once per pick). */
  private picked: UpstreamEndpoint | null = null;
  /** A Set-Cookie the load balancer asked to add (consistent hash on an absent cookie). */
  private setCookie: string | undefined;
  private queryMap: Map<string, string> | undefined;
  private upHead = '';
  private tryTimer: NodeJS.Timeout | null = null;
  private routeTimer: NodeJS.Timeout | null = null;
  private upPaused = false;
  /** Reading the client is paused until the upstream socket drains (request body backpressure). */
  private bodyPaused = false;
  private tunneling = false;
  // --- response
  private resBuf: Buffer | null = null;
  private res: ResponseHead | null = null;
  private resRemaining = 0;
  private resDecoder: ChunkedDecoder | null = null;
  private resChunkedOut = false;
  private resStarted = false;
  private keepDownstream = true;
  private readonly t0 = performance.now();

  constructor(readonly ds: DownstreamSide, readonly head: RequestHead, readonly lst: HttpListenerRuntime, readonly ctx: ProxyContext) {
    this.method = head.method;
    this.authority = head.authority;
    this.path = head.path;
    this.downstreamRemote = ds.remote;
    this.listener = lst.name;
    this.bodyRemaining = head.contentLength;
    this.bodyDone = head.bodyKind === BODY_NONE;
    if (head.bodyKind === BODY_CHUNKED) this.decoder = new ChunkedDecoder();
    if (head.bodyKind === BODY_LENGTH && head.contentLength > MAX_REPLAY_BYTES) this.held = null;
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

  // ------------------------------------------------------------------ request body (downstream)

  /** Body bytes from the client; returns the offset after the bytes that belonged to this body, -1 on error. */
  onBody(buf: Buffer, start: number, end: number): number {
    if (this.tunneling) {
      const up = this.up;
      // Backpressure both ways (a peer that never reads holds the other side): pause the client until the upstream drains.
      if (up !== null && !up.socket.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end))) {
        this.ds.pause();
        up.socket.once('drain', () => this.ds.resume());
      }
      return end;
    }
    if (this.decoder === null) {
      const n = Math.min(this.bodyRemaining, end - start);
      if (n > 0) this.bodyData(buf.subarray(start, start + n));
      this.bodyRemaining -= n;
      if (this.bodyRemaining === 0) this.bodyEnd();
      return start + n;
    }
    const at = this.decoder.push(buf, start, end, (b, s, e) => this.bodyData(b.subarray(s, e)));
    if (at < 0) {
      this.ctx.stats.downstreamProtocolErrors++;
      this.keepDownstream = false;
      this.dropUpstream();
      this.localReply(400, `invalid chunked encoding: ${this.decoder.error}\n`, Flag.DPE);
      return -1;
    }
    if (this.decoder.done) this.bodyEnd();
    return at;
  }

  private bodyData(b: Buffer): void {
    this.bytesIn += b.length;
    if (this.held !== null) {
      if (this.heldBytes + b.length <= MAX_REPLAY_BYTES) {
        this.held.push(b);
        this.heldBytes += b.length;
      } else {
        this.held = null;
      }
    }
    if (this.done) return;
    const up = this.up;
    if (up !== null && !this.waiting) {
      this.sentAny = true;
      if (!this.writeBody(up, b) && !this.bodyPaused) {
        // The upstream pushes back: stop reading the client until it drained.
        this.bodyPaused = true;
        this.ds.pause();
        up.socket.once('drain', () => { this.bodyPaused = false; this.ds.resume(); });
      }
      return;
    }
    this.unsent.push(b);
    this.unsentBytes += b.length;
    if (this.unsentBytes > MAX_REPLAY_BYTES) this.ds.pause();
  }

  private bodyEnd(): void {
    this.bodyDone = true;
    const up = this.up;
    if (up !== null && !this.waiting && this.head.bodyKind === BODY_CHUNKED && !this.done) up.socket.write(LAST_CHUNK);
  }

  /** Writes one body piece upstream in the request's framing. */
  private writeBody(up: UpstreamConn, b: Buffer): boolean {
    if (this.head.bodyKind !== BODY_CHUNKED) return up.socket.write(b);
    up.socket.write(b.length.toString(16) + '\r\n');
    up.socket.write(b);
    return up.socket.write('\r\n');
  }

  /** Whether the body can be sent again from the start. */
  private replayable(): boolean {
    return !this.sentAny || (this.held !== null && (this.bodyDone || this.head.bodyKind === BODY_LENGTH));
  }

  // ------------------------------------------------------------------ upstream attempts

  /** Starts forwarding: route timeout, then the first attempt. Called by the pipeline's last step. */
  startForward(upHead: string): void {
    this.upHead = upHead;
    const t = this.route!.timeoutMs;
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
    if (this.route!.retries !== undefined) (this.exclude ??= new Set()).add(ep);
    this.upstreamHost = ep.key;
    // HTTP/2 clusters (protocol http2, h2Upgrade) get a bridge onto a multiplexed HTTP/2 session (h2/bridge.ts).
    const pool = (this.pool = h2UpstreamFor(this) ?? this.ctx.pool(this.cluster));
    const got = pool.acquire(ep, this);
    if (got === 'overflow') {
      return this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', Flag.UO);
    }
    const per = this.route!.retries?.perTryTimeoutMs ?? 0;
    if (per > 0) this.tryTimer = setTimeout(() => this.tryTimeout(), per);
    if (got === 'wait') this.waiting = true;
    else this.onConnection(got);
  }

  /** Pool callback: a connection for this attempt. */
  onConnection(conn: UpstreamConn): void {
    this.waiting = false;
    if (this.done) { conn.pool.release(conn, true); return; }
    conn.owner = this;
    this.up = conn;
    this.sentAny = false;
    const s = conn.socket;
    s.cork();
    s.write(this.route!.retries !== undefined ? this.withAttemptCount() : this.upHead, 'latin1');
    const parts = this.attempts > 1 || this.unsent.length === 0 ? this.held ?? [] : this.unsent;
    for (const b of parts) { this.writeBody(conn, b); this.sentAny = true; }
    this.unsent = [];
    this.unsentBytes = 0;
    if (this.bodyDone && this.head.bodyKind === BODY_CHUNKED) s.write(LAST_CHUNK);
    s.uncork();
    this.ds.resume();
  }

  private withAttemptCount(): string {
    return this.upHead.slice(0, -2) + 'x-envoy-attempt-count: ' + this.attempts + '\r\n\r\n';
  }

  /** Pool callback: connecting failed (UF). */
  onConnectFailure(reason: 'refused' | 'timeout', message: string): void {
    this.waiting = false;
    if (this.done) return;
    this.ctx.log('connect:' + this.cluster, `upstream connect failure to ${this.upstreamHost} (cluster ${this.cluster}): ${message}`);
    const outcome: AttemptOutcome = { connectFailure: true };
    this.report(outcome);
    this.flags |= Flag.UF;
    if (this.retry(outcome)) return;
    this.localReply(503, `upstream connect error or disconnect/reset before headers. reset reason: connection ${reason === 'timeout' ? 'timeout' : 'failure'}`, Flag.UF);
  }

  /** Decides on a retry after a failed attempt; schedules it and returns true, or returns false. */
  private retry(o: AttemptOutcome): boolean {
    const policy = this.route?.retries;
    if (policy === undefined || this.done || this.resStarted) return false;
    if (!this.replayable()) return false;
    if (!shouldRetry(policy, o, this.attempts, this.method)) {
      if (isRetriable(policy, o) && this.attempts > policy.attempts) this.flags |= Flag.URX;
      return false;
    }
    if (this.retrySlot === null) {
      if (!this.ctx.clusters.acquireRetry(this.cluster)) { this.ctx.stats.upstreamRetryOverflow++; return false; }
      this.retrySlot = this.cluster;
    }
    this.ctx.stats.upstreamRetries++;
    this.dropUpstream();
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
    this.dropUpstream();
    if (this.retry(o)) return;
    this.localReply(504, 'upstream request timeout', Flag.UT);
  }

  private routeTimeout(): void {
    this.routeTimer = null;
    if (this.done) return;
    this.flags |= Flag.UT;
    this.report({ timeout: true });
    this.dropUpstream();
    if (this.resStarted) return this.fail();
    this.localReply(504, 'upstream request timeout', Flag.UT);
  }

  /** Detaches and closes the current upstream connection (or withdraws from the pool queue). */
  private dropUpstream(): void {
    if (this.waiting && this.pool !== null) { this.pool.cancel(this); this.waiting = false; }
    const up = this.up;
    if (up === null) return;
    this.up = null;
    up.owner = null;
    up.destroy();
  }

  private clearTryTimer(): void {
    if (this.tryTimer !== null) { clearTimeout(this.tryTimer); this.tryTimer = null; }
  }

  // ------------------------------------------------------------------ upstream response

  /** Bytes from the upstream connection (the pool's socket callback: nothing thrown gets past here). */
  onUpstreamData(chunk: Buffer): void {
    try { this.upstreamData(chunk); } catch (err) { this.internalError('http1 upstream response', err); }
  }

  /**
   * A throw escaped the handling of an upstream event: counted and logged (BOWLINE_E_PROXY_INTERNAL);
   * the client gets a 500 with `connection: close`, or a reset once its response started or when
   * even that fails.
   */
  private internalError(where: string, err: unknown): void {
    reportInternalError(this.ctx, where, err);
    try {
      this.dropUpstream();
      this.keepDownstream = false;
      if (!this.done) { this.localReply(500, 'internal error\n', 0); return; }
    } catch { /* reset below */ }
    this.ds.abort();
  }

  private upstreamData(chunk: Buffer): void {
    if (this.tunneling) {
      if (!this.ds.write(chunk) && this.up !== null && !this.upPaused) {
        const us = this.up.socket;
        this.upPaused = true;
        us.pause();
        this.ds.onDrain(() => { this.upPaused = false; us.resume(); });
      }
      return;
    }
    if (this.res === null) this.responseHead(chunk);
    else this.responseBody(chunk, 0);
  }

  private responseHead(chunk: Buffer): void {
    const buf = this.resBuf === null ? chunk : Buffer.concat([this.resBuf, chunk]);
    const r = parseResponseHead(buf, 0, buf.length, this.method, MAX_RESPONSE_HEAD);
    if (r === null) { this.resBuf = buf; return; }
    this.resBuf = null;
    if (r instanceof HeadError) {
      this.ctx.log('upe:' + this.cluster, `${r.message} from ${this.upstreamHost} (cluster ${this.cluster})`);
      this.report({ reset: true });
      this.dropUpstream();
      return this.localReply(502, 'upstream protocol error', Flag.UPE);
    }
    if (r.status < 200 && !(r.status === 101 && this.head.upgrade !== undefined)) {
      if (r.headEnd < buf.length) this.upstreamData(buf.subarray(r.headEnd));
      return; // interim responses (100, 103) are not forwarded
    }
    this.clearTryTimer();
    const outcome: AttemptOutcome = { status: r.status };
    this.report(outcome);
    if (this.route?.retries !== undefined && this.retry(outcome)) return;
    this.res = r;
    this.status = r.status;
    if (r.status === 101) return this.startTunnel(r, buf);
    this.writeResponseHead(r, buf.length > r.headEnd ? buf : null);
  }

  private writeResponseHead(r: ResponseHead, buf: Buffer | null): void {
    const h = r.headers;
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
    let framing: Framing;
    const http10 = this.head.version === 10;
    if (r.bodyKind === RBODY_LENGTH) framing = { kind: 'length', length: r.contentLength };
    else if (r.bodyKind === RBODY_NONE) framing = r.status === 204 || r.status === 304 || this.method === 'HEAD' ? FRAME_NONE : { kind: 'length', length: 0 };
    else if (http10) { framing = FRAME_CLOSE; this.keepDownstream = false; }
    else { framing = FRAME_CHUNKED; this.resChunkedOut = true; }
    if (r.bodyKind === RBODY_CHUNKED) this.resDecoder = new ChunkedDecoder();
    this.resRemaining = r.contentLength;
    const keep = this.keepDownstream && this.head.keepAlive && !this.ctx.draining;
    // HEAD and 304 keep the upstream's Content-Length (it describes the representation).
    const fields = endToEndFields(h, r.connectionTokens, framing === FRAME_NONE ? 'content-length' : undefined);
    const text = responseHead(r.status, r.reason || REASONS[r.status] || 'Unknown', fields, framing, keep, http10);
    this.resStarted = true;
    this.ds.cork();
    this.ds.write(text);
    if (r.bodyKind === RBODY_NONE) {
      this.ds.uncork();
      this.responseDone();
      return;
    }
    if (buf !== null) this.responseBody(buf, r.headEnd);
    this.ds.uncork();
  }

  private responseBody(buf: Buffer, start: number): void {
    const r = this.res!;
    if (r.bodyKind === RBODY_LENGTH) {
      const n = Math.min(this.resRemaining, buf.length - start);
      this.send(start === 0 && n === buf.length ? buf : buf.subarray(start, start + n));
      this.resRemaining -= n;
      if (this.resRemaining === 0) {
        if (start + n < buf.length) r.keepAlive = false; // bytes past the body: never reuse
        this.responseDone();
      }
    } else if (r.bodyKind === RBODY_CHUNKED) {
      const d = this.resDecoder!;
      const at = d.push(buf, start, buf.length, (b, s, e) => this.send(b.subarray(s, e)));
      if (at < 0) {
        this.ctx.log('upe:' + this.cluster, `invalid chunked response from ${this.upstreamHost}: ${d.error}`);
        this.flags |= Flag.UPE;
        this.dropUpstream();
        return this.fail();
      }
      if (d.done) {
        if (at < buf.length) r.keepAlive = false;
        this.responseDone();
      }
    } else if (r.bodyKind === RBODY_CLOSE) {
      this.send(start === 0 ? buf : buf.subarray(start));
    }
  }

  /** Sends response body bytes downstream, framed, with backpressure on the upstream socket. */
  private send(b: Buffer): void {
    if (b.length === 0) return;
    this.bytesOut += b.length;
    let ok: boolean;
    if (this.resChunkedOut) {
      this.ds.write(b.length.toString(16) + '\r\n');
      this.ds.write(b);
      ok = this.ds.write('\r\n');
    } else {
      ok = this.ds.write(b);
    }
    if (!ok && !this.upPaused && this.up !== null) {
      this.upPaused = true;
      const s = this.up.socket;
      s.pause();
      this.ds.onDrain(() => { this.upPaused = false; s.resume(); });
    }
  }

  private responseDone(): void {
    if (this.resChunkedOut) this.ds.write(LAST_CHUNK);
    const up = this.up;
    this.up = null;
    if (up !== null) {
      if (this.upPaused) up.socket.resume();
      up.pool.release(up, this.res!.keepAlive && this.bodyDone);
    }
    this.complete(this.keepDownstream && this.head.keepAlive && this.bodyDone && !this.ctx.draining);
  }

  /** Pool callback: the upstream connection closed while this request owned it. */
  onUpstreamClose(err: Error | undefined): void {
    try { this.upstreamClosed(err); } catch (e) { this.internalError('http1 upstream close', e); }
  }

  private upstreamClosed(_err: Error | undefined): void {
    const up = this.up;
    this.up = null;
    if (this.done) return;
    if (this.tunneling) { this.fail(); return; }
    const r = this.res;
    if (r !== null && r.bodyKind === RBODY_CLOSE) {
      r.keepAlive = false;
      this.responseDone();
      return;
    }
    this.ctx.stats.upstreamResets++;
    if (r === null) {
      const o: AttemptOutcome = { reset: true };
      // A reused keep-alive socket that died before answering: the upstream closed it while idle.
      // Safe to send again once on a fresh connection when the body can be replayed.
      if (up !== null && up.reused && this.resBuf === null && this.replayable() && !this.staleRetried) {
        this.staleRetried = true;
        this.clearTryTimer();
        this.report({});
        this.attempts--;
        this.attempt();
        return;
      }
      this.report(o);
      this.ctx.log('reset:' + this.cluster, `upstream ${this.upstreamHost} (cluster ${this.cluster}) reset before the response head`);
      if (this.retry(o)) return;
      return this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination', Flag.UC);
    }
    this.flags |= Flag.UC;
    this.ctx.log('reset:' + this.cluster, `upstream ${this.upstreamHost} (cluster ${this.cluster}) closed mid-response`);
    this.fail();
  }

  private staleRetried = false;

  // ------------------------------------------------------------------ upgrades (WebSocket)

  private startTunnel(r: ResponseHead, buf: Buffer): void {
    this.tunneling = true;
    this.resStarted = true;
    this.keepDownstream = false;
    this.clearRouteTimer();
    const fields = endToEndFields(r.headers, r.connectionTokens);
    this.ds.write('HTTP/1.1 101 ' + (r.reason || 'Switching Protocols') + '\r\n' + fields + 'connection: upgrade\r\nupgrade: ' + (r.headers.get('upgrade') ?? this.head.upgrade) + '\r\n\r\n');
    if (r.headEnd < buf.length) this.ds.write(buf.subarray(r.headEnd));
    this.bodyDone = false; // downstream bytes now flow to the upstream through onBody
    // Idle tunnels close after the listener's idle timeout: the upstream socket sees every byte either way.
    const idle = this.lst.idleTimeoutMs;
    if (idle > 0 && this.up !== null) this.up.socket.setTimeout(idle, () => this.fail());
  }

  // ------------------------------------------------------------------ endings

  /** Answers locally (404 NR, 503 UH, ...). When the response already started, resets instead. */
  localReply(status: number, body: string, flag: number, extra?: HeaderPair[], contentType = 'text/plain'): void {
    if (this.done) return;
    this.flags |= flag;
    this.dropUpstream();
    if (this.resStarted) return this.fail();
    this.status = status;
    const keep = this.keepDownstream && this.head.keepAlive && this.bodyDone && !this.ctx.draining && (flag & Flag.DPE) === 0;
    let fields = '';
    if (extra !== undefined) for (const [n, v] of extra) fields += n + ': ' + v + '\r\n';
    const len = Buffer.byteLength(body);
    if (len > 0) fields += 'content-type: ' + contentType + '\r\n';
    this.resStarted = true;
    const noBody = this.method === 'HEAD';
    this.ds.write(responseHead(status, REASONS[status] ?? 'Unknown', fields, { kind: 'length', length: len }, keep, this.head.version === 10) + (noBody ? '' : body));
    this.bytesOut += noBody ? 0 : len;
    this.complete(keep);
  }

  /** A fault abort with an HTTP/2 error code (flag FI): no response; an HTTP/1.1 connection is closed (H2Exchange resets the stream with `code`). */
  faultReset(_code: number): void {
    if (this.done) return;
    this.flags |= Flag.FI;
    this.keepDownstream = false;
    this.fail();
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

  /** The client went away before the response completed (DC). */
  onDownstreamClose(): void {
    if (this.done) return;
    if (!this.tunneling) this.flags |= Flag.DC;
    this.dropUpstream();
    this.finish();
  }

  /** The response cannot be completed: reset the client connection. */
  private fail(): void {
    if (this.done) return;
    this.dropUpstream();
    this.finish();
    this.ds.abort();
  }

  private complete(keepAlive: boolean): void {
    if (this.done) return;
    this.finish();
    this.ds.finished(this, keepAlive);
  }

  private clearRouteTimer(): void {
    if (this.routeTimer !== null) { clearTimeout(this.routeTimer); this.routeTimer = null; }
  }

  private finish(): void {
    this.done = true;
    this.report({});
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
  }
}
