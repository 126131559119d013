/**
 * HTTP/2 frames (RFC 9113 Sections 4 and 6): the 9-octet header, an incremental reader that
 * cuts a byte stream into frames, per-type parsing with the RFC's validity rules (each
 * violation an H2Error with the code the RFC names), and encoders. PRIORITY is parsed and
 * ignored (RFC 9113 5.3.2 deprecates the scheme); unknown frame types are skipped (4.1).
 */
import { ErrorCode, H2Error } from './errors.js';

/** Frame types (RFC 9113 6). */
export const FrameType = {
  DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4,
  PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9,
} as const;

/** Frame flags (the same bit means END_STREAM on DATA/HEADERS and ACK on SETTINGS/PING). */
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** SETTINGS identifiers (RFC 9113 6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1, ENABLE_PUSH: 0x2, MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4, MAX_FRAME_SIZE: 0x5, MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** The client connection preface (RFC 9113 3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** The default and minimum SETTINGS_MAX_FRAME_SIZE. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** The largest SETTINGS_MAX_FRAME_SIZE allowed. */
export const MAX_MAX_FRAME_SIZE = 16_777_215;
/** The largest flow-control window. */
export const MAX_WINDOW = 2 ** 31 - 1;

/** A parsed frame. `flowLength` of DATA is its whole payload (padding included), what flow control counts. */
export type Frame =
  | { type: 0x0; streamId: number; endStream: boolean; data: Buffer; flowLength: number }
  | { type: 0x1; streamId: number; endStream: boolean; endHeaders: boolean; block: Buffer }
  | { type: 0x2; streamId: number }
  | { type: 0x3; streamId: number; code: number }
  | { type: 0x4; ack: boolean; settings: Array<[number, number]> }
  | { type: 0x5; streamId: number; promisedId: number; endHeaders: boolean; block: Buffer }
  | { type: 0x6; ack: boolean; data: Buffer }
  | { type: 0x7; lastStreamId: number; code: number; debug: Buffer }
  | { type: 0x8; streamId: number; increment: number }
  | { type: 0x9; streamId: number; endHeaders: boolean; block: Buffer };

/** Removes padding (PADDED flag) from `p`; `extra` octets follow the pad length (HEADERS priority, PUSH_PROMISE id). */
function unpad(p: Buffer, flags: number, streamId: number, extra: number): { body: Buffer; start: number } {
  if ((flags & Flag.PADDED) === 0) {
    if (p.length < extra) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'frame too short', 0);
    return { body: p, start: 0 };
  }
  if (p.length < 1 + extra) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'padded frame too short', 0);
  const pad = p[0]!;
  if (pad > p.length - 1 - extra) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `padding (${pad}) longer than the payload on stream ${streamId}`);
  return { body: p.subarray(0, p.length - pad), start: 1 };
}

/** Parses one frame's payload; undefined for unknown types (ignored). Throws H2Error per RFC 9113 6. */
export function parseFrame(type: number, flags: number, streamId: number, p: Buffer): Frame | undefined {
  switch (type) {
    case FrameType.DATA: {
      if (streamId === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
      const { body, start } = unpad(p, flags, streamId, 0);
      return { type, streamId, endStream: (flags & Flag.END_STREAM) !== 0, data: body.subarray(start), flowLength: p.length };
    }
    case FrameType.HEADERS: {
      if (streamId === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
      const prio = (flags & Flag.PRIORITY) !== 0 ? 5 : 0;
      const { body, start } = unpad(p, flags, streamId, prio);
      if (prio && (body.readUInt32BE(start) & 0x7fffffff) === streamId) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `stream ${streamId} depends on itself`, streamId);
      return { type, streamId, endStream: (flags & Flag.END_STREAM) !== 0, endHeaders: (flags & Flag.END_HEADERS) !== 0, block: body.subarray(start + prio) };
    }
    case FrameType.PRIORITY:
      if (streamId === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
      if (p.length !== 5) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `PRIORITY of ${p.length} octets`, streamId);
      if ((p.readUInt32BE(0) & 0x7fffffff) === streamId) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `stream ${streamId} depends on itself`, streamId);
      return { type, streamId };
    case FrameType.RST_STREAM:
      if (streamId === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
      if (p.length !== 4) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `RST_STREAM of ${p.length} octets`);
      return { type, streamId, code: p.readUInt32BE(0) };
    case FrameType.SETTINGS: {
      if (streamId !== 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS on stream ${streamId}`);
      const ack = (flags & Flag.ACK) !== 0;
      if (ack && p.length !== 0) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      if (p.length % 6 !== 0) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS of ${p.length} octets`);
      const settings: Array<[number, number]> = [];
      for (let i = 0; i < p.length; i += 6) {
        const id = p.readUInt16BE(i);
        const v = p.readUInt32BE(i + 2);
        if (id === Setting.ENABLE_PUSH && v > 1) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${v}`);
        if (id === Setting.INITIAL_WINDOW_SIZE && v > MAX_WINDOW) throw new H2Error(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${v}`);
        if (id === Setting.MAX_FRAME_SIZE && (v < DEFAULT_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE)) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${v}`);
        settings.push([id, v]);
      }
      return { type, ack, settings };
    }
    case FrameType.PUSH_PROMISE: {
      if (streamId === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE on stream 0');
      const { body, start } = unpad(p, flags, streamId, 4);
      return { type, streamId, promisedId: body.readUInt32BE(start) & 0x7fffffff, endHeaders: (flags & Flag.END_HEADERS) !== 0, block: body.subarray(start + 4) };
    }
    case FrameType.PING:
      if (streamId !== 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `PING on stream ${streamId}`);
      if (p.length !== 8) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `PING of ${p.length} octets`);
      return { type, ack: (flags & Flag.ACK) !== 0, data: p };
    case FrameType.GOAWAY:
      if (streamId !== 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, `GOAWAY on stream ${streamId}`);
      if (p.length < 8) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `GOAWAY of ${p.length} octets`);
      return { type, lastStreamId: p.readUInt32BE(0) & 0x7fffffff, code: p.readUInt32BE(4), debug: p.subarray(8) };
    case FrameType.WINDOW_UPDATE: {
      if (p.length !== 4) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `WINDOW_UPDATE of ${p.length} octets`);
      const increment = p.readUInt32BE(0) & 0x7fffffff;
      if (increment === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE with increment 0', streamId);
      return { type, streamId, increment };
    }
    case FrameType.CONTINUATION:
      if (streamId === 0) throw new H2Error(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION on stream 0');
      return { type, streamId, endHeaders: (flags & Flag.END_HEADERS) !== 0, block: p };
    default:
      return undefined;
  }
}

/**
 * Cuts a byte stream into frames. `push(chunk)` calls `onFrame` for every complete frame (the
 * payload is a view into the input when a frame lies within one chunk, else a copy). A frame
 * longer than `maxFrameSize` (our SETTINGS_MAX_FRAME_SIZE) is a connection error FRAME_SIZE_ERROR.
 */
export class FrameReader {
  private pending: Buffer | undefined;
  /** Our advertised SETTINGS_MAX_FRAME_SIZE. */
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE;

  constructor(private readonly onFrame: (type: number, flags: number, streamId: number, payload: Buffer) => void) {}

  /** Feeds bytes; throws H2Error on an oversized frame, or whatever `onFrame` throws. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== undefined) { buf = Buffer.concat([this.pending, chunk]); this.pending = undefined; }
    let pos = 0;
    while (buf.length - pos >= 9) {
      const len = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (len > this.maxFrameSize) throw new H2Error(ErrorCode.FRAME_SIZE_ERROR, `frame of ${len} octets over SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`);
      if (buf.length - pos < 9 + len) break;
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      const payload = buf.subarray(pos + 9, pos + 9 + len);
      pos += 9 + len;
      this.onFrame(type, flags, streamId, payload);
    }
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos));
  }
}

/** Writes a 9-octet frame header into `out` at `at`. */
export function writeFrameHeader(out: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  out[at] = (length >>> 16) & 0xff;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, at + 5);
}

/** A whole frame with `payload`. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  payload.copy(out, 9);
  return out;
}

/** SETTINGS with `settings` (id, value pairs), or an ACK. */
export function encodeSettings(settings: Array<[number, number]>, ack = false): Buffer {
  const p = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach(([id, v], i) => { p.writeUInt16BE(id, i * 6); p.writeUInt32BE(v, i * 6 + 2); });
  return encodeFrame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, p);
}

/** PING with 8 octets of `data` (an ACK echoes the peer's). */
export function encodePing(data: Buffer, ack = false): Buffer {
  return encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, data);
}

/** GOAWAY naming the last stream processed, a code and optional debug text. */
export function encodeGoaway(lastStreamId: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug, 'utf8');
  const p = Buffer.allocUnsafe(8 + d.length);
  p.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(code, 4);
  d.copy(p, 8);
  return encodeFrame(FrameType.GOAWAY, 0, 0, p);
}

/** RST_STREAM with `code`. */
export function encodeRstStream(streamId: number, code: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(code, 0);
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, p);
}

/** WINDOW_UPDATE of `increment` (1..2^31-1) on `streamId` (0 = the connection). */
export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(increment & 0x7fffffff, 0);
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, p);
}

/** DATA frame header followed by `data` (at most the peer's max frame size; callers split). */
export function encodeDataHeader(streamId: number, length: number, endStream: boolean): Buffer {
  const h = Buffer.allocUnsafe(9);
  writeFrameHeader(h, 0, length, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
  return h;
}

/** HEADERS (and CONTINUATION frames when `block` exceeds `maxFrameSize`) carrying one header block. */
export function encodeHeaders(streamId: number, block: Buffer, endStream: boolean, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Buffer {
  const frames = Math.max(1, Math.ceil(block.length / maxFrameSize));
  const out = Buffer.allocUnsafe(block.length + 9 * frames);
  let at = 0;
  for (let i = 0, off = 0; i < frames; i++, off += maxFrameSize) {
    const len = Math.min(maxFrameSize, block.length - off);
    const last = i === frames - 1;
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && endStream ? Flag.END_STREAM : 0);
    writeFrameHeader(out, at, len, type, flags, streamId);
    block.copy(out, at + 9, off, off + len);
    at += 9 + len;
  }
  return out;
}

/**
 * Frames written straight into a slab: what goes out until the next `take()` is one contiguous
 * view, so a connection's frames of one event-loop turn leave in one socket write with no
 * Buffer per frame. Views handed out stay valid: a full slab is replaced, and the slab is
 * written from its start again only after `release()` (the owner knows no view is referenced
 * any more: the transport took every byte). Reusing it matters: a slab replaced every few dozen
 * writes lives long enough to reach V8's old space, and its 64 KiB stay until a full GC.
 */
export class FrameWriter {
  private slab: Buffer;
  private start = 0;
  private pos = 0;

  constructor(private readonly slabSize = 64 * 1024) {
    this.slab = Buffer.allocUnsafe(slabSize);
  }

  /** Octets written and not yet taken. */
  get pending(): number { return this.pos - this.start; }

  /** Makes room for `n` more octets (a new slab, the pending octets moved to it). */
  private room(n: number): void {
    if (this.pos + n <= this.slab.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.slabSize, pending + n));
    this.slab.copy(next, 0, this.start, this.pos);
    this.slab = next;
    this.start = 0;
    this.pos = pending;
  }

  /** A frame header and `payload[from, to)`. */
  frame(type: number, flags: number, streamId: number, payload?: Buffer, from = 0, to = payload?.length ?? 0): void {
    const len = to - from;
    this.room(9 + len);
    writeFrameHeader(this.slab, this.pos, len, type, flags, streamId);
    if (len > 0) payload!.copy(this.slab, this.pos + 9, from, to);
    this.pos += 9 + len;
  }

  /** A frame whose payload is one 32-bit value (RST_STREAM, WINDOW_UPDATE). */
  frame32(type: number, flags: number, streamId: number, value: number): void {
    this.room(13);
    writeFrameHeader(this.slab, this.pos, 4, type, flags, streamId);
    this.slab.writeUInt32BE(value >>> 0, this.pos + 9);
    this.pos += 13;
  }

  /**
   * HEADERS carrying the block `encode(slab, at)` writes (at most `maxLength` octets; it returns
   * the block's end), split into CONTINUATION frames beyond `maxFrameSize`. Encoded in place.
   */
  encodedHeaders(streamId: number, endStream: boolean, maxFrameSize: number, maxLength: number, encode: (target: Buffer, at: number) => number): void {
    this.room(9 + maxLength);
    const at = this.pos;
    const end = encode(this.slab, at + 9);
    const len = end - at - 9;
    if (len <= maxFrameSize) {
      writeFrameHeader(this.slab, at, len, FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId);
      this.pos = end;
      return;
    }
    const block = Buffer.from(this.slab.subarray(at + 9, end));
    this.headers(streamId, block, len, endStream, maxFrameSize);
  }

  /** HEADERS (and CONTINUATION frames beyond `maxFrameSize`) carrying `block[0, len)`. */
  headers(streamId: number, block: Buffer, len: number, endStream: boolean, maxFrameSize: number): void {
    const frames = Math.max(1, Math.ceil(len / maxFrameSize));
    this.room(len + 9 * frames);
    for (let i = 0, off = 0; i < frames; i++, off += maxFrameSize) {
      const n = Math.min(maxFrameSize, len - off);
      const last = i === frames - 1;
      const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && endStream ? Flag.END_STREAM : 0);
      writeFrameHeader(this.slab, this.pos, n, type, flags, streamId);
      if (n > 0) block.copy(this.slab, this.pos + 9, off, off + n);
      this.pos += 9 + n;
    }
  }

  /** Raw octets (the client preface, frames encoded elsewhere). */
  raw(b: Buffer): void {
    this.room(b.length);
    b.copy(this.slab, this.pos);
    this.pos += b.length;
  }

  /** Every view taken so far is no longer referenced: the slab is reused from its start. */
  release(): void {
    if (this.pos === this.start) this.start = this.pos = 0;
  }

  /** The pending octets as one view (undefined when none); they count as sent. */
  take(): Buffer | undefined {
    if (this.pos === this.start) return undefined;
    const out = this.slab.subarray(this.start, this.pos);
    this.start = this.pos;
    if (this.slab.length - this.pos < 1024) { this.slab = Buffer.allocUnsafe(this.slabSize); this.start = this.pos = 0; }
    return out;
  }
}
