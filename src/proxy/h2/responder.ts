/**
 * The responder port of an HTTP/2 downstream: what a request exchange drives on the client's
 * stream (our codec's WireStream, h2/server.ts). The exchange owns the request's state (attempts, retries, timeouts, records); the port only frames.
 *
 * Contract agreed with the protocol-neutral exchange (issue 18 item 1): one port per downstream
 * protocol; the exchange calls `respond` once (or `reset`), then `write`* and `end`, and
 * receives the request side through the H2RequestSink it binds. Nothing the port calls on the
 * sink may throw into the port (the exchange catches and resets), and the port never throws.
 */
import type { Headers } from '../http/head.js';

/** The downstream HTTP/2 stream as an exchange drives it. */
export interface H2Responder {
  /** The stream can no longer carry a response (reset either way, finished, or the connection is gone). */
  readonly closed: boolean;
  /** Receives the request body and the stream's end (called once, before any of them). */
  bind(sink: H2RequestSink): void;
  /**
   * Sends the response head (`headers` are the regular fields; connection-specific ones and `te`
   * are dropped). `endStream`: nothing follows (empty or trailers-only response).
   */
  respond(status: number, headers: Headers, endStream: boolean): void;
  /** Response body; false when it waits for the client's window: more only after onDrain. */
  write(chunk: Buffer): boolean;
  /** Ends the response, with a trailing header block when `trailers` has fields. */
  end(trailers?: Headers): void;
  /** Calls `fn` once the buffered response body went out (at once when nothing waits). */
  onDrain(fn: () => void): void;
  /** Resets the stream from our side (RST_STREAM `code`); never counted as the client's reset. */
  reset(code: number): void;
  /** Stops crediting the client's window for request body bytes (backpressure toward the client). */
  pause(): void;
  /** Credits again what was held while paused. */
  resume(): void;
}

/** The request side of a stream, as the port delivers it to the exchange. */
export interface H2RequestSink {
  /** Request body bytes (flow control credits them back unless the port is paused). */
  onRequestData(chunk: Buffer): void;
  /** The client ended the request (END_STREAM; request trailers are not forwarded). */
  onRequestEnd(): void;
  /** The stream closed before the exchange finished it: reset by the client (`byPeer`), or the connection ended. */
  onStreamClosed(code: number, byPeer: boolean): void;
}
