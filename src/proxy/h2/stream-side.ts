/**
 * An HTTP/2 client stream as the protocol-neutral exchange's responder (exchange/responder.ts):
 * adapts the HTTP/2 responder port (responder.ts: our codec's WireStream, server.ts) and feeds
 * the exchange the stream's request body, end and closure. Trailers go
 * to clients that take them (gRPC, or `te: trailers`: the response then ends with a HEADERS
 * frame); others end with their last DATA. Nothing thrown while handling the stream's events
 * escapes: it is reported and the stream reset (internal-error.ts).
 */
import type { Exchange } from '../exchange/exchange.js';
import type { Responder } from '../exchange/responder.js';
import type { Headers } from '../http/head.js';
import type { RequestHead } from '../http/request-head.js';
import { reportInternalError } from '../internal-error.js';
import { isGrpc } from './grpc.js';
import type { H2RequestSink, H2Responder } from './responder.js';
import { ErrorCode } from './wire/errors.js';

/** One client stream behind the exchange's responder port. */
export class H2StreamSide implements Responder, H2RequestSink {
  readonly protocol = 'HTTP/2';
  readonly wantsTrailers: boolean;
  /** Capture's original destination is not looked up for HTTP/2 connections. */
  readonly capturedDst = undefined;
  private x: Exchange | null = null;

  constructor(
    readonly port: H2Responder, head: RequestHead, readonly remoteAddress: string, readonly remote: string,
    readonly peerIdentity: string,
  ) {
    const te = head.headers.get('te');
    this.wantsTrailers = isGrpc(head.headers.get('content-type')) || (te !== undefined && te.toLowerCase() === 'trailers');
  }

  /** Binds the stream's request side to `x` (call once, right after creating the exchange). */
  attach(x: Exchange): void {
    this.x = x;
    this.port.bind(this);
  }

  // ------------------------------------------------------------------ H2RequestSink

  onRequestData(chunk: Buffer): void {
    const x = this.x!;
    try { x.requestData(chunk); } catch (err) { x.downstreamFault('h2 downstream stream', err); }
  }

  onRequestEnd(): void {
    const x = this.x!;
    try { x.requestEnd(); } catch (err) { x.downstreamFault('h2 downstream stream', err); }
  }

  onStreamClosed(): void {
    const x = this.x!;
    try { x.clientGone(); } catch (err) { reportInternalError(x.ctx, 'h2 downstream stream close', err); }
  }

  // ------------------------------------------------------------------ Responder

  respond(status: number, headers: Headers, end: boolean): void {
    const p = this.port;
    if (p.closed) return;
    try {
      p.respond(status, headers, end);
    } catch (err) {
      this.x?.ctx.log('h2respond', `cannot send response head: ${String(err)}`);
      p.reset(ErrorCode.INTERNAL_ERROR);
    }
  }

  write(chunk: Buffer): boolean {
    return this.port.closed ? true : this.port.write(chunk);
  }

  end(trailers?: Headers): void {
    if (!this.port.closed) this.port.end(this.wantsTrailers ? trailers : undefined);
  }

  onDrain(fn: () => void): void { this.port.onDrain(fn); }

  pause(): void { this.port.pause(); }

  resume(): void { this.port.resume(); }

  reset(code?: number): void {
    if (!this.port.closed) this.port.reset(code ?? ErrorCode.INTERNAL_ERROR);
  }

  finished(): void {
    this.x = null;
  }
}
