/**
 * HTTP/1.1 upstream calls on the pooled raw-socket client (pool.ts): the request head and its
 * body framing (content-length, or chunked when the length is unknown) are written on a
 * keep-alive connection, the response is read with the strict parser (response-head.ts,
 * chunked.ts) and handed to the sink unframed. The pool's limits apply (maxConnections across
 * the cluster, http1MaxPendingRequests: a full queue is 'overflow', 503 UO). After a 101 (an
 * allowed upgrade) the call becomes a raw byte pipe both ways; the connection is never reused.
 */
import type { UpstreamEndpoint } from '../cluster/index.js';
import { ChunkedDecoder } from '../http/chunked.js';
import { HeadError } from '../http/head.js';
import { parseResponseHead, RBODY_CHUNKED, RBODY_CLOSE, RBODY_LENGTH, RBODY_NONE, type ResponseHead } from '../http/response-head.js';
import { endToEndFields, requestHead, type Framing } from '../http/serialize.js';
import type { CallSink, UpstreamCall, UpstreamRequest } from './call.js';
import { own } from '../http/socket-read.js';
import { UPSTREAM_READ, type ClusterPool, type ConnOwner, type UpstreamConn, type Waiter } from './pool.js';

/** Largest response head accepted from an upstream. */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** Body bytes held for a connection that is not there yet before the caller is asked to wait. */
const MAX_EARLY_BYTES = 64 * 1024;
const LAST_CHUNK = '0\r\n\r\n';
const NO_BODY: Framing = { kind: 'none' };
const CHUNKED: Framing = { kind: 'chunked' };

/** The HTTP/1.1 head of `req` (cached on it until its headers change). */
function headOf(req: UpstreamRequest): string {
  let h = req.h1Head;
  if (h === undefined) {
    const framing: Framing = req.bodyLength === 0 ? NO_BODY : req.bodyLength > 0 ? { kind: 'length', length: req.bodyLength } : CHUNKED;
    h = req.h1Head = requestHead(req.method, req.path, req.authority, endToEndFields(req.headers, req.connectionTokens), framing, req.upgrade);
  }
  return h;
}

/**
 * Starts `req` toward `ep` on `pool`; 'overflow' when the cluster's pending queue is full (503 UO).
 * `tunnelIdleMs` closes an upgraded (101) call idle that long (0: never).
 */
export function h1Dispatch(pool: ClusterPool, ep: UpstreamEndpoint, req: UpstreamRequest, sink: CallSink, tunnelIdleMs = 0): UpstreamCall | 'overflow' {
  const call = new H1Call(pool, req, sink, tunnelIdleMs);
  const got = pool.acquire(ep, call);
  if (got === 'overflow') return 'overflow';
  if (got === 'wait') call.waiting = true;
  else call.onConnection(got);
  return call;
}

/** One HTTP/1.1 request/response on a pooled connection. */
class H1Call implements UpstreamCall, ConnOwner, Waiter {
  waiting = false;
  private conn: UpstreamConn | null = null;
  private done = false;
  private readonly chunked: boolean;
  /** Body written before a connection was there (null until some is: no array per call). */
  private early: Buffer[] | null = null;
  private earlyBytes = 0;
  private reqEnded = false;
  private drainFns: Array<() => void> | null = null;
  private paused = false;
  private tunnel = false;
  private resBuf: Buffer | null = null;
  private res: ResponseHead | null = null;
  private resRemaining = 0;
  private resDecoder: ChunkedDecoder | null = null;
  /** Response bytes arrived (a stale keep-alive connection is one that closed before any). */
  private gotBytes = false;

  constructor(private readonly pool: ClusterPool, private readonly req: UpstreamRequest, private readonly sink: CallSink, private readonly tunnelIdleMs: number) {
    this.chunked = req.bodyLength < 0;
    this.reqEnded = req.bodyLength === 0;
  }

  // ------------------------------------------------------------------ Waiter (pool callbacks)

  /** A connection for this call: the head and any early body (with the rest of the turn's body bytes) go out in one write at the end of the turn. */
  onConnection(conn: UpstreamConn): void {
    this.waiting = false;
    if (this.done) { conn.pool.release(conn, true); return; }
    conn.owner = this;
    this.conn = conn;
    conn.send(headOf(this.req));
    const early = this.early;
    if (early !== null) for (const b of early) this.frame(conn, b);
    if (this.reqEnded && this.chunked) conn.send(LAST_CHUNK);
    this.early = null;
    this.earlyBytes = 0;
    this.drained();
  }

  onConnectFailure(reason: 'refused' | 'timeout', message: string): void {
    this.waiting = false;
    if (this.done) return;
    this.done = true;
    this.sink.onFailure(reason === 'timeout' ? 'connect-timeout' : 'connect', message);
  }

  // ------------------------------------------------------------------ UpstreamCall

  /** The verified SPIFFE id of the server on this call's connection ('' plaintext, or before it has one). */
  get peerIdentity(): string {
    const c = this.conn;
    return c === null ? '' : c.peerIdentity;
  }

  write(chunk: Buffer): boolean {
    if (this.done || chunk.length === 0) return true;
    const c = this.conn;
    if (c === null) {
      (this.early ??= []).push(chunk);
      this.earlyBytes += chunk.length;
      return this.earlyBytes <= MAX_EARLY_BYTES;
    }
    return this.tunnel ? c.send(chunk) : this.frame(c, chunk);
  }

  end(): void {
    if (this.done || this.reqEnded) return;
    this.reqEnded = true;
    if (this.conn !== null && this.chunked && !this.tunnel) this.conn.send(LAST_CHUNK);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiting) { this.pool.cancel(this); this.waiting = false; }
    const c = this.conn;
    if (c === null) return;
    this.conn = null;
    c.owner = null;
    c.destroy();
  }

  pause(): void {
    if (this.paused || this.conn === null) return;
    this.paused = true;
    this.conn.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn?.socket.resume();
  }

  onDrain(fn: () => void): void {
    if (this.done) { fn(); return; }
    const c = this.conn;
    if (c === null) { (this.drainFns ??= []).push(fn); return; }
    if (this.drainFns === null) c.socket.once('drain', () => this.drained());
    (this.drainFns ??= []).push(fn);
  }

  private drained(): void {
    const fns = this.drainFns;
    if (fns === null) return;
    this.drainFns = null;
    for (const f of fns) f();
  }

  /** Writes one body piece in the request's framing. */
  private frame(c: UpstreamConn, b: Buffer): boolean {
    if (!this.chunked) return c.send(b);
    c.send(b.length.toString(16) + '\r\n');
    c.send(b);
    return c.send('\r\n');
  }

  // ------------------------------------------------------------------ ConnOwner (response bytes)

  /** Response bytes; a view of the pool's shared read buffer: what is kept or passed on is copied (own). */
  onUpstreamData(chunk: Buffer): void {
    if (this.done) return;
    this.gotBytes = true;
    if (this.tunnel) { if (!this.sink.onData(own(chunk, UPSTREAM_READ))) this.pause(); return; }
    if (this.res === null) this.responseHead(chunk);
    else this.responseBody(chunk, 0);
  }

  private responseHead(chunk: Buffer): void {
    const buf = this.resBuf === null ? chunk : Buffer.concat([this.resBuf, chunk]);
    const r = parseResponseHead(buf, 0, buf.length, this.req.method, MAX_RESPONSE_HEAD);
    if (r === null) { this.resBuf = own(buf, UPSTREAM_READ); return; }
    this.resBuf = null;
    if (r instanceof HeadError) return this.failed('protocol', r.message);
    if (r.status < 200 && !(r.status === 101 && this.req.upgrade !== undefined)) {
      // Interim responses (100, 103) are not forwarded.
      if (r.headEnd < buf.length) this.responseHead(buf.subarray(r.headEnd));
      return;
    }
    this.res = r;
    const h = r.headers;
    if (r.connectionTokens !== null) for (const t of r.connectionTokens) h.remove(t);
    if (r.status === 101) {
      this.tunnel = true;
      if (this.tunnelIdleMs > 0 && this.conn !== null) this.conn.socket.setTimeout(this.tunnelIdleMs, () => this.failed('reset', 'upgraded connection idle'));
      this.sink.onResponse(101, h, false, r.reason);
      if (!this.done && r.headEnd < buf.length) this.onUpstreamData(buf.subarray(r.headEnd));
      return;
    }
    if (r.bodyKind === RBODY_CHUNKED) this.resDecoder = new ChunkedDecoder();
    this.resRemaining = r.contentLength;
    const noBody = r.bodyKind === RBODY_NONE || (r.bodyKind === RBODY_LENGTH && r.contentLength === 0);
    this.sink.onResponse(r.status, h, noBody, r.reason);
    if (this.done) return;
    if (noBody) return this.responseDone(buf.length > r.headEnd);
    if (buf.length > r.headEnd) this.responseBody(buf, r.headEnd);
  }

  private responseBody(buf: Buffer, start: number): void {
    const r = this.res!;
    if (r.bodyKind === RBODY_LENGTH) {
      const n = Math.min(this.resRemaining, buf.length - start);
      this.resRemaining -= n;
      if (n > 0 && !this.sink.onData(own(start === 0 && n === buf.length ? buf : buf.subarray(start, start + n), UPSTREAM_READ))) this.pause();
      if (this.resRemaining === 0 && !this.done) this.responseDone(start + n < buf.length);
    } else if (r.bodyKind === RBODY_CHUNKED) {
      const d = this.resDecoder!;
      let more = true;
      const at = d.push(buf, start, buf.length, (b, s, e) => { if (!this.done) more = this.sink.onData(own(b.subarray(s, e), UPSTREAM_READ)) && more; });
      if (this.done) return;
      if (at < 0) return this.failed('protocol', `invalid chunked response: ${d.error}`);
      if (!more) this.pause();
      if (d.done) this.responseDone(at < buf.length);
    } else if (r.bodyKind === RBODY_CLOSE) {
      if (!this.sink.onData(own(start === 0 ? buf : buf.subarray(start), UPSTREAM_READ))) this.pause();
    }
  }

  /** The response is complete: the connection goes back to the pool (reused when both sides ended cleanly). */
  private responseDone(extraBytes: boolean): void {
    this.done = true;
    const c = this.conn;
    this.conn = null;
    if (c !== null) {
      if (this.paused) c.socket.resume();
      c.pool.release(c, this.res!.keepAlive && this.reqEnded && !extraBytes);
    }
    this.sink.onEnd();
  }

  onUpstreamClose(_err: Error | undefined): void {
    const c = this.conn;
    this.conn = null;
    if (this.done) return;
    const r = this.res;
    if (this.tunnel || (r !== null && r.bodyKind === RBODY_CLOSE)) {
      this.done = true;
      this.sink.onEnd();
      return;
    }
    if (r === null && !this.gotBytes && c !== null && c.reused) return this.failed('stale', 'reused upstream connection closed before the response');
    const why = r === null && !this.gotBytes && c !== null ? c.closedUnanswered() : undefined;
    if (why !== undefined) return this.failed('reset', why);
    this.failed('reset', r === null ? 'upstream closed the connection before the response head' : 'upstream closed mid-response');
  }

  private failed(kind: 'reset' | 'protocol' | 'stale', message: string): void {
    if (this.done) return;
    this.done = true;
    const c = this.conn;
    this.conn = null;
    if (c !== null) { c.owner = null; c.destroy(); }
    this.sink.onFailure(kind, message);
  }
}

