/**
 * The HTTP/2 responder port (responder.ts) on a node:http2 server stream: the downstream that
 * BOWLINE_H2_DOWNSTREAM=node selects (downstream.ts). Trailers need node's `waitForTrailers`
 * at `respond` time; resets we send go through abuse.ts so they never count as the client's.
 */
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { Headers } from '../http/head.js';
import { resetByUs, resetOurStream } from './abuse.js';
import { toNode } from './headers.js';
import type { H2RequestSink, H2Responder } from './responder.js';

/** A node:http2 stream behind the responder port. */
export class NodeResponder implements H2Responder {
  private trailers: Headers | undefined;

  /** `onReset` is told of every stream that closed with an error code (either side). */
  constructor(private readonly stream: ServerHttp2Stream, private readonly onReset: () => void) {}

  get closed(): boolean { return this.stream.destroyed; }

  bind(sink: H2RequestSink): void {
    const s = this.stream;
    s.on('data', (chunk: Buffer) => sink.onRequestData(chunk));
    s.on('end', () => sink.onRequestEnd());
    s.on('error', noop);
    s.on('close', () => {
      if (s.rstCode !== constants.NGHTTP2_NO_ERROR) this.onReset();
      sink.onStreamClosed(s.rstCode ?? constants.NGHTTP2_CANCEL, !resetByUs(s));
    });
  }

  respond(status: number, headers: Headers, endStream: boolean, trailers: boolean): void {
    const s = this.stream;
    const h = toNode(headers, { ':status': status }, true);
    if (endStream) { s.respond(h, { endStream: true }); return; }
    if (!trailers) { s.respond(h); return; }
    s.respond(h, { waitForTrailers: true });
    s.once('wantTrailers', () => {
      const t = this.trailers;
      try { s.sendTrailers(t !== undefined ? toNode(t, undefined, true) : {}); } catch { s.close(); }
    });
  }

  write(chunk: Buffer): boolean { return this.stream.write(chunk); }

  end(trailers?: Headers): void {
    this.trailers = trailers;
    if (!this.stream.destroyed) this.stream.end();
  }

  onDrain(fn: () => void): void { this.stream.once('drain', fn); }

  reset(code: number): void { resetOurStream(this.stream, code); }

  pause(): void { this.stream.pause(); }

  resume(): void { this.stream.resume(); }
}

function noop(): void {}
