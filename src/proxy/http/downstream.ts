/**
 * One client connection of an HTTP listener: reads bytes, parses request heads, hands body
 * bytes to the request in flight, and keeps pipelined requests in order (the next head is
 * parsed only after the current response completed). Malformed heads get 400 and a close.
 */
import type { Socket } from 'node:net';
import type { ListenerSlot, ProxyContext } from '../context.js';
import { Flag } from '../record.js';
import { Exchange, type DownstreamSide } from './exchange.js';
import { HeadError } from './head.js';
import { run } from './pipeline.js';
import { parseRequestHead } from './request-head.js';

/** Pause reading when this many bytes of later pipelined requests are waiting. */
const MAX_BUFFERED = 64 * 1024;

/** Serves HTTP/1.1 on one accepted socket. */
export class Downstream implements DownstreamSide {
  readonly remoteAddress: string;
  readonly remote: string;
  /** The client's verified SPIFFE id when the connection came over mTLS (set by detect/dispatch.ts), else ''. */
  peerIdentity = '';
  private buf: Buffer | null = null;
  private x: Exchange | null = null;
  private closed = false;
  private paused = false;
  private parsing = false;
  private drainWaiters: Array<() => void> | null = null;

  constructor(readonly socket: Socket, private readonly slot: ListenerSlot, private readonly ctx: ProxyContext, private readonly onGone: (d: Downstream) => void) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remote = this.remoteAddress + ':' + (socket.remotePort ?? 0);
    socket.setNoDelay(true);
    ctx.stats.downstreamConnectionsTotal++;
    ctx.stats.downstreamConnectionsActive++;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.onSocketDrain());
    const idle = slot.current.idleTimeoutMs;
    if (idle > 0) socket.setTimeout(idle, () => { if (this.x === null) socket.destroy(); });
  }

  /** True while a request is in flight on this connection. */
  get busy(): boolean {
    return this.x !== null;
  }

  private onData(chunk: Buffer): void {
    const x = this.x;
    if (x !== null && !x.bodyDone) {
      const at = x.onBody(chunk, 0, chunk.length);
      if (at < 0 || at === chunk.length) return;
      chunk = chunk.subarray(at);
    }
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.x === null) this.next();
    else if (this.buf.length > MAX_BUFFERED) this.pause();
  }

  /** Parses and starts requests from the buffer while no request is in flight. */
  private next(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      while (this.buf !== null && this.x === null && !this.closed) {
        const buf = this.buf;
        const lst = this.slot.current;
        const r = parseRequestHead(buf, 0, buf.length, lst.maxRequestHeadersBytes);
        if (r === null) return;
        if (r instanceof HeadError) return this.reject(r);
        this.buf = r.headEnd < buf.length ? buf.subarray(r.headEnd) : null;
        this.ctx.stats.requestsTotal++;
        this.ctx.stats.requestsActive++;
        const x = new Exchange(this, r, lst, this.ctx);
        x.peerIdentity = this.peerIdentity;
        this.x = x;
        // Body bytes that came with the head go first, so the upstream gets head and body in one write.
        const rest = this.buf as Buffer | null;
        if (rest !== null && !x.bodyDone) {
          this.buf = null;
          const at = x.onBody(rest, 0, rest.length);
          if (at >= 0 && at < rest.length) this.buf = rest.subarray(at);
        }
        if (!x.done) run(x);
      }
    } finally {
      this.parsing = false;
    }
  }

  private reject(e: HeadError): void {
    this.ctx.stats.downstreamProtocolErrors++;
    this.ctx.stats.complete(400, Flag.DPE);
    const body = `${e.message} (${e.code})\n`;
    this.socket.end(`HTTP/1.1 ${e.status} Bad Request\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    this.closed = true;
    this.buf = null;
  }

  write(data: string | Buffer): boolean {
    if (this.closed && this.socket.destroyed) return true;
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  cork(): void { this.socket.cork(); }

  uncork(): void { this.socket.uncork(); }

  onDrain(fn: () => void): void {
    (this.drainWaiters ??= []).push(fn);
  }

  private onSocketDrain(): void {
    const w = this.drainWaiters;
    if (w === null) return;
    this.drainWaiters = null;
    for (const fn of w) fn();
  }

  finished(x: Exchange, keepAlive: boolean): void {
    if (this.x !== x) return;
    this.x = null;
    if (!keepAlive || this.closed) {
      this.closed = true;
      this.buf = null;
      this.socket.end();
      return;
    }
    this.resume();
    if (this.buf !== null) this.next();
  }

  abort(): void {
    this.closed = true;
    this.socket.destroy();
  }

  pause(): void {
    if (!this.paused) { this.paused = true; this.socket.pause(); }
  }

  resume(): void {
    if (this.paused) { this.paused = false; this.socket.resume(); }
  }

  /** Graceful drain: close now when idle, else after the response in flight. */
  drain(): void {
    if (this.x === null) { this.closed = true; this.socket.end(); }
  }

  private onClose(): void {
    this.closed = true;
    this.ctx.stats.downstreamConnectionsActive--;
    const x = this.x;
    this.x = null;
    if (x !== null) x.onDownstreamClose();
    this.onGone(this);
  }
}
