/**
 * Splicing a TCP tunnel's bytes both ways without a buffer per read. node reads a socket into
 * a fresh buffer each time (64 KiB allocated, shrunk to the read, pushed through its Readable);
 * at gigabits a second that garbage is what the collector spends its time on (with
 * --single-threaded-gc it runs on the proxy's own thread). Here each socket of a tunnel reads
 * into its own buffer, reused for every read (`onread` for the upstream the proxy dials,
 * `readIntoShared` for the accepted downstream), and each read's bytes are written to the other
 * socket at once:
 * - to a plain TCP socket whose node Writable holds nothing, straight to its handle (as
 *   http/turn-writes.ts `writeOut` does): the kernel nearly always takes the bytes at once and
 *   the buffer is free again; when it cannot, libuv queues them pointing into the buffer, so the
 *   reading side stops (the read callback returns false) until that write completed, then
 *   reads again. One write is in flight per direction; memory stays at the socket buffers.
 * - otherwise (a TLS socket, whose TLSWrap encrypts the bytes within the call; a socket whose
 *   Writable still holds bytes, e.g. the connection's first bytes): through `socket.write`, with
 *   a copy when the Writable would keep the chunk, and the reading side stops until 'drain'
 *   when the Writable is over its high-water mark (what `pipe` did).
 * Reads of a socket that cannot be switched (a CONNECT tunnel's downstream, already reading into
 * the HTTP side's shared buffer and handed over as `data` events) arrive as `data` events, owned.
 * A FIN from one side ends the other's write half once the bytes before it were written (libuv
 * shuts down after its queued writes); node's idle timer of the writing socket is refreshed by
 * each straight write as node's own writes refresh it. node's `bytesWritten` counts straight
 * writes too (it asks the handle), so TCP metrics and access logs read it as before.
 */
import { connect, type Socket } from 'node:net';
import { readIntoShared } from '../http/socket-read.js';

/** Bytes each tunnel socket reads at most per call (node's own read size). */
export const TUNNEL_READ_BYTES = 64 * 1024;

interface WriteReq { handle: unknown; oncomplete: (status: number) => void; async: boolean; bytes: number; buffer: unknown; socket: Socket | null; dir: Direction | null }
interface StreamWrap { WriteWrap: new () => WriteReq; streamBaseState: Int32Array; kLastWriteWasAsync: number }
interface WritableHandle { writeBuffer(req: WriteReq, b: Uint8Array): number; readonly writeQueueSize: number }
type Internal = Socket & { _handle?: WritableHandle | null; encrypted?: boolean; _unrefTimer?: () => void };

/** node's `stream_wrap` binding, or null (then every write goes through socket.write). */
function streamWrap(): StreamWrap | null {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrap> }).binding('stream_wrap');
    if (typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array && typeof b.kLastWriteWasAsync === 'number') return b as StreamWrap;
  } catch { /* not there */ }
  return null;
}
const SW = streamWrap();
/** Test hook: false sends every write through socket.write (the path TLS sockets take). */
export const spliceOptions = { straightWrites: SW !== null };

/** A WriteWrap no write holds (a write the kernel took at once never attaches its own). */
let spare: WriteReq | null = null;

function onStraightComplete(this: WriteReq, status: number): void {
  const d = this.dir;
  const s = this.socket;
  this.buffer = null;
  this.socket = null;
  this.dir = null;
  if (status < 0 && s !== null && !s.destroyed) s.destroy(new Error(`write failed (${status})`));
  if (d !== null) d.written();
}

/** One direction of a tunnel: bytes read from `from` are written to `to`. */
export class Direction {
  /** The read side stopped because `to` could not take more (a queued straight write, or its Writable over the mark). */
  private held = false;
  private readonly onDrain = (): void => { this.written(); };

  constructor(private readonly from: Socket, private readonly to: Socket) {}

  /** One read of `n` bytes in `buf` (`owned`: the caller will not reuse it). Returns false when reading must stop. */
  onRead(n: number, buf: Buffer, owned: boolean): boolean {
    const to = this.to as Internal;
    if (to.destroyed || to.writableEnded) return true; // nobody to send to: the close handlers end the tunnel
    const chunk = n === buf.length ? buf : buf.subarray(0, n);
    const h = to._handle;
    if (spliceOptions.straightWrites && h != null && to.writableLength === 0 && !to.connecting && to.encrypted !== true && h.writeQueueSize === 0) {
      const req = spare ?? new SW!.WriteWrap();
      spare = null;
      req.handle = h;
      req.oncomplete = onStraightComplete;
      req.async = false;
      req.bytes = 0;
      req.buffer = null;
      req.socket = null;
      req.dir = null;
      const err = h.writeBuffer(req, chunk);
      if (err !== 0) { to.destroy(new Error(`write failed (${err})`)); return true; }
      to._unrefTimer?.();
      if (SW!.streamBaseState[SW!.kLastWriteWasAsync] === 0) { req.handle = null; spare = req; return true; }
      // libuv queued (part of) the bytes and reads them from `chunk` later: keep it, read nothing until written.
      req.buffer = chunk;
      req.socket = to;
      req.dir = this;
      this.held = true;
      return false;
    }
    // Through node's Writable: a chunk it would keep (it is writing, or the socket is not a TLS one taking it within the call) is copied first.
    const copy = !owned && (to.writableLength !== 0 || to.encrypted !== true || to.connecting);
    if (to.write(copy ? Buffer.from(chunk) : chunk)) return true;
    this.held = true;
    to.once('drain', this.onDrain);
    return false;
  }

  /** `to` took what it was given: read again. */
  written(): void {
    if (!this.held) return;
    this.held = false;
    this.to.removeListener('drain', this.onDrain);
    if (!this.from.destroyed) this.from.resume();
  }
}

/** A fresh read buffer for one tunnel socket (its pages are touched only by what is read). */
export function tunnelReadBuffer(): Buffer {
  return Buffer.allocUnsafeSlow(TUNNEL_READ_BYTES);
}

/** Where an upstream socket's reads go: set by `spliceTunnel` (until then they are dropped: nothing is read before connect). */
export interface UpstreamReads { onRead: (n: number, b: Buffer) => boolean }

/** The `onread` option for an upstream socket (plain or TLS) whose reads go to `bind`. */
export function upstreamOnread(bind: UpstreamReads): { buffer: Buffer; callback: (n: number, b: Uint8Array) => boolean } {
  return { buffer: tunnelReadBuffer(), callback: (n, b) => bind.onRead(n, b as Buffer) };
}

/** Dials `host:port` (plain TCP) reading into a reused buffer, its reads going to `bind`. */
export function connectTunnel(host: string, port: number, bind: UpstreamReads): Socket {
  return connect({ host, port, noDelay: true, onread: upstreamOnread(bind) });
}

/**
 * Switches an accepted socket to reading into its own reused buffer for `dir`; when it cannot
 * (see file comment), `data` events feed `dir` and pause() holds the socket. Bytes its stream
 * already buffered are handed to `dir` first. Call with the socket paused; resume() starts it.
 */
export function readDownstream(socket: Socket, dir: Direction): void {
  const pre: Buffer[] = [];
  while (socket.readableLength > 0) {
    const c = socket.read() as Buffer | null;
    if (c === null) break;
    pre.push(c);
  }
  const switched = readIntoShared(socket, tunnelReadBuffer(), (n, b) => dir.onRead(n, b, false));
  if (!switched) socket.on('data', (d: Buffer) => { if (!dir.onRead(d.length, d, true)) socket.pause(); });
  for (const c of pre) if (!dir.onRead(c.length, c, true)) socket.pause();
}

/**
 * Splices the accepted (paused) downstream `ds` and the connected upstream `up` (made with
 * `upstreamOnread(bind)`, allowHalfOpen on both): bytes both ways, a FIN ends the other side's
 * write half after the bytes before it, a close ends it too, and a close with an error
 * (a reset) destroys the other side.
 */
export function spliceTunnel(ds: Socket, up: Socket, bind: UpstreamReads): void {
  const toUp = new Direction(ds, up);
  const toDown = new Direction(up, ds);
  bind.onRead = (n, b) => toDown.onRead(n, b, false);
  up.once('end', () => { if (!ds.destroyed && !ds.writableEnded) ds.end(); });
  ds.once('end', () => { if (!up.destroyed && !up.writableEnded) up.end(); });
  readDownstream(ds, toUp);
  // A client that sent its FIN before the upstream answered (its 'end' came and went).
  if (ds.readableEnded && !up.writableEnded) up.end();
  ds.resume();
  up.once('close', (hadError) => { if (hadError) ds.destroy(); else if (!ds.destroyed && !ds.writableEnded) ds.end(); });
  ds.once('close', (hadError) => { if (hadError) up.destroy(); else if (!up.destroyed && !up.writableEnded) up.end(); });
}
