/**
 * One client connection of an HTTP listener: reads bytes, parses request heads, decodes the
 * request body's framing (content-length, chunked) for the request in flight, and keeps
 * pipelined requests in order (the next head is parsed only after the current response
 * completed). Malformed heads get 400 and a close. It is the HTTP/1.1 responder of the request
 * in flight (exchange/responder.ts): response framing (content-length, chunked, close-delimited
 * for HTTP/1.0), keep-alive, 100-continue, the raw pipe after a 101, CONNECT tunnels.
 */
import type { Socket } from 'node:net';
import type { ListenerSlot, ProxyContext } from '../context.js';
import { Flag } from '../record.js';
import { Exchange } from '../exchange/exchange.js';
import type { Responder } from '../exchange/responder.js';
import { ChunkedDecoder } from './chunked.js';
import { HeadError, isDecimal15, type Headers } from './head.js';
import { run } from './pipeline.js';
import { EOH_FOUND, headEndState, scanHeadEnd } from './head-end.js';
import { reportInternalError } from '../internal-error.js';
import { BODY_CHUNKED, BODY_LENGTH, parseRequestHead, type RequestHead } from './request-head.js';
import { endToEndFields, REASONS, responseHead, type Framing } from './serialize.js';
import { realTimers, type ProxyTimers } from '../timers.js';
import type { IdleSweep, Sweepable } from './idle-sweep.js';
import { emitDataEvents, isShared, own, ReadViews, readIntoShared, sharedReadBuffer } from './socket-read.js';
import { flushAtTurnEnd, HeldBatch, readEnd, readStart, writeBatch, type HeldWrites } from './turn-writes.js';

/** The read buffer of every downstream connection read below node's streams (socket-read.ts). */
const READ = sharedReadBuffer();
const READ_VIEWS = new ReadViews(READ);
const EMPTY = Buffer.alloc(0);

/** Pause reading when this many bytes of later pipelined requests are waiting. */
const MAX_BUFFERED = 64 * 1024;
/**
 * Writes of one event-loop turn up to this many bytes are held and written once at the turn's
 * end (turn-writes.ts): a response head and its body (or several pipelined responses) cost one
 * write system call and none of node's cork/writev bookkeeping. Beyond it (or at the socket's own
 * high-water mark) writes go to the socket as they come, so backpressure is never hidden.
 */
const BATCH_BYTES = 16 * 1024;

const FRAME_NONE: Framing = { kind: 'none' };
const FRAME_CHUNKED: Framing = { kind: 'chunked' };
const FRAME_CLOSE: Framing = { kind: 'close' };
const FRAME_EMPTY: Framing = Object.freeze({ kind: 'length', length: 0 });
const LAST_CHUNK = '0\r\n\r\n';
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** Serves HTTP/1.1 on one accepted socket; the responder of its request in flight. */
export class Downstream implements Responder, HeldWrites, Sweepable {
  readonly protocol = 'HTTP/1.1';
  /** HTTP/1.1 drops trailers. */
  readonly wantsTrailers = false;
  readonly remoteAddress: string;
  readonly remote: string;
  /** The client's verified SPIFFE id when the connection came over mTLS (set by detect/dispatch.ts), else ''. */
  peerIdentity = '';
  /** A captured connection's original destination (set by detect/dispatch.ts), for passthrough. */
  capturedDst: { address: string; port: number } | undefined;
  /** Continues a CONNECT tunnel as a new connection to host:port (set on outbound listeners by detect/dispatch.ts). */
  tunnelTo: ((socket: Socket, initial: Buffer, host: string, port: number, from: Downstream) => void) | undefined;
  private buf: Buffer | null = null;
  /** Chunks that arrived after `buf`, joined only when they can complete a head (or a request is in flight). */
  private more: Buffer[] | null = null;
  private moreBytes = 0;
  /** -1: parse the next bytes from their start; else the end-of-head scan state of an incomplete head (head-end.ts). */
  private eoh = -1;
  /** Runs from the first bytes of an incomplete head until the head is complete (requestHeadersTimeoutMs). */
  private headTimer: unknown = null;
  private readonly timers: ProxyTimers;
  private x: Exchange | null = null;
  private closed = false;
  private paused = false;
  private parsing = false;
  private drainWaiters: Array<() => void> | null = null;
  // --- the request in flight: its body framing, and its response's
  private head: RequestHead | null = null;
  /** Request body bytes are still expected (after a 101: until the tunnel closes). */
  private reading = false;
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | null = null;
  /** The connection carries raw bytes both ways (after a 101). */
  private raw = false;
  private chunkedOut = false;
  /** The response head allowed keep-alive. */
  private keepAfter = false;
  /** drain() came: the response in flight or the next one closes the connection (drain.ts). */
  private drainAfter = false;
  /** The response in flight carries `connection: close` only because of a drain (counted in drainClosed at its end). */
  private drainClose = false;
  /** Writes held until the end of the turn (strings are latin1: one byte per character). */
  private readonly batch = new HeldBatch();
  /** The proxy's idle sweep (http/idle-sweep.ts), once this connection has an idle timeout. */
  private sweep: IdleSweep | null = null;
  /** idleTimeoutMs of the listener (0: none), checked by the idle sweep. */
  private idleMs = 0;
  /** Bytes arrived or a request ended since the last sweep. */
  private active = true;
  /** The time of the first sweep that found the connection inactive (the idle period started before it). */
  private idleSince = 0;
  /** The length framing of this connection's responses, set for each (read by responseHead at once: no object per response). */
  private readonly lengthFraming = { kind: 'length' as const, length: 0 };
  /** The socket reads into the shared buffer READ: bytes kept past a read are copied. */
  private readonly shared: boolean;

  constructor(readonly socket: Socket, private readonly slot: ListenerSlot, private readonly ctx: ProxyContext, private readonly onGone: (d: Downstream) => void) {
    // V8 tracks a field as a constant until it is first given another value, and TurboFan folds such constants into
    // the code it optimises; the first store of another value throws that code away ("code dependencies" in
    // --trace-deopt). `closed` is false for a connection's whole life but its last moment, and `eoh` stays -1 while
    // heads arrive whole, so the first connection to close deoptimised the request path (respond, send, next, onRead,
    // the exchange's responseDone) and the next requests ran in the interpreter until V8 optimised it again. Given two
    // values here, they are ordinary fields from the first connection on (docs/performance.md, "The first close").
    this.closed = true;
    this.closed = false;
    this.eoh = 0;
    this.eoh = -1;
    this.timers = ctx.timers ?? realTimers;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remote = this.remoteAddress + ':' + (socket.remotePort ?? 0);
    socket.setNoDelay(true);
    ctx.stats.downstreamConnectionsTotal++;
    ctx.stats.downstreamConnectionsActive++;
    // No throw crosses these callbacks (a try costs nothing until something throws): internal-error.ts.
    // Accepted sockets, plain or terminated TLS, read into the shared buffer (no stream machinery, no buffer per read); others read `data` events.
    this.shared = readIntoShared(socket, READ, (n, b) => { this.onRead(n, b); });
    if (!this.shared) socket.on('data', (chunk: Buffer) => { try { this.onData(chunk); } catch (err) { this.internalError(err); } });
    else if (socket.readableLength > 0) {
      // Bytes protocol detection read and gave back: handled when 'data' would have delivered them (after the caller's set-up).
      const first = socket.read() as Buffer | null;
      if (first !== null) process.nextTick(() => { if (!this.closed) { try { this.onData(first); } catch (err) { this.internalError(err); } } });
    }
    socket.on('error', () => {});
    socket.on('close', () => this.onClose());
    socket.on('drain', () => { try { this.onSocketDrain(); } catch (err) { this.internalError(err); } });
    const idle = slot.current.idleTimeoutMs;
    if (idle > 0) { this.idleMs = idle; this.sweep = this.ctx.idleSweep; this.sweep.add(this, idle); }
  }

  /** True while a request is in flight on this connection. */
  get busy(): boolean {
    return this.x !== null;
  }

  /** One read into the shared buffer: handled like a `data` chunk, then what is kept of it is copied. */
  private onRead(n: number, b: Buffer): void {
    readStart();
    try {
      this.onData(READ_VIEWS.of(b, n));
    } catch (err) {
      this.internalError(err);
    } finally {
      readEnd();
    }
    const buf = this.buf;
    if (buf !== null && isShared(buf, READ)) this.buf = Buffer.from(buf);
  }

  private onData(chunk: Buffer): void {
    this.active = true;
    const x = this.x;
    if (x !== null && this.reading) {
      const at = this.body(x, chunk, 0, chunk.length);
      if (at < 0 || at === chunk.length) return;
      chunk = chunk.subarray(at);
    }
    if (this.closed) return;
    if (this.buf === null) this.buf = chunk;
    else { (this.more ??= []).push(this.shared ? own(chunk, READ) : chunk); this.moreBytes += chunk.length; }
    if (this.x === null) {
      // An incomplete head is parsed again only when its end (or its size limit) may have arrived.
      if (this.eoh >= 0 && (this.eoh = scanHeadEnd(chunk, this.eoh)) !== EOH_FOUND
        && this.buf.length + this.moreBytes < this.slot.current.maxRequestHeadersBytes) return;
      this.next();
    } else if (this.buf.length + this.moreBytes > MAX_BUFFERED) this.pause();
  }

  /** Parses and starts requests from the buffer while no request is in flight. */
  private next(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      while (this.buf !== null && this.x === null && !this.closed) {
        if (this.more !== null) this.join();
        const buf = this.buf;
        const lst = this.slot.current;
        const r = parseRequestHead(buf, 0, buf.length, lst.maxRequestHeadersBytes);
        if (r === null) return this.awaitHead(buf, lst.requestHeadersTimeoutMs);
        if (r instanceof HeadError) return this.reject(r);
        if (this.eoh >= 0 || this.headTimer !== null) this.headComplete();
        this.buf = r.headEnd < buf.length ? buf.subarray(r.headEnd) : null;
        this.ctx.stats.requestsTotal++;
        this.ctx.stats.requestsActive++;
        this.startRequest(r);
        const x = new Exchange(this, r, lst, this.ctx);
        this.x = x;
        // Body bytes that came with the head go first, so the upstream gets head and body in one write.
        const rest = this.buf as Buffer | null;
        if (rest !== null && this.reading) {
          this.buf = null;
          const at = this.body(x, rest, 0, rest.length);
          if (at >= 0 && at < rest.length) this.buf = rest.subarray(at);
        }
        if (!x.done) run(x);
      }
    } finally {
      this.parsing = false;
    }
  }

  /** Per-request state for a new head. */
  private startRequest(r: RequestHead): void {
    this.head = r;
    this.reading = r.bodyKind === BODY_LENGTH || r.bodyKind === BODY_CHUNKED;
    this.bodyRemaining = r.contentLength;
    this.decoder = r.bodyKind === BODY_CHUNKED ? new ChunkedDecoder() : null;
    this.raw = false;
    this.chunkedOut = false;
    this.keepAfter = false;
  }

  /** Request body bytes in [start, end): unframed to the exchange (copied out of the shared read buffer); returns the offset after this body's bytes, -1 on error. */
  private body(x: Exchange, buf: Buffer, start: number, end: number): number {
    if (this.raw) {
      x.requestData(own(start === 0 && end === buf.length ? buf : buf.subarray(start, end), READ));
      return end;
    }
    const d = this.decoder;
    if (d === null) {
      const n = Math.min(this.bodyRemaining, end - start);
      if (n > 0) x.requestData(own(start === 0 && n === buf.length ? buf : buf.subarray(start, start + n), READ));
      this.bodyRemaining -= n;
      if (this.bodyRemaining === 0 && this.reading && !this.raw) { this.reading = false; x.requestEnd(); }
      return start + n;
    }
    const at = d.push(buf, start, end, (b, s, e) => x.requestData(own(b.subarray(s, e), READ)));
    if (at < 0) {
      this.reading = false;
      x.requestInvalid(`invalid chunked encoding: ${d.error}\n`);
      return -1;
    }
    if (d.done && this.reading) { this.reading = false; this.decoder = null; x.requestEnd(); }
    return at;
  }

  private join(): void {
    this.buf = Buffer.concat([this.buf!, ...this.more!], this.buf!.length + this.moreBytes);
    this.more = null;
    this.moreBytes = 0;
  }

  /** `buf` starts an incomplete head: drop leading empty lines (RFC 9112 2.2), note where the end-of-head scan stands, start the headers timer. */
  private awaitHead(buf: Buffer, timeoutMs: number): void {
    if (this.headTimer === null && timeoutMs > 0) this.headTimer = this.timers.setTimeout(() => this.onHeadTimeout(timeoutMs), timeoutMs);
    let p = 0;
    while (p + 1 < buf.length && buf[p] === 13 && buf[p + 1] === 10) p += 2;
    this.buf = p === buf.length ? null : p > 0 ? buf.subarray(p) : buf;
    this.eoh = this.buf === null ? -1 : headEndState(this.buf);
  }

  private headComplete(): void {
    this.eoh = -1;
    if (this.headTimer !== null) { this.timers.clearTimeout(this.headTimer); this.headTimer = null; }
  }

  /** The head did not complete within requestHeadersTimeoutMs (Envoy's request_headers_timeout): 408 and close. */
  private onHeadTimeout(ms: number): void {
    this.headTimer = null;
    if (this.x !== null || this.closed) return;
    this.ctx.stats.downstreamHeadersTimeouts++;
    this.ctx.stats.complete(408, 0);
    this.answerAndClose(408, 'Request Timeout', `request headers not complete within ${ms} ms (BOWLINE_E_HTTP_HEADERS_TIMEOUT)\n`);
  }

  private reject(e: HeadError): void {
    this.ctx.stats.downstreamProtocolErrors++;
    this.ctx.stats.complete(400, Flag.DPE);
    this.answerAndClose(e.status, 'Bad Request', `${e.message} (${e.code})\n`);
  }

  private answerAndClose(status: number, reason: string, body: string): void {
    this.flushBatch();
    this.headComplete();
    this.socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    this.closed = true;
    this.buf = null;
    this.more = null;
    this.moreBytes = 0;
  }

  // ------------------------------------------------------------------ Responder (the request in flight)

  respond(status: number, headers: Headers, end: boolean, reason?: string): void {
    const r = this.head!;
    const x = this.x!;
    if (status === 101) {
      this.raw = true;
      this.reading = true;
      this.send('HTTP/1.1 101 ' + (reason || 'Switching Protocols') + '\r\n' + endToEndFields(headers, null) + 'connection: upgrade\r\nupgrade: ' + (headers.get('upgrade') ?? r.upgrade) + '\r\n\r\n');
      return;
    }
    const http10 = r.version === 10;
    const reusable = x.keepDownstream && r.keepAlive && (x.flags & Flag.DPE) === 0 && (!x.local || !this.reading);
    const draining = this.ctx.draining || this.drainAfter;
    let keep = reusable && !draining;
    let framing: Framing;
    if (end) framing = status === 204 || status === 304 || r.method === 'HEAD' ? FRAME_NONE : FRAME_EMPTY;
    else {
      const cl = headers.get('content-length');
      if (cl !== undefined && isDecimal15(cl)) { framing = this.lengthFraming; this.lengthFraming.length = Number(cl); }
      else if (http10) { framing = FRAME_CLOSE; keep = false; }
      else { framing = FRAME_CHUNKED; this.chunkedOut = true; }
    }
    this.keepAfter = keep;
    // The connection closes after this response because of the drain alone (drainClosed, counted when it closes).
    this.drainClose = reusable && draining && framing !== FRAME_CLOSE;
    // HEAD and 304 keep the upstream's Content-Length (it describes the representation).
    const text = responseHead(status, reason || REASONS[status] || 'Unknown', endToEndFields(headers, null, framing === FRAME_NONE ? 'content-length' : undefined), framing, keep, http10);
    // The head waits for the body bytes of the same turn (one write at the turn's end), never longer.
    this.send(text);
  }

  /** Response body bytes in the response's framing (chunked when the length is unknown); a string is written as is. */
  write(data: string | Buffer): boolean {
    if (!this.chunkedOut || typeof data === 'string') return this.send(data);
    this.send(data.length.toString(16) + '\r\n');
    this.send(data);
    return this.send('\r\n');
  }

  end(_trailers?: Headers): void {
    if (this.chunkedOut) { this.chunkedOut = false; this.send(LAST_CHUNK); }
  }

  continue(): void {
    const r = this.head;
    if (r !== null && r.expectContinue && r.version === 11 && this.reading) this.send(CONTINUE);
  }

  reset(_code?: number): void {
    this.abort();
  }

  /** Bytes to the client: held until the end of the turn (turn-writes.ts), or written through past the batch limit. */
  private send(data: string | Buffer): boolean {
    if (this.closed && this.socket.destroyed) return true;
    const n = data.length;
    const held = this.batch.bytes;
    if (held + n <= BATCH_BYTES && this.socket.writableLength + held + n < this.socket.writableHighWaterMark) {
      if (this.batch.hold(data)) flushAtTurnEnd(this);
      return true;
    }
    this.flushBatch();
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  /** The end of the turn: writes what was held. */
  flushHeld(): void {
    try {
      this.flushBatch();
    } catch (err) {
      this.internalError(err);
    }
  }

  /** Writes what is held, as one buffer. */
  private flushBatch(): void {
    if (this.socket.destroyed) { this.batch.drop(); return; }
    writeBatch(this.socket, this.batch);
  }

  onDrain(fn: () => void): void {
    (this.drainWaiters ??= []).push(fn);
  }

  private onSocketDrain(): void {
    const w = this.drainWaiters;
    if (w === null) return;
    this.drainWaiters = null;
    for (const fn of w) fn();
  }

  finished(): void {
    const x = this.x;
    if (x === null) return;
    this.x = null;
    this.active = true;
    const keepAlive = this.keepAfter && !this.reading && !this.raw && x.keepDownstream && !this.ctx.draining && !this.drainAfter;
    this.head = null;
    this.decoder = null;
    if (!keepAlive || this.closed) {
      if (this.drainClose && !this.closed) this.ctx.stats.drainClosed++;
      this.flushBatch();
      this.closed = true;
      this.buf = null;
      this.more = null;
      this.socket.end();
      return;
    }
    this.resume();
    if (this.buf !== null) this.next();
  }

  abort(): void {
    this.batch.drop();
    this.closed = true;
    this.socket.destroy();
  }

  pause(): void {
    if (!this.paused) { this.paused = true; this.socket.pause(); }
  }

  resume(): void {
    if (this.paused) { this.paused = false; this.socket.resume(); }
  }

  /**
   * `CONNECT host:port` on an outbound listener: answers 200 and hands the socket, with any bytes
   * that followed the head, to the listener's chains as a connection to host:port. Without
   * chains to route it (a plain HTTP listener from a config file), 405.
   */
  tunnel(host: string, port: number): void {
    const x = this.x!;
    const to = this.tunnelTo;
    if (to === undefined) { x.localReply(405, 'CONNECT needs a listener with filter chains (docs/proxy-config.md)\n', 0); return; }
    if (this.more !== null) this.join();
    this.flushBatch();
    const initial = this.buf === null ? EMPTY : own(this.buf, READ);
    this.buf = null;
    x.handedOff();
    this.x = null;
    this.closed = true;
    this.headComplete();
    const s = this.socket;
    for (const ev of ['data', 'close', 'drain', 'timeout']) s.removeAllListeners(ev);
    if (this.shared) emitDataEvents(s);
    this.sweep?.delete(this);
    this.ctx.stats.downstreamConnectionsActive--;
    s.write('HTTP/1.1 200 Connection established\r\n\r\n');
    // The tunnel takes this connection's place in the listener's set (and in a drain under way) before it leaves.
    to(s, initial, host, port, this);
    this.onGone(this);
  }

  /**
   * Graceful drain (drain.ts): the response in flight, or the next one, carries `connection: close` and the connection
   * closes after it. An idle connection is not closed here: a request the client sent before it could know is answered;
   * the drain's idle grace (drainIdle) closes it if none comes.
   */
  drain(): void {
    this.drainAfter = true;
  }

  /** The drain's idle grace ended: close if no request is in flight and no head has begun (a keep-alive connection left idle). */
  drainIdle(): void {
    if (this.x !== null || this.closed || this.buf !== null) return;
    this.ctx.stats.drainClosed++;
    this.flushBatch();
    this.closed = true;
    this.socket.end();
  }

  /** The idle sweep at `now`: a keep-alive connection with no request in flight and no bytes for idleTimeoutMs is closed. */
  sweepIdle(now: number): void {
    if (this.active || this.x !== null) { this.active = false; this.idleSince = now; return; }
    if (now - this.idleSince >= this.idleMs) this.socket.destroy();
  }

  private onClose(): void {
    this.sweep?.delete(this);
    this.closed = true;
    this.headComplete();
    this.ctx.stats.downstreamConnectionsActive--;
    const x = this.x;
    this.x = null;
    if (x !== null) {
      try { x.clientGone(); } catch (err) { reportInternalError(this.ctx, 'http1 downstream close', err); }
    }
    this.onGone(this);
  }

  /** Something threw while handling this connection's bytes: count and log it, then reset the connection (its request, if any, ends DC). */
  private internalError(err: unknown): void {
    reportInternalError(this.ctx, 'http1 downstream', err);
    this.abort();
  }
}
