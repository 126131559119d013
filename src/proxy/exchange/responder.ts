/**
 * The responder port: what one request's downstream side offers the protocol-neutral exchange
 * (exchange/exchange.ts), and what the exchange offers back. One Responder per request: the
 * HTTP/1.1 connection makes one per request it parses (http/responder.ts: framing, keep-alive,
 * 100-continue, upgrades); an HTTP/2 server session makes one per stream (respond, DATA with
 * flow control, trailers, RST_STREAM). The exchange never sees bytes of the downstream protocol.
 *
 * Contract agreed with the downstream HTTP/2 server (h2d): the server session, per stream,
 *   1. builds a RequestHead (http/request-head.ts; `bodyKind` BODY_NONE when the HEADERS frame
 *      ended the stream, BODY_LENGTH with content-length, else BODY_CHUNKED = "unknown length"),
 *   2. creates `new Exchange(responder, head, listener, ctx)` and calls `run(x)` (http/pipeline.ts)
 *      on a later turn (setImmediate: a stream reset in the same read never starts a request),
 *   3. feeds the exchange: `x.requestData(chunk)` per DATA frame payload (it may call
 *      `responder.pause()` to stop crediting the window until `resume()`), `x.requestEnd()` on
 *      END_STREAM, `x.clientGone()` when the client reset the stream or the connection closed;
 *      a throw in its own handling of the stream goes to `x.downstreamFault(where, err)`,
 *   4. implements the methods below on the stream. Every method must be safe to call after the
 *      stream closed (then it does nothing). Nothing here may throw into the exchange.
 * HTTP/2 streams reach the exchange through h2/stream-side.ts, which adapts the HTTP/2 responder
 * port (h2/responder.ts) of our codec (h2/server.ts).
 */
import type { Headers } from '../http/head.js';

/** HTTP/2 error codes the exchange asks a stream to be reset with (RFC 9113 7). */
export const RESET_INTERNAL_ERROR = 0x2;

/** One request's downstream side, as the exchange drives it. */
export interface Responder {
  /** Telemetry's request_protocol: `HTTP/1.1` or `HTTP/2`. */
  readonly protocol: 'HTTP/1.1' | 'HTTP/2';
  /** The client's address (x-forwarded-for, source.ip in authorization). */
  readonly remoteAddress: string;
  /** `address:port` of the client (access logs). */
  readonly remote: string;
  /**
   * Sends the response head. `end`: no body follows (HEAD, 204, 304, a gRPC trailers-only
   * response, an empty local reply). `headers` are end-to-end; `content-length` is present when
   * the length is known (HTTP/1.1 frames with it, else chunked). `reason`: an HTTP/1.1 upstream's
   * reason phrase (HTTP/1.1 writes it; others ignore it). A 101 turns an HTTP/1.1 connection into
   * a tunnel: later `write`s are raw bytes, and request bytes go to `requestData` raw.
   */
  respond(status: number, headers: Headers, end: boolean, reason?: string): void;
  /** Response body bytes; false when the client is not reading fast enough (then wait for `onDrain`). */
  write(chunk: Buffer): boolean;
  /**
   * The response is complete. `trailers` are sent when the client takes them (HTTP/2 with
   * `wantsTrailers`); HTTP/1.1 drops them.
   */
  end(trailers?: Headers): void;
  /** Calls `fn` once the client drained what `write` queued. */
  onDrain(fn: () => void): void;
  /** Stops delivering request body (HTTP/1.1: stop reading the socket; HTTP/2: stop crediting the window). */
  pause(): void;
  resume(): void;
  /**
   * The response cannot be completed: HTTP/1.1 closes the connection; HTTP/2 resets the stream with
   * `code` (RESET_INTERNAL_ERROR by default; a fault abort passes its configured code).
   */
  reset(code?: number): void;
  /**
   * The exchange ended (after `end`, `reset`, or when the client went away): the responder may
   * take the next request (HTTP/1.1 keep-alive) or forget the stream. Called exactly once.
   */
  finished(): void;
  /** The response will wait for trailers (HTTP/2: gRPC, or the request said `te: trailers`); false otherwise. */
  readonly wantsTrailers: boolean;
  /** Sends `100 Continue` when the client expects it (HTTP/1.1); absent elsewhere. */
  continue?(): void;
  /** CONNECT on an outbound listener: turns the connection into a TCP tunnel to host:port (HTTP/1.1 only; it answers 405 itself when it cannot). */
  tunnel?(host: string, port: number): void;
  /** The verified SPIFFE id of an mTLS client ('' when none). */
  readonly peerIdentity: string;
  /** A captured connection's original destination (capture), for passthrough clusters. */
  readonly capturedDst: { address: string; port: number } | undefined;
}
