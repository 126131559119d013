/**
 * The one interface every upstream call goes through, whatever the protocol on either side
 * (undici's dispatch shape): the exchange hands a request and a sink to a client, writes the
 * body through the returned call, and hears the response through the sink. Two clients fulfil
 * it: HTTP/1.1 on the pooled raw-socket client (h1-call.ts: strict parser, Istio's cluster-wide
 * connection limits, 503 UO) and HTTP/2 on our own codec (h2/wire-session.ts via h2/upstream.ts).
 * Retries and timeouts are the exchange's, around one dispatch per attempt.
 */
import type { Headers } from '../http/head.js';

/**
 * Why a call failed. `connect`/`connect-timeout`: never connected (UF); `refused`: the upstream
 * refused the request unprocessed (HTTP/2 REFUSED_STREAM or beyond GOAWAY: safe to retry);
 * `reset`: cut after it was sent (UC); `stale`: a reused keep-alive connection closed before any
 * response byte (the upstream closed it while idle: safe to send once more on a new connection);
 * `protocol`: the upstream's response could not be parsed (502 UPE before the head, a reset after).
 */
export type FailureKind = 'connect' | 'connect-timeout' | 'refused' | 'reset' | 'stale' | 'protocol';

/** What an upstream call reports back. Never called after `abort()`. */
export interface CallSink {
  /**
   * The final response head (interim 1xx never reach here, but 101 for an upgrade does).
   * `endStream`: no body follows (a gRPC trailers-only response, HEAD, 204, 304, or a zero
   * length). Headers are end-to-end only; `content-length` stays when the upstream sent it.
   * `reason`: the HTTP/1.1 reason phrase, when the upstream spoke HTTP/1.1.
   */
  onResponse(status: number, headers: Headers, endStream: boolean, reason?: string): void;
  /** Body bytes (after a 101: the tunnel's raw bytes); return false to ask for a pause (`resume()` later). */
  onData(chunk: Buffer): boolean;
  onTrailers(trailers: Headers): void;
  onEnd(): void;
  onFailure(kind: FailureKind, message: string): void;
}

/** One upstream request in flight. */
export interface UpstreamCall {
  /**
   * The verified SPIFFE id of the server on the connection this call went over (read once per
   * connection, tls/upstream.ts upstreamPeerIdentity); '' for plaintext, an unverified chain, no SPIFFE id, or
   * before the call has a connection. The exchange reads it when the response head arrives.
   */
  readonly peerIdentity: string;
  /** Request body bytes (after a 101: raw tunnel bytes); false when the caller should wait for `onDrain`. */
  write(chunk: Buffer): boolean;
  /** The request body is complete. */
  end(): void;
  /** Gives up the call (the connection is closed or the stream reset); the sink hears nothing more. */
  abort(): void;
  /** Stops delivering response bytes until `resume()`. */
  pause(): void;
  resume(): void;
  /** Calls `fn` once the call can take more body bytes. */
  onDrain(fn: () => void): void;
}

/** The request an exchange asks a client to send (the same object for every attempt). */
export interface UpstreamRequest {
  method: string;
  /** Origin-form path with query, as routing rewrote it. */
  path: string;
  /** Host / :authority, as routing rewrote it. */
  authority: string;
  /** The request's fields; hop-by-hop ones are dropped by each client as its protocol requires. */
  headers: Headers;
  /** Extra hop-by-hop names the client's Connection header listed, or null. */
  connectionTokens: string[] | null;
  /** Body length: 0 none, n known, -1 unknown (streamed until `end()`). */
  bodyLength: number;
  /** The Upgrade token (websocket) when the route allows upgrades: HTTP/1.1 only. */
  upgrade: string | undefined;
  /** HTTP/1.1 head text cached by the HTTP/1.1 client; cleared when the headers change between attempts. */
  h1Head?: string | undefined;
}
