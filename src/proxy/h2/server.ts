/**
 * HTTP/2 toward clients on our own codec (h2/wire/connection.ts in the server role): h2c with
 * prior knowledge, and h2 over TLS (the socket arrives terminated and checked, tls/downstream.ts).
 * Each client stream is a WireStream, the responder port (responder.ts) an Exchange drives (through stream-side.ts) on
 * the shared pipeline. Requests are checked per RFC 9113 8.3 (request.ts; malformed: RST_STREAM
 * PROTOCOL_ERROR), header lists over the listener's limit get 431, and a request starts on the
 * next turn of the event loop (one setImmediate per connection), so a stream the client resets
 * in the same read never reaches the pipeline or an upstream.
 *
 * Abuse ends the connection: the codec answers rapid reset, SETTINGS/PING floods, CONTINUATION
 * floods and oversized header blocks with GOAWAY ENHANCE_YOUR_CALM, and every other connection
 * error with the code RFC 9113 names; here refused and invalid streams are counted too
 * (`maxRejectedStreams`, `maxInvalidFrames`). After a connection-level GOAWAY the socket is
 * ended at once (the GOAWAY flushed first) and destroyed after a grace if the peer never closes.
 * Memory is bounded by the windows we grant: `initialWindowSize` per stream and
 * `maxSessionMemoryMb` for the connection; response bytes wait for the client's window, and
 * streams report backpressure while the socket's buffer is over its high-water mark.
 */
import type { Socket } from 'node:net';
import type { ListenerSlot, ProxyContext } from '../context.js';
import type { CompiledChain } from '../detect/chains.js';
import type { Headers } from '../http/head.js';
import type { RequestHead } from '../http/request-head.js';
import { run } from '../http/pipeline.js';
import { reportInternalError } from '../internal-error.js';
import { Flag } from '../record.js';
import { Exchange } from '../exchange/exchange.js';
import { H2StreamSide } from './stream-side.js';
import { notCarried } from './headers.js';
import { listSize, MalformedRequest, requestHead } from './request.js';
import type { H2RequestSink, H2Responder } from './responder.js';
import { H2Connection, type H2Handler } from './wire/connection.js';
import { ErrorCode, type H2Error } from './wire/errors.js';
import { RAPID_RESET } from './wire/limits.js';
import { ReceiveCredit } from './wire/receive-credit.js';

/** Defaults of a chain's HTTP/2 limits (HttpConnectionManager.http2). */
export const H2_DEFAULTS = { maxConcurrentStreams: 100, initialWindowSize: 1024 * 1024, maxSessionMemoryMb: 16, maxInvalidFrames: 100, maxRejectedStreams: 100 } as const;
/** Socket bytes buffered before streams report backpressure. */
const SOCKET_HIGH_WATER = 1024 * 1024;

/** [':status', status, name, value, ...] of a response head or ([] status) a trailer block. */
function flatResponse(status: number, h: Headers): string[] {
  const out: string[] = status > 0 ? [':status', String(status)] : [];
  const names = h.names;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (notCarried(n) || n === 'te') continue; // RFC 9113 8.2.2; `te` never on a response
    out.push(n, h.values[i]!);
  }
  return out;
}

/** A downstream HTTP/2 connection on our codec. */
export class WireServer implements H2Handler {
  readonly conn: H2Connection;
  private readonly streams = new Map<number, WireStream>();
  private starting: WireStream[] = [];
  private invalid = 0;
  private rejected = 0;
  private ended = false;
  private draining = false;
  /** A drain's deadline closed the connection (closeAtDeadline). */
  private cut = false;
  /** Bytes were read since the last idle probe. */
  private heard = true;
  private idleFor = 0;
  private blocked: WireStream[] = [];
  /** Request fields found valid at each position (request.ts: repeated fields are not scanned again). */
  private readonly validFields: string[] = [];
  private readonly remoteAddress: string;
  private readonly remote: string;

  constructor(
    readonly socket: Socket, private readonly slot: ListenerSlot, chain: CompiledChain, private readonly ctx: ProxyContext,
    private readonly secure: boolean, private readonly peerIdentity: string, private readonly onGone: (c: WireServer) => void,
  ) {
    // Written only when a connection ends or drains: given both values here, so V8 never tracks them as constants and
    // the first connection to close deoptimises nothing that reads them (write, among others) (http/downstream.ts, docs/performance.md "The first close").
    this.ended = true;
    this.ended = false;
    this.draining = true;
    this.draining = false;
    const h2 = chain.h2;
    this.limits = {
      invalid: h2?.maxInvalidFrames ?? H2_DEFAULTS.maxInvalidFrames,
      rejected: h2?.maxRejectedStreams ?? H2_DEFAULTS.maxRejectedStreams,
    };
    const initial = h2?.initialWindowSize ?? H2_DEFAULTS.initialWindowSize;
    this.conn = new H2Connection(this, {
      role: 'server',
      maxConcurrentStreams: h2?.maxConcurrentStreams ?? H2_DEFAULTS.maxConcurrentStreams,
      initialWindowSize: initial,
      connectionWindow: Math.max(initial, (h2?.maxSessionMemoryMb ?? H2_DEFAULTS.maxSessionMemoryMb) * 1024 * 1024),
      maxHeaderListSize: chain.http?.maxRequestHeadersBytes ?? 60 * 1024,
      batch: true,
    });
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remote = this.remoteAddress + ':' + (socket.remotePort ?? 0);
    const stats = ctx.stats;
    stats.h2SessionsTotal++;
    stats.h2SessionsActive++;
    ctx.stats.downstreamConnectionsTotal++;
    ctx.stats.downstreamConnectionsActive++;
    socket.on('data', (d: Buffer) => { this.heard = true; this.conn.receive(d); });
    socket.on('error', () => { /* the close follows */ });
    socket.on('drain', () => this.socketDrained());
    socket.once('close', () => {
      if (this.draining && !this.cut) stats.drainClosed++;
      stats.h2SessionsActive--;
      ctx.stats.downstreamConnectionsActive--;
      this.conn.destroy();
      this.onGone(this);
    });
    this.watchIdle(slot.current.idleTimeoutMs);
    this.conn.start();
    socket.resume();
    if (ctx.draining) this.drain();
  }

  private readonly limits: { invalid: number; rejected: number };

  /** Streams in flight. */
  get active(): number { return this.streams.size; }

  /** A drain (drain.ts) starts: GOAWAY NO_ERROR naming the last stream accepted; streams in flight finish, no new ones; the connection closes after the last. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.conn.goaway(ErrorCode.NO_ERROR);
  }

  /**
   * The drain's deadline: the streams still in flight are reset (RST_STREAM CANCEL, their exchanges end), a final GOAWAY
   * NO_ERROR names the last stream processed (as the first one did), then the socket is ended (destroyed by the drain's
   * close grace if the client does not close). False when the connection was closing already.
   */
  closeAtDeadline(): boolean {
    if (this.ended || this.conn.isClosed || this.socket.destroyed) return false;
    this.cut = true;
    this.conn.terminate();
    return true;
  }

  // ---------------------------------------------------------------- H2Handler

  /** Frames out: the codec batches a turn's frames (responses of every stream) into one write. */
  write(data: Buffer): boolean {
    const s = this.socket;
    if (s.destroyed || this.ended) return true;
    s.write(data);
    return s.writableLength === 0;
  }

  onHeaders(id: number, list: string[], endStream: boolean, oversized: boolean): void {
    const known = this.streams.get(id);
    if (known !== undefined) {
      // Request trailers: they end the body (not forwarded).
      if (endStream) known.deliverEnd();
      return;
    }
    const stats = this.ctx.stats;
    stats.h2StreamsTotal++;
    const lst = this.slot.current;
    if (oversized || listSize(list) > lst.maxRequestHeadersBytes) {
      stats.h2ProtocolErrors++;
      this.ctx.stats.downstreamProtocolErrors++;
      this.ctx.stats.complete(431, Flag.DPE);
      this.conn.respond(id, [':status', '431'], true);
      if (!endStream) this.conn.reset(id, ErrorCode.NO_ERROR);
      return;
    }
    const head = requestHead(list, endStream, this.secure, this.validFields);
    if (head instanceof MalformedRequest) {
      stats.h2ProtocolErrors++;
      this.ctx.stats.downstreamProtocolErrors++;
      this.ctx.log('h2bad:' + lst.name, `HTTP/2 request from ${this.remote} malformed: ${head.reason}; stream reset PROTOCOL_ERROR (BOWLINE_E_H2_MALFORMED)`);
      this.conn.reset(id, ErrorCode.PROTOCOL_ERROR);
      this.countInvalid();
      return;
    }
    const s = new WireStream(this, id, endStream, head.bodyKind === 1 ? head.contentLength : -1);
    s.head = head;
    this.streams.set(id, s);
    if (this.starting.length === 0) setImmediate(startAll, this);
    this.starting.push(s);
  }

  onData(id: number, data: Buffer, endStream: boolean): void {
    const s = this.streams.get(id);
    if (s === undefined) { this.conn.consumed(id, data.length); return; }
    s.deliver(data, endStream);
  }

  onReset(id: number, code: number, byPeer: boolean): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    this.streams.delete(id);
    this.ctx.stats.h2StreamsReset++;
    s.gone(code, byPeer);
  }

  onDrain(id: number): void {
    if (id === 0) return;
    this.streams.get(id)?.drained();
  }

  onStreamError(_id: number, code: number): void {
    if (code === ErrorCode.REFUSED_STREAM) {
      if (++this.rejected > this.limits.rejected) queueMicrotask(() => this.calm(`refused more than ${this.limits.rejected} streams`));
    } else {
      this.ctx.stats.h2ProtocolErrors++;
      this.countInvalid();
    }
  }

  onClose(err?: H2Error): void {
    if (err !== undefined) {
      const stats = this.ctx.stats;
      stats.h2ProtocolErrors++;
      const name = this.slot.current.name;
      if (err.message.endsWith(RAPID_RESET)) {
        stats.h2ResetFloods++;
        this.ctx.log('h2flood:' + name, `HTTP/2 connection from ${this.remote} reset too many streams early: GOAWAY ENHANCE_YOUR_CALM and close (BOWLINE_E_H2_RESET_FLOOD)`);
      } else {
        this.ctx.log('h2err:' + name, `HTTP/2 connection from ${this.remote} ended: ${err.message}`);
      }
    }
    this.end();
  }

  // ---------------------------------------------------------------- internals

  /** Ends the TCP connection after what was written (GOAWAY included); destroyed after the grace whatever the peer does. */
  private end(): void {
    if (this.ended) return;
    this.conn.flushOutput(); // the GOAWAY leaves ahead of the FIN
    this.ended = true;
    const s = this.socket;
    s.end();
    setTimeout(() => { if (!s.destroyed) s.destroy(); }, WIRE_CLOSE_GRACE_MS.value).unref();
  }

  private countInvalid(): void {
    if (++this.invalid > this.limits.invalid) queueMicrotask(() => this.calm(`sent more than ${this.limits.invalid} invalid frames or requests`));
  }

  private calm(why: string): void {
    if (this.conn.isClosed) return;
    this.ctx.stats.h2ProtocolErrors++;
    this.ctx.log('h2err:' + this.slot.current.name, `HTTP/2 connection from ${this.remote} ${why}: GOAWAY ENHANCE_YOUR_CALM and close`);
    this.conn.goaway(ErrorCode.ENHANCE_YOUR_CALM, why);
  }

  /** Starts the requests whose HEADERS arrived in the last turn (those still open). */
  startQueued(): void {
    const list = this.starting;
    this.starting = [];
    for (const s of list) {
      if (s.isClosed) continue;
      this.startOne(s);
    }
  }

  private startOne(s: WireStream): void {
    const ctx = this.ctx;
    ctx.stats.requestsTotal++;
    ctx.stats.requestsActive++;
    try {
      const head = s.head!;
      const side = new H2StreamSide(s, head, this.remoteAddress, this.remote, this.peerIdentity);
      const x = new Exchange(side, head, this.slot.current, ctx);
      side.attach(x);
      s.head = undefined;
      run(x);
    } catch (err) {
      reportInternalError(ctx, 'h2 downstream request', err);
      s.reset(ErrorCode.INTERNAL_ERROR);
    }
  }

  /** A request body did not match its content-length (the stream is reset PROTOCOL_ERROR). */
  malformedBody(): void {
    this.ctx.stats.h2ProtocolErrors++;
    this.ctx.stats.downstreamProtocolErrors++;
    this.ctx.log('h2bad:' + this.slot.current.name, `HTTP/2 request from ${this.remote} malformed: body length differs from content-length; stream reset PROTOCOL_ERROR (BOWLINE_E_H2_MALFORMED)`);
    this.countInvalid();
  }

  /** The stream finished normally (both sides ended). */
  finished(id: number): void { this.streams.delete(id); }

  /** A stream wants to know when the socket drains. */
  waitSocket(s: WireStream): void { if (!this.blocked.includes(s)) this.blocked.push(s); }

  /** Whether the socket's buffer is over its high-water mark. */
  get socketFull(): boolean { return this.socket.writableLength > SOCKET_HIGH_WATER; }

  private socketDrained(): void {
    const b = this.blocked;
    this.blocked = [];
    for (const s of b) s.drained();
  }

  /**
   * Idle handling: no streams for the idle timeout -> GOAWAY and close. Every probe interval
   * without traffic the client is PINGed; one that did not answer by the next probe is gone
   * (no FIN ever came) and the connection is destroyed.
   */
  private watchIdle(idleMs: number): void {
    const every = idleMs > 0 ? Math.min(idleMs, WIRE_PROBE_MS.value) : WIRE_PROBE_MS.value;
    const socket = this.socket;
    socket.setTimeout(every, () => {
      if (this.streams.size > 0) { this.idleFor = 0; this.heard = true; return; }
      if (!this.heard) { socket.destroy(); return; }
      this.idleFor += every;
      if (idleMs > 0 && this.idleFor >= idleMs) { this.conn.goaway(ErrorCode.NO_ERROR); return; }
      this.heard = false;
      this.conn.ping();
    });
  }
}

/** How long a connection may stay open after our GOAWAY ended it (the GOAWAY flushes first). */
export const WIRE_CLOSE_GRACE_MS = { value: 1000 };
/** How often an idle connection (no streams) is probed with a PING. */
export const WIRE_PROBE_MS = { value: 30_000 };

function startAll(srv: WireServer): void { srv.startQueued(); }

/** One client stream: the responder port over the codec; request body octets are credited back as ReceiveCredit says. */
export class WireStream extends ReceiveCredit implements H2Responder {
  /** The request head until the exchange starts. */
  head: RequestHead | undefined;
  private sink: H2RequestSink | undefined;
  private early: Buffer[] | undefined;
  private earlyEnd = false;
  private drainFns: Array<() => void> | undefined;
  private waitingWindow = false;
  private pendingEnd: Headers | null | undefined;
  private responded = false;
  private ended = false;
  private remoteEnded: boolean;
  private closedBy = -1;

  constructor(private readonly srv: WireServer, readonly id: number, endStream: boolean, private bodyLeft: number) {
    super();
    // -1 unless the stream is reset (rare): both values here, so the first reset deoptimises none of the getters reading it.
    this.closedBy = 0;
    this.closedBy = -1;
    this.remoteEnded = endStream;
    this.head = undefined;
  }

  /** Reset or finished. */
  get isClosed(): boolean { return this.closedBy >= 0 || (this.ended && this.remoteEnded); }

  get closed(): boolean { return this.closedBy >= 0 || this.ended || this.srv.conn.isClosed; }

  bind(sink: H2RequestSink): void {
    this.sink = sink;
    const early = this.early;
    this.early = undefined;
    let n = 0;
    if (early !== undefined) for (const b of early) { n += b.length; sink.onRequestData(b); }
    if (n > 0) this.received(n);
    if (this.earlyEnd) sink.onRequestEnd();
  }

  /** Body bytes from the client (checked against content-length: a mismatch is malformed, RFC 9113 8.1.1). */
  deliver(data: Buffer, endStream: boolean): void {
    if (this.bodyLeft >= 0) {
      this.bodyLeft -= data.length;
      if (this.bodyLeft < 0 || (endStream && this.bodyLeft !== 0)) {
        this.srv.malformedBody();
        this.srv.conn.consumed(this.id, data.length);
        this.reset(ErrorCode.PROTOCOL_ERROR);
        this.sink?.onStreamClosed(ErrorCode.PROTOCOL_ERROR, false);
        return;
      }
    }
    if (endStream) this.remoteEnded = true;
    const sink = this.sink;
    if (sink === undefined) {
      if (data.length > 0) (this.early ??= []).push(data);
      if (endStream) this.earlyEnd = true;
      return;
    }
    if (data.length > 0) {
      sink.onRequestData(data);
      this.received(data.length);
    }
    if (endStream) sink.onRequestEnd();
    if (this.ended && this.remoteEnded) this.srv.finished(this.id);
  }

  /** Request trailers ended the body. */
  deliverEnd(): void { this.deliver(EMPTY, true); }

  /** The codec reset the stream (client RST_STREAM, our error, connection gone). */
  gone(code: number, byPeer: boolean): void {
    if (this.closedBy >= 0) return;
    this.closedBy = code;
    this.drainFns = undefined;
    this.sink?.onStreamClosed(code, byPeer);
  }

  respond(status: number, headers: Headers, endStream: boolean): void {
    if (this.closed || this.responded) return;
    this.responded = true;
    this.srv.conn.respond(this.id, flatResponse(status, headers), endStream);
    if (endStream) this.localEnd();
  }

  write(chunk: Buffer): boolean {
    if (this.closed) return true;
    const ok = this.srv.conn.sendData(this.id, chunk, false);
    if (!ok) { this.waitingWindow = true; return false; }
    if (this.srv.socketFull) { this.srv.waitSocket(this); return false; }
    return true;
  }

  end(trailers?: Headers): void {
    if (this.closed) return;
    const t = trailers !== undefined && trailers.names.length > 0 ? trailers : null;
    // Trailers wait for the body queued behind the client's window; a plain end is queued behind it by the codec.
    if (t !== null && this.waitingWindow) { this.pendingEnd = t; return; }
    this.finish(t);
  }

  private finish(t: Headers | null): void {
    if (t !== null) this.srv.conn.respond(this.id, flatResponse(0, t), true);
    else this.srv.conn.sendData(this.id, EMPTY, true);
    this.localEnd();
  }

  private localEnd(): void {
    this.ended = true;
    if (this.remoteEnded) this.srv.finished(this.id);
  }

  onDrain(fn: () => void): void {
    if (this.closed || (!this.waitingWindow && !this.srv.socketFull)) { queueMicrotask(fn); return; }
    (this.drainFns ??= []).push(fn);
  }

  /** The codec sent what waited for window, or the socket drained. */
  drained(): void {
    this.waitingWindow = false;
    if (this.pendingEnd !== undefined) {
      const t = this.pendingEnd;
      this.pendingEnd = undefined;
      this.finish(t);
    }
    if (this.srv.socketFull) { this.srv.waitSocket(this); return; }
    const fns = this.drainFns;
    this.drainFns = undefined;
    if (fns !== undefined) for (const f of fns) f();
  }

  reset(code: number): void {
    if (this.closedBy >= 0) return;
    this.closedBy = code;
    this.drainFns = undefined;
    this.srv.finished(this.id);
    this.srv.conn.reset(this.id, code);
  }

  /** Request body octets go back to the client's window (none once the stream was reset). */
  protected credit(n: number): void {
    if (this.closedBy < 0) this.srv.conn.consumed(this.id, n);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * HTTP/2 toward clients for one proxy (ProxyContext.h2 once loaded: detect/h2-loader.ts loads
 * this module with the proxy's first HTTP/2 connection).
 */
export class H2ServerSide {
  constructor(private readonly ctx: ProxyContext) {}

  /**
   * Serves HTTP/2 on an accepted socket whose first bytes were put back: h2c with prior knowledge,
   * or (`secure`) a TLS socket that negotiated h2, already terminated and checked (`peerIdentity`).
   */
  serve(socket: Socket, slot: ListenerSlot, chain: CompiledChain, onGone: (c: WireServer) => void, secure = false, peerIdentity = ''): WireServer {
    return new WireServer(socket, slot, chain, this.ctx, secure, peerIdentity, onGone);
  }
}
