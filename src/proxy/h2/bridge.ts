/**
 * HTTP/1.1 clients toward HTTP/2 upstreams (a cluster with `protocol: http2`, or
 * `h2Upgrade` -- Istio's h2UpgradePolicy UPGRADE). The HTTP/1.1 Exchange (http/exchange.ts)
 * talks to an upstream connection by writing request bytes and reading response bytes; this
 * bridge is such a connection, backed by one stream of a multiplexed HTTP/2 session: it
 * parses the head and body framing the Exchange writes, sends them as an HTTP/2 request, and
 * hands the HTTP/2 response back as HTTP/1.1 bytes (chunked unless the length is known).
 * Trailers do not survive HTTP/1.1 (dropped, as the chunked decoder drops them anyway).
 * Upgrade requests (WebSocket) are never bridged.
 */
import type { Socket } from 'node:net';
import { ChunkedDecoder } from '../http/chunked.js';
import { HeadError, type Headers } from '../http/head.js';
import { BODY_CHUNKED, BODY_LENGTH, parseRequestHead, type RequestHead } from '../http/request-head.js';
import type { Exchange } from '../http/exchange.js';
import type { UpstreamEndpoint } from '../cluster/index.js';
import type { ClusterPool, ConnOwner, UpstreamConn, Waiter } from '../upstream/pool.js';
import { upstreamTlsOf } from '../detect/chains.js';
import { REASONS } from '../http/serialize.js';
import { toNode } from './headers.js';
import { clusterCalls, type ClusterCalls } from './upstream.js';
import type { CallSink, FailureKind, UpstreamCall } from '../upstream/call.js';

/** The pool to use for `x`: an HTTP/2 bridge when its cluster wants HTTP/2 upstream, else undefined (the HTTP/1.1 pool). */
export function h2UpstreamFor(x: Exchange): ClusterPool | undefined {
  if (x.head.upgrade !== undefined) return undefined;
  const state = x.ctx.clusters.get(x.cluster);
  const c = state?.config;
  if (c === undefined || !(c.protocol === 'http2' || c.h2Upgrade === true)) return undefined;
  const calls = clusterCalls(x.ctx, x.cluster, upstreamTlsOf(c));
  return calls === undefined ? undefined : (new BridgePool(calls) as unknown as ClusterPool);
}

/** Pool-shaped front of the HTTP/2 calls of one cluster, as the Exchange expects. */
class BridgePool {
  private waiting = new Set<Waiter>();

  constructor(private readonly calls: ClusterCalls) {}

  acquire(ep: UpstreamEndpoint, waiter: Waiter): 'wait' | 'overflow' {
    if (!this.calls.hasRoom()) return 'overflow';
    this.waiting.add(waiter);
    // Never call back before `acquire` returned: the Exchange marks itself waiting after this returns.
    this.calls.ready(ep, (err) => queueMicrotask(() => {
      if (!this.waiting.delete(waiter)) return;
      if (err !== undefined) waiter.onConnectFailure(/timeout/.test(err.message) ? 'timeout' : 'refused', err.message);
      else waiter.onConnection(new BridgeConn(this.calls, ep, this) as unknown as UpstreamConn);
    }));
    return 'wait';
  }

  cancel(waiter: Waiter): void {
    this.waiting.delete(waiter);
  }

  release(conn: UpstreamConn): void {
    (conn as unknown as BridgeConn).finish();
  }
}

/** One bridged request: an HTTP/1.1 "connection" made of one HTTP/2 stream. */
class BridgeConn implements CallSink {
  owner: ConnOwner | null = null;
  readonly reused = false;
  readonly socket: Socket;
  private head: RequestHead | null = null;
  private pending: Buffer | null = null;
  private call: UpstreamCall | null = null;
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private chunked = false;
  private closed = false;

  constructor(private readonly calls: ClusterCalls, private readonly ep: UpstreamEndpoint, readonly pool: BridgePool) {
    const drainWaiters: Array<() => void> = [];
    this.socket = {
      write: (data: string | Buffer, enc?: BufferEncoding): boolean => this.write(typeof data === 'string' ? Buffer.from(data, enc ?? 'latin1') : data),
      cork: () => {},
      uncork: () => {},
      pause: () => { this.call?.pause(); },
      resume: () => { this.call?.resume(); },
      once: (event: string, fn: () => void) => {
        if (event === 'drain') { if (this.call !== null) this.call.onDrain(fn); else drainWaiters.push(fn); }
      },
      setTimeout: () => {},
      destroy: () => this.destroy(),
    } as unknown as Socket;
  }

  /** Bytes from the Exchange: the request head first, then its body in the head's framing. */
  private write(b: Buffer): boolean {
    if (this.closed) return true;
    if (this.head === null) {
      const buf = this.pending === null ? b : Buffer.concat([this.pending, b]);
      const h = parseRequestHead(buf, 0, buf.length, 1 << 20);
      if (h === null) { this.pending = buf; return true; }
      this.pending = null;
      if (h instanceof HeadError) { this.fail('reset', `cannot bridge the request: ${h.message}`); return true; }
      this.head = h;
      this.start(h);
      if (h.headEnd < buf.length) return this.body(buf.subarray(h.headEnd));
      return true;
    }
    return this.body(b);
  }

  private start(h: RequestHead): void {
    const hs: Headers = h.headers;
    hs.remove('host');
    const endStream = h.bodyKind !== BODY_LENGTH && h.bodyKind !== BODY_CHUNKED || (h.bodyKind === BODY_LENGTH && h.contentLength === 0);
    if (h.bodyKind === BODY_LENGTH) { this.remaining = h.contentLength; if (h.contentLength > 0) hs.set('content-length', String(h.contentLength)); }
    if (h.bodyKind === BODY_CHUNKED) this.decoder = new ChunkedDecoder();
    const call = this.calls.h2(this.ep, toNode(hs, { ':method': h.method, ':path': h.path, ':authority': h.authority }), endStream, this);
    if (call === undefined) { this.fail('refused', 'cluster at http2MaxRequests'); return; }
    this.call = call;
  }

  private body(b: Buffer): boolean {
    const call = this.call;
    if (call === null) return true;
    if (this.decoder === null) {
      const n = Math.min(this.remaining, b.length);
      this.remaining -= n;
      const ok = n > 0 ? call.write(b.subarray(0, n)) : true;
      if (this.remaining === 0) call.end();
      return ok;
    }
    let ok = true;
    const d = this.decoder;
    const at = d.push(b, 0, b.length, (buf, s, e) => { ok = call.write(buf.subarray(s, e)) && ok; });
    if (at < 0) { this.fail('reset', 'invalid chunked body'); return true; }
    if (d.done) call.end();
    return ok;
  }

  // --- CallSink: the HTTP/2 response, handed back as HTTP/1.1 bytes
  onResponse(status: number, h: Headers, endStream: boolean): void {
    const known = h.get('content-length');
    let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
    for (let i = 0; i < h.names.length; i++) {
      const n = h.names[i]!;
      if (n === 'content-length' && !endStream) continue;
      head += n + ': ' + h.values[i] + '\r\n';
    }
    if (endStream) { if (known === undefined) head += 'content-length: 0\r\n'; }
    else if (known !== undefined) head += 'content-length: ' + known + '\r\n';
    else { head += 'transfer-encoding: chunked\r\n'; this.chunked = true; }
    this.owner?.onUpstreamData(Buffer.from(head + '\r\n', 'latin1'));
  }

  onData(chunk: Buffer): boolean {
    const o = this.owner;
    if (o === null) return true;
    o.onUpstreamData(this.chunked ? Buffer.concat([Buffer.from(chunk.length.toString(16) + '\r\n'), chunk, CRLF]) : chunk);
    return true; // the Exchange pauses this "socket" itself when the client is slow
  }

  onTrailers(): void {}

  onEnd(): void {
    if (this.chunked) this.owner?.onUpstreamData(LAST);
  }

  onFailure(_kind: FailureKind, message: string): void {
    this.fail('reset', message);
  }

  private fail(_kind: string, message: string): void {
    if (this.closed) return;
    this.closed = true;
    const o = this.owner;
    this.owner = null;
    this.call?.abort();
    o?.onUpstreamClose(new Error(message));
  }

  /** The Exchange is done with this connection. */
  finish(): void {
    this.closed = true;
    this.owner = null;
  }

  private destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner = null;
    this.call?.abort();
  }
}

const CRLF = Buffer.from('\r\n');
const LAST = Buffer.from('0\r\n\r\n');
