/**
 * Reading sockets below node's streams: the kernel copies each read into one buffer shared by
 * every socket of a side, and a callback gets the bytes, instead of node allocating a buffer per
 * read and pushing it through its Readable (`onStreamRead` -> `readableAddChunk` -> `addChunk` ->
 * a `data` event). A read's bytes are valid only until the callback returns: whoever keeps
 * bytes (a partial head, a request or response body written to the other side) copies them
 * (`isShared`, `own`).
 *
 * Sockets the proxy connects (upstream pools) use node's documented `onread` option of
 * `net.connect`. Node offers no such option to the sockets a `net.Server` accepts, so
 * `readIntoShared` gives an accepted socket the same state `onread` would have given it (the
 * socket's own `kBuffer`/`kBufferCb`/`kBufferGen` fields, found by name on a socket made with
 * `onread`, and the handle's `useUserBuffer`, which is what `onread` calls). A terminated TLS
 * socket is switched the same way: its handle (TLSWrap) hands each SSL_read's decrypted bytes to
 * the callback in the buffer, as `tls.connect`'s `onread` does for the upstream side. Where that
 * state is not there (another node), it says so and the caller reads `data` events as before.
 */
import { Socket } from 'node:net';

/** Size of each shared read buffer (what node reads per call by default). */
export const READ_BUFFER_BYTES = 64 * 1024;

/** Called with the bytes of one read; `false` stops reading (as a paused stream would). */
export type ReadCallback = (nread: number, buf: Buffer) => boolean | void;

/** A read buffer shared by the sockets of one side; bytes in it are valid only during a read callback. */
export function sharedReadBuffer(): Buffer {
  return Buffer.alloc(READ_BUFFER_BYTES);
}

/** True when `b` is a view of `shared` (its bytes will be overwritten by the next read). */
export function isShared(b: Buffer, shared: Buffer): boolean {
  return b.buffer === shared.buffer;
}

/** `b`, copied when it is a view of `shared`. */
export function own(b: Buffer, shared: Buffer): Buffer {
  if (b.buffer !== shared.buffer) return b;
  // allocUnsafe + set: what Buffer.from(b) ends in, without its argument checks (a C++ isAnyArrayBuffer call per body chunk).
  const copy = Buffer.allocUnsafe(b.length);
  copy.set(b);
  return copy;
}

/**
 * Views of the first `n` bytes of one shared read buffer for the read callbacks: the last view
 * is reused while reads have its length (a response or request of the same size as the last:
 * no object per read). A view is valid only during its callback, as the bytes are.
 */
export class ReadViews {
  private last: Buffer;

  constructor(private readonly shared: Buffer) {
    this.last = shared.subarray(0, 0);
  }

  /** `b` [0, n): `b` is the buffer a read callback got. */
  of(b: Buffer, n: number): Buffer {
    if (b !== this.shared) return b.subarray(0, n);
    const v = this.last;
    return v.length === n ? v : (this.last = b.subarray(0, n));
  }
}

interface OnreadFields { buffer: symbol; callback: symbol; generator: symbol }

let fields: OnreadFields | null | undefined;

/** The symbols node keeps the `onread` option under, read off a socket made with it (null when not found). */
function onreadFields(): OnreadFields | null {
  if (fields !== undefined) return fields;
  const probe = new Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as ConstructorParameters<typeof Socket>[0]);
  const by = (name: string): symbol | undefined => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const buffer = by('kBuffer'), callback = by('kBufferCb'), generator = by('kBufferGen');
  const p = probe as unknown as Record<symbol, unknown>;
  fields = buffer && callback && generator && Buffer.isBuffer(p[buffer]) && typeof p[callback] === 'function' ? { buffer, callback, generator } : null;
  probe.destroy();
  return fields;
}

/**
 * Switches an accepted socket (plain TCP, or a TLSSocket after its handshake) to reading into
 * `buffer` with `cb`, as `net.connect`'s `onread` option does. Returns false (nothing changed)
 * when it cannot: the caller reads `data` events. Bytes the stream already buffered (read before,
 * or unshifted by protocol detection) stay there: the caller takes them with `socket.read()`.
 */
export function readIntoShared(socket: Socket, buffer: Buffer, cb: ReadCallback): boolean {
  const f = onreadFields();
  if (f === null) return false;
  const s = socket as unknown as Record<symbol, unknown> & { _handle?: { useUserBuffer?: (b: Buffer) => void } | null };
  const h = s._handle;
  if (h == null || typeof h.useUserBuffer !== 'function' || !(f.buffer in s) || s[f.buffer]) return false;
  s[f.buffer] = buffer;
  s[f.generator] = null;
  s[f.callback] = cb;
  h.useUserBuffer(buffer);
  return true;
}

/** Replaces the read callback of a socket reading into a shared buffer (`readIntoShared` or `onread`). */
export function setReadCallback(socket: Socket, cb: ReadCallback): void {
  const f = onreadFields();
  if (f !== null) (socket as unknown as Record<symbol, unknown>)[f.callback] = cb;
}

/**
 * Hands a socket reading into a shared buffer to code that reads `data` events (a CONNECT
 * tunnel's TCP session): every read is copied and emitted as `data`; pause() and resume() keep
 * working (node stops and starts the handle's reads for such sockets).
 */
export function emitDataEvents(socket: Socket): void {
  setReadCallback(socket, (n, b) => { socket.emit('data', Buffer.from(b.subarray(0, n))); });
}

/**
 * Hands `bytes` (at most READ_BUFFER_BYTES) to a socket reading into a shared buffer exactly as
 * one read would: copied into the buffer, then the callback. Tests choose chunk boundaries this
 * way (and a later read overwrites the buffer, so bytes kept without a copy show). False when
 * the socket reads `data` events.
 */
export function deliverRead(socket: Socket, bytes: Uint8Array): boolean {
  const f = onreadFields();
  if (f === null) return false;
  const s = socket as unknown as Record<symbol, unknown>;
  const buf = s[f.buffer];
  const cb = s[f.callback];
  if (!Buffer.isBuffer(buf) || typeof cb !== 'function') return false;
  buf.set(bytes, 0);
  (cb as ReadCallback)(bytes.length, buf);
  return true;
}
