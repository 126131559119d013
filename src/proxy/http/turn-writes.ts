/**
 * Socket writes held until the end of the turn, then written once per socket. While the event
 * loop is busy (more than half of the last 100 ms, the one coarse timer here), the turn is the
 * loop's whole I/O phase (haproxy's shape: read every ready socket, then send): one turn reads
 * many connections, and writing as each request is handled would wake the peer (the upstream,
 * the client) once per request and let it preempt the proxy mid-turn (measured: ~1 involuntary
 * context switch per request under wrk, a third of that held). Held to the end of the phase
 * (setImmediate: the `check` phase of the same loop iteration), every socket gets one write of
 * everything it was sent (a response head and its body, pipelined responses, a request head
 * and its body). While the loop is mostly idle a turn handles one event, so the writes leave
 * at the end of the callback that made them: at the end of the read callback when a read made
 * them (`readStart`/`readEnd` around the holders' read callbacks), else at the end of the tick
 * (process.nextTick).
 *
 * At 1000 requests/s every request wakes the proxy twice from an idle epoll_wait, and each wake-up
 * paid for more than the read: node runs its tick queue after a callback from C++ only when a
 * tick is queued, and both the flush (process.nextTick) and node's Writable (it completes every
 * synchronous write in a tick, `afterWriteTick`) queued one, so every wake-up entered JavaScript
 * twice. `writeOut` writes a held batch straight to the socket's handle when node's Writable holds
 * nothing for it (the kernel takes the bytes at once nearly always; when it cannot, libuv queues
 * them in order, ahead of anything written later through the Writable, and `end()` waits for them),
 * and the read callback's own end flushes: a wake-up is one call into JavaScript.
 *
 * A holder (http/downstream.ts, upstream/pool.ts) keeps its own pending bytes and asks for a
 * flush with `flushAtTurnEnd` when it holds the first of a turn; bytes beyond its batch limit
 * or the socket's high-water mark are written through at once, after what was held, so
 * backpressure shows as before.
 */

/** Something holding writes for the end of the turn. */
export interface HeldWrites {
  /** Writes what is held (nothing when it was written or dropped meanwhile). */
  flushHeld(): void;
}

import type { Socket } from 'node:net';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Event loop utilisation above which writes are held to the end of the I/O phase. */
const BUSY = 0.5;
const SAMPLE_MS = 100;

/** Holders to flush (the first `pendingCount`; emptied slot by slot, never `length = 0`, which would drop the backing store and make the next turn allocate one). */
const pending: Array<HeldWrites | undefined> = new Array<HeldWrites | undefined>(16).fill(undefined);
let pendingCount = 0;
/** How the pending flush runs: NONE (nothing pending), AT_READ_END, TICK, IMMEDIATE. */
let scheduled = 0;
const NONE = 0, AT_READ_END = 1, TICK = 2, IMMEDIATE = 3;
let busy = false;
/** Read callbacks in progress (readStart/readEnd). */
let reading = 0;
/** When `busy` was last decided (performance.now() ms; -1 before the first flush). */
let sampledAt = -1;
/**
 * The last flush's Immediate, kept after it ran. The optimised code of the busy path (this module,
 * node's setImmediate and Immediate constructor) holds the maps of the Immediate it creates weakly;
 * with none alive, the quiet period's full GC (idle-gc.ts) cleared them and deoptimised that code
 * ("weak objects"), and the next busy burst ran it in the interpreter (kept-request.ts, the same for
 * the request's own objects; test/e2e/proxy-quiet-gc.test.ts).
 */
const kept: { immediate: NodeJS.Immediate | undefined } = { immediate: undefined };
let lastElu: EventLoopUtilization | undefined;

/**
 * Decides `busy` from the loop's utilisation since the last decision, at most every SAMPLE_MS and
 * only when there is something to flush: no interval timer (a timer of its own woke an idle proxy ten
 * times a second and ran node's timer list in the interpreter, ~1 % of the proxy's CPU at 1000 rps);
 * the first flush after a quiet stretch sees the quiet stretch's low utilisation.
 */
function sampleDue(): void {
  const t = performance.now();
  if (t - sampledAt < SAMPLE_MS) return;
  const now = performance.eventLoopUtilization();
  // The first window starts at the first flush (start-up's work is not the load's).
  if (sampledAt >= 0) busy = performance.eventLoopUtilization(now, lastElu).utilization > BUSY;
  sampledAt = t;
  lastElu = now;
}

/** Calls `w.flushHeld()` at the end of this turn (once per call: call it when the first bytes are held). */
export function flushAtTurnEnd(w: HeldWrites): void {
  pending[pendingCount++] = w;
  if (scheduled !== NONE) return;
  sampleDue();
  if (busy) { scheduled = IMMEDIATE; kept.immediate = setImmediate(flushAll); } else if (reading > 0) scheduled = AT_READ_END;
  else { scheduled = TICK; process.nextTick(flushAll); }
}

/** A read callback starts (see readEnd). */
export function readStart(): void {
  reading++;
}

/**
 * A read callback ends: while the loop is mostly idle, what the callback held is written now,
 * before it returns to node (no tick queued, so node does not call into JavaScript again).
 */
export function readEnd(): void {
  if (--reading === 0 && scheduled === AT_READ_END) flushAll();
}

function flushAll(): void {
  scheduled = NONE;
  // A flush never calls back into a holder synchronously; anything held meanwhile is flushed here too.
  for (let i = 0; i < pendingCount; i++) {
    const w = pending[i]!;
    pending[i] = undefined;
    w.flushHeld();
  }
  pendingCount = 0;
}

interface WriteReq { handle: unknown; oncomplete: (status: number) => void; async: boolean; bytes: number; buffer: unknown; socket: Socket | null }
interface StreamWrap { WriteWrap: new () => WriteReq; streamBaseState: Int32Array; kLastWriteWasAsync: number }
interface WritableHandle { writeBuffer(req: WriteReq, b: Uint8Array): number; writeLatin1String(req: WriteReq, s: string): number; readonly writeQueueSize: number }

/** node's `stream_wrap` binding (process.binding: deprecated, still served for it), or null (then socket.write). */
function streamWrap(): StreamWrap | null {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrap> }).binding('stream_wrap');
    if (typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array && typeof b.kLastWriteWasAsync === 'number') return b as StreamWrap;
  } catch { /* not there: write through node's Writable */ }
  return null;
}
const SW = streamWrap();

/** A WriteWrap no write holds (see writeOut). */
let spare: WriteReq | null = null;

function onDirectComplete(this: WriteReq, status: number): void {
  const s = this.socket;
  this.buffer = null;
  this.socket = null;
  if (status < 0 && s !== null && !s.destroyed) s.destroy(new Error(`write failed (${status})`));
}

/**
 * Writes `data` (a string is latin1) to `socket`: straight to its handle (node's own `writeBuffer`
 * / `writeLatin1String` with a WriteWrap from the `stream_wrap` binding, what socket.write ends in)
 * when node's Writable holds nothing for the socket, else through socket.write. A write the kernel
 * took at once completes here (no WriteWrap completion, no tick); one it could not is queued by
 * libuv (before anything written later, through either path) and its buffer kept until it
 * completes, and while it waits the next writes go through socket.write, so node's Writable
 * counts them and backpressure (`write` returning false, 'drain') works as before; a failed write destroys the socket as node would. Plain TCP sockets without a socket
 * timeout only (a timeout is refreshed by node's writes; TLS sockets write through TLSWrap).
 */
export function writeOut(socket: Socket, data: string | Buffer): void {
  const h = directHandle(socket);
  if (h === null) {
    if (typeof data === 'string') socket.write(data, 'latin1'); else socket.write(data);
    return;
  }
  writeDirect(socket, h, data);
}

/** The socket's handle when a write may go straight to it (see writeOut), else null. */
function directHandle(socket: Socket): WritableHandle | null {
  const s = socket as Socket & { _handle?: WritableHandle | null; timeout?: number; encrypted?: boolean };
  const h = s._handle;
  // Bytes libuv still queues (a straight write the kernel could not take) send the next ones through the Writable, whose length counts them for backpressure.
  if (SW === null || h == null || s.writableLength !== 0 || s.destroyed || s.writableEnded || s.connecting || s.timeout !== undefined || s.encrypted === true || h.writeQueueSize !== 0) return null;
  return h;
}

/** Writes `data` straight to `h`, the handle of `socket`; true when libuv queued it (the write keeps `data` until it completes). */
function writeDirect(socket: Socket, h: WritableHandle, data: string | Buffer): boolean {
  // A write the kernel takes at once never attaches its WriteWrap (node's StreamBase finishes
  // it before making the C++ request), so one object serves every such write; a write libuv
  // queues keeps its own until it completes.
  const req = spare ?? new SW!.WriteWrap();
  spare = null;
  req.handle = h;
  req.oncomplete = onDirectComplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.socket = null;
  const err = typeof data === 'string' ? h.writeLatin1String(req, data) : h.writeBuffer(req, data);
  if (err !== 0) { socket.destroy(new Error(`write failed (${err})`)); return false; }
  if (SW!.streamBaseState[SW!.kLastWriteWasAsync] !== 0) { req.buffer = data; req.socket = socket; return true; }
  req.handle = null;
  spare = req;
  return false;
}

/**
 * Where held parts are joined for a straight write (writeBatch): one buffer reused by every
 * write the kernel takes at once (nearly all), replaced when libuv must keep one. `view` is its
 * first `view.length` bytes, reused while consecutive writes have that length (a response of
 * the same size as the last: no object per write).
 */
let scratch: Buffer | null = null;
let view: Buffer | null = null;
const SCRATCH_BYTES = 16 * 1024;

/**
 * Writes what `batch` holds to `socket` and empties it: one part as it is, several joined into
 * one buffer (writeOut's paths; a straight write joins into a reused buffer instead of a new one).
 * A TLS socket whose write reaches TLSWrap at once (`encryptsAtOnce`) gets the batch, one part or
 * several, joined into that reused buffer too and written through node's Writable (TLSWrap takes one
 * write at a time, so never straight to its handle).
 */
export function writeBatch(socket: Socket, batch: HeldBatch): void {
  const n = batch.count;
  if (n === 0) return;
  const bytes = batch.bytes;
  const h = n > 1 && bytes <= SCRATCH_BYTES ? directHandle(socket) : null;
  if (h === null) {
    if (bytes <= SCRATCH_BYTES && encryptsAtOnce(socket)) {
      // TLS: joined into the reused buffer and written as one Buffer (no buffer per response, no string
      // copied into a new backing store by node); TLSWrap encrypts it, or copies it, within the call.
      socket.write(joined(batch, bytes));
      return;
    }
    writeOut(socket, batch.take()!);
    return;
  }
  if (writeDirect(socket, h, joined(batch, bytes))) { scratch = null; view = null; } // libuv holds it until the write completes
}

/** What `batch` holds (`bytes`, at most SCRATCH_BYTES), joined into the reused buffer; empties the batch. Valid until the next join. */
function joined(batch: HeldBatch, bytes: number): Buffer {
  const sb = scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  let v = view;
  if (v === null || v.length !== bytes) view = v = sb.subarray(0, bytes);
  batch.joinInto(sb);
  batch.drop();
  return v;
}

/**
 * True when `socket` is a TLS socket whose `write` reaches its TLSWrap within the call: node's
 * Writable holds nothing (no write waiting for its completion, not corked), the socket is
 * connected and open. TLSWrap's DoWrite then runs SSL_write on the bytes at once (or, while
 * OpenSSL cannot take them, copies them for later), so the caller's buffer is free when `write`
 * returns.
 */
function encryptsAtOnce(socket: Socket): boolean {
  const s = socket as Socket & { _handle?: unknown; encrypted?: boolean };
  return s.encrypted === true && s._handle != null && s.writableLength === 0 && s.writableCorked === 0 && !s.connecting && !s.destroyed && !s.writableEnded;
}

/** The first `count` of `parts` (strings are latin1: one byte per character) joined into one buffer of `bytes`. */
export function joinParts(parts: ReadonlyArray<string | Buffer | undefined>, bytes: number, count = parts.length): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const d = parts[i]!;
    if (typeof d === 'string') at += out.write(d, at, 'latin1');
    else { out.set(d, at); at += d.length; }
  }
  return out;
}

/**
 * The writes one connection holds during a turn, in one array kept for the connection's life
 * (emptied, not replaced, at each flush: no array per response, no backing store grown from one
 * element at each second write).
 */
export class HeldBatch {
  /** Four slots to start (a head and its body, chunked framing around it); grows past them as arrays do. */
  private readonly parts: Array<string | Buffer | undefined> = [undefined, undefined, undefined, undefined];
  /** Parts held. */
  count = 0;
  /** Bytes held (strings count one byte per character). */
  bytes = 0;

  /** Holds `data`; true when it is the first part of the turn (the holder asks for a flush then). */
  hold(data: string | Buffer): boolean {
    this.parts[this.count++] = data;
    this.bytes += data.length;
    return this.count === 1;
  }

  /** What is held, as one string or buffer (null when nothing), and empties the batch. */
  take(): string | Buffer | null {
    const n = this.count;
    if (n === 0) return null;
    const p = this.parts;
    const out = n === 1 ? p[0]! : joinParts(p, this.bytes, n);
    this.drop();
    return out;
  }

  /** Copies what is held into `out` from its start (strings latin1); `out` has room for `bytes`. */
  joinInto(out: Buffer): void {
    const p = this.parts;
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      const d = p[i]!;
      if (typeof d === 'string') at += out.write(d, at, 'latin1');
      else { out.set(d, at); at += d.length; }
    }
  }

  /** Forgets what is held. */
  drop(): void {
    const p = this.parts;
    for (let i = 0; i < this.count; i++) p[i] = undefined;
    this.count = 0;
    this.bytes = 0;
  }
}
