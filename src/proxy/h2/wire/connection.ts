/**
 * One HTTP/2 connection as a state machine without I/O (RFC 9113): bytes in through
 * `receive()`, bytes out through the handler's `write()`, events to the handler. Either role:
 * a client opens odd streams with `request()`, a server answers with `respond()`. It keeps the
 * stream states (idle, open, half-closed, closed), connection and stream flow control in both
 * directions (DATA beyond a window is queued until WINDOW_UPDATE; received DATA is credited
 * back as the handler consumes it), SETTINGS (ACKs, initial window changes, max frame size,
 * HPACK table size), PING, GOAWAY, RST_STREAM, and refuses PUSH_PROMISE (we always send
 * SETTINGS_ENABLE_PUSH 0). Protocol violations end in RST_STREAM or GOAWAY with the code
 * RFC 9113 names; floods (rapid reset, SETTINGS/PING, CONTINUATION, oversized header blocks)
 * end in GOAWAY ENHANCE_YOUR_CALM (limits.ts). Header lists over SETTINGS_MAX_HEADER_LIST_SIZE
 * reach the handler flagged `oversized` (a server answers 431), the block still decoded.
 */
import { ErrorCode, H2Error, errorName } from './errors.js';
import {
  DEFAULT_MAX_FRAME_SIZE, Flag, FrameReader, FrameType, FrameWriter, MAX_WINDOW, PREFACE, Setting,
  encodeGoaway, encodePing, encodeSettings, parseFrame, type Frame,
} from './frame.js';
import { HpackDecoder, HpackEncoder, maxBlockLength } from './hpack.js';
import { FloodGuard, H2_LIMITS, RAPID_RESET, type H2Limits } from './limits.js';

/** What the connection tells its owner. */
export interface H2Handler {
  /**
   * Bytes to send, in order. Return true when the transport took them all and keeps no
   * reference (a synchronous socket write with nothing left queued): the buffer is reused.
   */
  write(data: Buffer): boolean | void;
  /** A header block: request (server), response or informational response (client), or trailers (`endStream`). */
  onHeaders(streamId: number, headers: string[], endStream: boolean, oversized: boolean): void;
  /** Body bytes; call `consumed(streamId, data.length)` once they are processed (flow control). */
  onData(streamId: number, data: Buffer, endStream: boolean): void;
  /** The stream ended abnormally: the peer reset it, we reset it for an error, or GOAWAY refused it. */
  onReset(streamId: number, code: number, byPeer: boolean): void;
  /** More send window: queued DATA of `streamId` went out (0: the connection window grew). */
  onDrain?(streamId: number): void;
  /** The peer sent GOAWAY: streams above `lastStreamId` we opened were refused (onReset REFUSED_STREAM). */
  onGoaway?(lastStreamId: number, code: number, debug: string): void;
  /** The connection is over (after GOAWAY either way, or a connection error); close the transport. */
  onClose(error?: H2Error): void;
  /** The peer's SETTINGS arrived (the first one completes the handshake). */
  onSettings?(): void;
  /** We sent RST_STREAM `code` for the peer's error on `streamId` (REFUSED_STREAM: over our concurrency limit). */
  onStreamError?(streamId: number, code: number): void;
}

/** Options (every field has a default). */
export interface H2Options {
  role: 'client' | 'server';
  /** SETTINGS_MAX_CONCURRENT_STREAMS we advertise (server: streams beyond are refused). */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE we advertise (per-stream receive window). */
  initialWindowSize?: number;
  /** Our connection receive window (raised from 65,535 by a WINDOW_UPDATE at start). */
  connectionWindow?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce. */
  maxHeaderListSize?: number;
  /** SETTINGS_HEADER_TABLE_SIZE we advertise (our decoder's table). */
  headerTableSize?: number;
  limits?: Partial<H2Limits>;
  /** Clock for the flood windows (tests inject one). */
  now?: () => number;
  /**
   * Hand the handler what was written once per event-loop turn (process.nextTick) instead of
   * after every call: one socket write for all the frames of a turn. `flushOutput()` writes now.
   */
  batch?: boolean;
}

interface Stream {
  id: number;
  /** We sent END_STREAM. */
  localEnded: boolean;
  /** The peer sent END_STREAM. */
  remoteEnded: boolean;
  /** A non-informational header block arrived (the next one is trailers). */
  headersIn: boolean;
  sendWindow: number;
  /** Receive window left before the next WINDOW_UPDATE we send. */
  recvWindow: number;
  /** Octets received and consumed but not yet credited back. */
  unacked: number;
  queue: Buffer[];
  queued: number;
  endQueued: boolean;
}

const DEFAULT_WINDOW = 65_535;
/** The queue of a stream that never queued DATA (most streams send one frame; the array is made on first use). */
const NO_QUEUE: Buffer[] = [];

/** An HTTP/2 connection (see the module comment). */
export class H2Connection {
  private readonly reader: FrameReader;
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  private readonly guard: FloodGuard;
  private readonly limits: H2Limits;
  private readonly streams = new Map<number, Stream>();
  /** Streams we reset recently: their in-flight frames are dropped silently. */
  private readonly resetByUs = new Set<number>();
  private readonly w = new FrameWriter();
  private readonly batch: boolean;
  private flushQueued = false;
  private prefaceLeft: number;
  private gotSettings = false;
  private nextId: number;
  private maxPeerId = 0;
  /** Peer's settings. */
  private peerMaxStreams = 100;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvWindow: number;
  private connUnacked = 0;
  private readonly ourInitialWindow: number;
  private readonly ourMaxStreams: number;
  private readonly connWindowTarget: number;
  /** Header block being assembled (HEADERS without END_HEADERS, then CONTINUATION). */
  private block: { streamId: number; endStream: boolean; parts: Buffer[]; size: number; frames: number; push: boolean } | undefined;
  private goawaySent = false;
  /** The last stream id our GOAWAY named (streams the peer opened after it were ignored; a later GOAWAY names it again). */
  private goawayLastId = 0;
  private goawayReceived = false;
  private closed = false;
  private draining: number[] = [];

  constructor(private readonly handler: H2Handler, opts: H2Options) {
    // Written only when a connection ends: given both values here, so V8 never tracks them as constants and the first
    // connection to close deoptimises nothing that reads them (http/downstream.ts, docs/performance.md "The first close").
    this.closed = true;
    this.closed = false;
    this.goawaySent = true;
    this.goawaySent = false;
    this.goawayReceived = true;
    this.goawayReceived = false;
    this.nextId = opts.role === 'client' ? 1 : 2;
    this.prefaceLeft = opts.role === 'server' ? PREFACE.length : 0;
    this.ourInitialWindow = opts.initialWindowSize ?? DEFAULT_WINDOW;
    this.ourMaxStreams = opts.maxConcurrentStreams ?? 100;
    this.connWindowTarget = Math.max(DEFAULT_WINDOW, opts.connectionWindow ?? DEFAULT_WINDOW);
    this.connRecvWindow = this.connWindowTarget;
    this.limits = { ...H2_LIMITS, ...opts.limits };
    this.guard = new FloodGuard(this.limits, opts.now ?? Date.now);
    this.decoder = new HpackDecoder(opts.headerTableSize ?? 4096, opts.maxHeaderListSize ?? 65_536);
    this.reader = new FrameReader((t, f, s, p) => this.onFrameOrStreamError(t, f, s, p));
    this.role = opts.role;
    this.batch = opts.batch === true;
    this.settings = [
      [Setting.ENABLE_PUSH, 0],
      [Setting.MAX_CONCURRENT_STREAMS, this.ourMaxStreams],
      [Setting.INITIAL_WINDOW_SIZE, this.ourInitialWindow],
      [Setting.MAX_HEADER_LIST_SIZE, this.decoder.maxHeaderListSize],
    ];
    if (opts.headerTableSize !== undefined) this.settings.push([Setting.HEADER_TABLE_SIZE, opts.headerTableSize]);
  }

  private readonly role: 'client' | 'server';
  /** The list sendHeaders() is encoding (read by encodeHeaders, one function per connection). */
  private pendingHeaders: readonly string[] = [];
  private readonly encodeHeaders = (target: Buffer, at: number): number => this.encoder.encodeAt(this.pendingHeaders, target, at);
  private readonly settings: Array<[number, number]>;

  /** Sends our preface (client: the magic + SETTINGS; server: SETTINGS) and the connection window. */
  start(): void {
    if (this.role === 'client') this.w.raw(PREFACE);
    this.w.raw(encodeSettings(this.settings));
    if (this.connWindowTarget > DEFAULT_WINDOW) this.w.frame32(FrameType.WINDOW_UPDATE, 0, 0, this.connWindowTarget - DEFAULT_WINDOW);
    this.flush();
  }

  /** Streams open now. */
  get activeStreams(): number { return this.streams.size; }

  /** True when `request()` may open another stream (no GOAWAY either way, under the peer's limit). */
  get canRequest(): boolean { return !this.closed && !this.goawayReceived && !this.goawaySent && this.streams.size < this.peerMaxStreams && this.nextId <= MAX_WINDOW; }

  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS. */
  get peerMaxConcurrentStreams(): number { return this.peerMaxStreams; }

  /** Whether the connection is over. */
  get isClosed(): boolean { return this.closed; }

  /** Feeds bytes from the transport. Errors become RST_STREAM / GOAWAY; never throws. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      if (this.prefaceLeft > 0) {
        const off = PREFACE.length - this.prefaceLeft;
        const n = Math.min(this.prefaceLeft, chunk.length);
        if (!chunk.subarray(0, n).equals(PREFACE.subarray(off, off + n))) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
        this.prefaceLeft -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) return;
      }
      this.reader.push(chunk);
    } catch (err) {
      this.fail(err);
    }
    this.flush();
  }

  /** Client: opens a stream with a request head ([name, value, ...], pseudo-headers first); its id. */
  request(headers: string[], endStream: boolean): number {
    if (this.role !== 'client') throw new Error('request() on a server connection');
    if (!this.canRequest) throw new Error('cannot open a stream (GOAWAY, closed, or at the peer\'s concurrency limit)');
    const id = this.nextId;
    this.nextId += 2;
    const s = this.newStream(id);
    this.sendHeaders(s, headers, endStream);
    this.flush();
    return id;
  }

  /** Server: a response head or, with `endStream` after one, trailers. Also used by a client for request trailers. */
  respond(streamId: number, headers: string[], endStream: boolean): void {
    const s = this.streams.get(streamId);
    if (s === undefined || s.localEnded) return;
    this.sendHeaders(s, headers, endStream);
    this.flush();
  }

  /** Body bytes; returns false when some wait for window (onDrain tells when they went out). */
  sendData(streamId: number, data: Buffer, endStream: boolean): boolean {
    const s = this.streams.get(streamId);
    if (s === undefined || s.localEnded || s.endQueued) return true;
    if (data.length > 0) {
      if (s.queue === NO_QUEUE) s.queue = [];
      s.queue.push(data);
      s.queued += data.length;
    }
    if (endStream) s.endQueued = true;
    this.pump(s);
    this.flush();
    return s.queued === 0;
  }

  /** The handler processed `n` octets of DATA on `streamId`: credit the windows back. */
  consumed(streamId: number, n: number): void {
    if (this.closed || n <= 0) return;
    this.creditConnection(n);
    const s = this.streams.get(streamId);
    if (s !== undefined && !s.remoteEnded) {
      s.unacked += n;
      if (s.unacked >= this.ourInitialWindow / 2) {
        this.w.frame32(FrameType.WINDOW_UPDATE, 0, streamId, s.unacked);
        s.recvWindow += s.unacked;
        s.unacked = 0;
      }
    }
    this.flush();
  }

  /** Resets a stream from our side (RST_STREAM `code`). */
  reset(streamId: number, code: number = ErrorCode.CANCEL): void {
    const s = this.streams.get(streamId);
    if (s === undefined) return;
    this.w.frame32(FrameType.RST_STREAM, 0, streamId, code);
    this.close(s, true);
    this.flush();
  }

  /** Sends a PING (the peer's ACK is not reported; it keeps the connection alive). */
  ping(data: Buffer = Buffer.alloc(8)): void {
    if (this.closed) return;
    this.w.raw(encodePing(data));
    this.flush();
  }

  /** Graceful shutdown: GOAWAY naming the last peer stream we accepted; the connection closes once streams finish. */
  goaway(code: number = ErrorCode.NO_ERROR, debug = ''): void {
    if (this.closed || this.goawaySent) return;
    this.goawaySent = true;
    this.goawayLastId = this.maxPeerId;
    this.w.raw(encodeGoaway(this.goawayLastId, code, debug));
    this.flush();
    if (code !== ErrorCode.NO_ERROR || this.streams.size === 0) this.finish();
  }

  /**
   * Ends the connection now, in order (a drain's deadline): every stream still open is reset (RST_STREAM CANCEL), then a
   * final GOAWAY NO_ERROR names the last stream we processed (after an earlier GOAWAY, the same id: RFC 9113 6.8 does not
   * let it grow), all flushed before the handler's onClose closes the transport.
   */
  terminate(): void {
    if (this.closed) return;
    const open = [...this.streams.values()];
    for (const s of open) this.w.frame32(FrameType.RST_STREAM, 0, s.id, ErrorCode.CANCEL);
    if (!this.goawaySent) { this.goawaySent = true; this.goawayLastId = this.maxPeerId; }
    this.w.raw(encodeGoaway(this.goawayLastId, ErrorCode.NO_ERROR, ''));
    this.flushOutput();
    this.closed = true;
    for (const s of open) { this.streams.delete(s.id); this.handler.onReset(s.id, ErrorCode.CANCEL, false); }
    this.handler.onClose();
  }

  /** Ends the connection now (transport gone): every open stream is reset (CANCEL, not by the peer). */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) { this.streams.delete(s.id); this.handler.onReset(s.id, ErrorCode.CANCEL, false); }
    this.handler.onClose();
  }

  // ---- internals

  private newStream(id: number): Stream {
    const s: Stream = { id, localEnded: false, remoteEnded: false, headersIn: false, sendWindow: this.peerInitialWindow, recvWindow: this.ourInitialWindow, unacked: 0, queue: NO_QUEUE, queued: 0, endQueued: false };
    this.streams.set(id, s);
    return s;
  }

  private sendHeaders(s: Stream, headers: string[], endStream: boolean): void {
    this.pendingHeaders = headers;
    this.w.encodedHeaders(s.id, endStream, this.peerMaxFrame, maxBlockLength(headers), this.encodeHeaders);
    if (endStream) { s.localEnded = true; if (s.remoteEnded) this.close(s, false); }
  }

  /** Sends as much queued DATA of `s` as the windows allow. */
  private pump(s: Stream): void {
    while (s.queued > 0) {
      const room = Math.min(s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (room <= 0) { if (!this.draining.includes(s.id)) this.draining.push(s.id); return; }
      const head = s.queue[0]!;
      let n = head.length;
      if (n > room) { s.queue[0] = head.subarray(room); n = room; } else s.queue.shift();
      s.queued -= n;
      s.sendWindow -= n;
      this.connSendWindow -= n;
      const end = s.queued === 0 && s.endQueued;
      this.w.frame(FrameType.DATA, end ? Flag.END_STREAM : 0, s.id, head, 0, n);
      if (end) this.endLocal(s);
    }
    if (s.endQueued && !s.localEnded) {
      this.w.frame(FrameType.DATA, Flag.END_STREAM, s.id);
      this.endLocal(s);
    }
  }

  private endLocal(s: Stream): void {
    s.localEnded = true;
    if (s.remoteEnded) this.close(s, false);
  }

  private close(s: Stream, resetByUs: boolean): void {
    if (!this.streams.delete(s.id)) return;
    if (resetByUs) {
      this.resetByUs.add(s.id);
      if (this.resetByUs.size > 1000) this.resetByUs.delete(this.resetByUs.values().next().value!);
    }
    if (this.goawaySent && this.streams.size === 0) queueMicrotask(() => this.finish());
  }

  private flush(): void {
    if (this.w.pending === 0) return;
    if (!this.batch) { this.flushOutput(); return; }
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(flushLater, this);
  }

  /** Hands the handler everything written so far (batching connections do it once per turn by themselves). */
  flushOutput(): void {
    this.flushQueued = false;
    const data = this.w.take();
    if (data !== undefined && this.handler.write(data) === true) this.w.release();
  }

  private fail(err: unknown): void {
    if (!(err instanceof H2Error)) err = new H2Error(ErrorCode.INTERNAL_ERROR, String(err));
    const e = err as H2Error;
    if (e.streamId !== 0) { this.streamError(e.streamId, e.code); return; }
    if (this.closed) return;
    this.w.raw(encodeGoaway(this.maxPeerId, e.code, e.message.slice(0, 200)));
    this.flushOutput();
    this.closed = true;
    for (const s of [...this.streams.values()]) { this.streams.delete(s.id); this.handler.onReset(s.id, e.code, false); }
    this.handler.onClose(e);
  }

  private finish(): void {
    if (this.closed) return;
    this.flushOutput();
    this.closed = true;
    for (const s of [...this.streams.values()]) { this.streams.delete(s.id); this.handler.onReset(s.id, ErrorCode.CANCEL, false); }
    this.handler.onClose();
  }

  private streamError(id: number, code: number): void {
    this.w.frame32(FrameType.RST_STREAM, 0, id, code);
    this.handler.onStreamError?.(id, code);
    const s = this.streams.get(id);
    if (s !== undefined) { this.close(s, true); this.handler.onReset(id, code, false); }
    else this.resetByUs.add(id);
  }

  /** A stream error resets that stream and reading goes on with the next frame; a connection error propagates. */
  private onFrameOrStreamError(type: number, flags: number, streamId: number, payload: Buffer): void {
    try {
      this.onFrame(type, flags, streamId, payload);
    } catch (err) {
      if (err instanceof H2Error && err.streamId !== 0 && !this.closed) this.streamError(err.streamId, err.code);
      else throw err;
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.block !== undefined && type !== FrameType.CONTINUATION) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `${type} frame inside a header block`);
    if (!this.gotSettings && type !== FrameType.SETTINGS) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'the first frame was not SETTINGS');
    // The common frames without padding or priority need no parsed object (what parseFrame would check for them).
    if (streamId !== 0 && (flags & (Flag.PADDED | Flag.PRIORITY)) === 0) {
      if (type === FrameType.DATA) return this.onData(streamId, payload, payload.length, (flags & Flag.END_STREAM) !== 0);
      if (type === FrameType.HEADERS) return this.onHeadersFrame(streamId, payload, (flags & Flag.END_STREAM) !== 0, (flags & Flag.END_HEADERS) !== 0);
    }
    let f: Frame | undefined;
    try {
      f = parseFrame(type, flags, streamId, payload);
    } catch (err) {
      // A stream error in a DATA frame still counts against the connection window.
      if (type === FrameType.DATA) this.creditDiscarded(payload.length);
      throw err;
    }
    if (f === undefined) return;
    switch (f.type) {
      case FrameType.SETTINGS: return this.onSettings(f.ack, f.settings);
      case FrameType.PING:
        if (f.ack) return;
        if (this.guard.controlFrame()) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'PING flood');
        this.w.frame(FrameType.PING, Flag.ACK, 0, f.data);
        return;
      case FrameType.GOAWAY: return this.onGoaway(f.lastStreamId, f.code, f.debug.toString('utf8'));
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(f.streamId, f.increment);
      case FrameType.RST_STREAM: return this.onRst(f.streamId, f.code);
      case FrameType.PRIORITY: return;
      case FrameType.PUSH_PROMISE: throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0');
      case FrameType.HEADERS: return this.onHeadersFrame(f.streamId, f.block, f.endStream, f.endHeaders);
      case FrameType.CONTINUATION: {
        const b = this.block;
        if (b === undefined || b.streamId !== f.streamId) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `CONTINUATION on stream ${f.streamId} without a header block in progress`);
        b.parts.push(f.block);
        b.size += f.block.length;
        b.frames++;
        if (f.endHeaders) { this.block = undefined; this.endBlock(b.streamId, b.endStream, b.parts.length === 1 ? b.parts[0]! : Buffer.concat(b.parts)); } else this.checkBlock();
        return;
      }
      case FrameType.DATA: return this.onData(f.streamId, f.data, f.flowLength, f.endStream);
    }
  }

  private onHeadersFrame(streamId: number, block: Buffer, endStream: boolean, endHeaders: boolean): void {
    if (endHeaders) { this.endBlock(streamId, endStream, block); return; }
    this.block = { streamId, endStream, parts: [block], size: block.length, frames: 1, push: false };
    this.checkBlock();
  }

  private checkBlock(): void {
    const b = this.block!;
    if (b.size > this.limits.maxHeaderBlock) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, `header block over ${this.limits.maxHeaderBlock} octets`);
    if (b.frames > this.limits.maxBlockFrames) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, `header block in over ${this.limits.maxBlockFrames} frames (CONTINUATION flood)`);
  }

  private endBlock(id: number, endStream: boolean, block: Buffer): void {
    if (block.length > this.limits.maxHeaderBlock) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, `header block over ${this.limits.maxHeaderBlock} octets`);
    // Decode first, whatever happens to the stream: the HPACK table must follow every block.
    const { headers, oversized } = this.decoder.decode(block);
    let s = this.streams.get(id);
    if (s === undefined) {
      if (this.role === 'client' || id % 2 === 0) {
        if (this.resetByUs.has(id)) return;
        throw new H2Error(id < this.nextId ? ErrorCode.STREAM_CLOSED : ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${id} we did not open or already closed`);
      }
      if (id <= this.maxPeerId) {
        if (this.resetByUs.has(id)) return;
        throw new H2Error(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
      }
      this.maxPeerId = id;
      this.guard.opened();
      if (this.goawaySent) return; // after our GOAWAY new streams are ignored (RFC 9113 6.8)
      if (this.streams.size >= this.ourMaxStreams) { this.streamError(id, ErrorCode.REFUSED_STREAM); return; }
      s = this.newStream(id);
    } else if (s.remoteEnded) {
      throw new H2Error(ErrorCode.STREAM_CLOSED, `HEADERS after END_STREAM on stream ${id}`, id);
    }
    const informational = this.role === 'client' && !s.headersIn && headers[0] === ':status' && headers[1]!.length === 3 && headers[1]![0] === '1';
    if (s.headersIn && !endStream) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `trailers without END_STREAM on stream ${id}`, id);
    if (!informational) s.headersIn = true;
    if (endStream) s.remoteEnded = true;
    this.handler.onHeaders(id, headers, endStream, oversized);
    if (endStream && s.localEnded) this.close(s, false);
  }

  private creditDiscarded(n: number): void {
    if (n === 0) return;
    this.connRecvWindow -= n;
    if (this.connRecvWindow < 0) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.creditConnection(n);
  }

  /** `n` received octets are done with: the connection's WINDOW_UPDATE goes out once half its window is owed. */
  private creditConnection(n: number): void {
    this.connUnacked += n;
    if (this.connUnacked >= this.connWindowTarget / 2) {
      this.w.frame32(FrameType.WINDOW_UPDATE, 0, 0, this.connUnacked);
      this.connRecvWindow += this.connUnacked;
      this.connUnacked = 0;
    }
  }

  private onData(id: number, data: Buffer, flowLength: number, endStream: boolean): void {
    const s = this.streams.get(id);
    if (s === undefined || s.remoteEnded) {
      this.creditDiscarded(flowLength);
      if (s === undefined && this.resetByUs.has(id)) return;
      const idle = s === undefined && (this.role === 'server' ? id % 2 === 1 && id > this.maxPeerId : id % 2 === 1 && id >= this.nextId);
      if (idle) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      // A connection error (RFC 9113 5.4: an endpoint may treat a stream error as one): a peer that sends
      // DATA after its END_STREAM is broken or probing, and nghttp2 does the same. GOAWAY, then close.
      throw new H2Error(ErrorCode.STREAM_CLOSED, `DATA on closed stream ${id}`);
    }
    if (!s.headersIn) { this.creditDiscarded(flowLength); throw new H2Error(ErrorCode.PROTOCOL_ERROR, `DATA before HEADERS on stream ${id}`, id); }
    this.connRecvWindow -= flowLength;
    if (this.connRecvWindow < 0) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    s.recvWindow -= flowLength;
    if (s.recvWindow < 0) { this.connUnacked += flowLength; throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `DATA beyond stream ${id}'s window`, id); }
    // Padding is credited back at once; the data when the handler consumed it.
    const padding = flowLength - data.length;
    if (padding > 0) { this.connUnacked += padding; s.unacked += padding; }
    if (endStream) s.remoteEnded = true;
    if (data.length > 0 || endStream) this.handler.onData(id, data, endStream);
    if (endStream && s.localEnded) this.close(s, false);
  }

  private onRst(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s === undefined) {
      const idle = this.role === 'server' ? id % 2 === 1 && id > this.maxPeerId : id % 2 === 1 && id >= this.nextId;
      if (idle || (this.role === 'client' && id % 2 === 0)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      return;
    }
    this.streams.delete(id);
    if (this.goawaySent && this.streams.size === 0) queueMicrotask(() => this.finish());
    this.handler.onReset(id, code, true);
    if (this.role === 'server' && !s.localEnded && this.guard.reset()) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, RAPID_RESET);
  }

  private onSettings(ack: boolean, settings: Array<[number, number]>): void {
    if (ack) return;
    if (this.gotSettings && this.guard.controlFrame()) throw new H2Error(ErrorCode.ENHANCE_YOUR_CALM, 'SETTINGS flood');
    for (const [id, v] of settings) {
      switch (id) {
        case Setting.HEADER_TABLE_SIZE: this.encoder.setPeerLimit(v); break;
        case Setting.MAX_CONCURRENT_STREAMS: this.peerMaxStreams = v; break;
        case Setting.MAX_FRAME_SIZE: this.peerMaxFrame = v; break;
        case Setting.INITIAL_WINDOW_SIZE: {
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE overflows stream ${s.id}'s window`);
          }
          break;
        }
        case Setting.ENABLE_PUSH:
          if (this.role === 'client' && v !== 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'a server sent SETTINGS_ENABLE_PUSH 1');
          break;
        default: break; // unknown settings are ignored (RFC 9113 6.5.2)
      }
    }
    this.w.frame(FrameType.SETTINGS, Flag.ACK, 0);
    const first = !this.gotSettings;
    this.gotSettings = true;
    this.pumpAll();
    if (first) this.handler.onSettings?.();
  }

  private onGoaway(lastStreamId: number, code: number, debug: string): void {
    this.goawayReceived = true;
    const refused: number[] = [];
    for (const s of this.streams.values()) if (s.id % 2 === this.nextId % 2 && s.id > lastStreamId) refused.push(s.id);
    for (const id of refused) { this.streams.delete(id); this.handler.onReset(id, ErrorCode.REFUSED_STREAM, true); }
    this.handler.onGoaway?.(lastStreamId, code, debug);
    if (code !== ErrorCode.NO_ERROR || this.streams.size === 0) {
      if (!this.closed) { this.flushOutput(); this.closed = true; for (const s of [...this.streams.values()]) { this.streams.delete(s.id); this.handler.onReset(s.id, code, true); } this.handler.onClose(code === ErrorCode.NO_ERROR ? undefined : new H2Error(code, `peer GOAWAY ${errorName(code)}: ${debug}`)); }
    } else {
      this.goawaySent = true; // no new streams; close once the rest finish
    }
  }

  private onWindowUpdate(id: number, inc: number): void {
    if (id === 0) {
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      this.pumpAll();
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `stream ${id}'s window over 2^31-1`, id);
    this.pump(s);
    if (s.queued === 0) this.handler.onDrain?.(id);
  }

  private pumpAll(): void {
    if (this.draining.length === 0) return;
    const ids = this.draining;
    this.draining = [];
    for (const id of ids) {
      const s = this.streams.get(id);
      if (s === undefined) continue;
      this.pump(s);
      if (s.queued === 0) this.handler.onDrain?.(id);
    }
  }
}

function flushLater(c: H2Connection): void { c.flushOutput(); }
