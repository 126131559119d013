/**
 * HTTP/2 abuse limits beyond what node:http2's options give (those are set in downstream.ts:
 * concurrent streams, header list size and pairs, session memory, invalid frames, rejected
 * streams, outstanding PINGs and SETTINGS). Here:
 *
 * - Rapid reset (CVE-2023-44487): streams the client resets before their response completed
 *   ("premature resets", as Envoy counts them) are counted per connection in a window. Over the
 *   limit -- and more than half of the window's streams -- the connection gets GOAWAY
 *   ENHANCE_YOUR_CALM and is closed at once (the GOAWAY is flushed first), not left open.
 * - Error codes: when nghttp2 ends a session for a protocol violation, node's destroy would send
 *   GOAWAY INTERNAL_ERROR; `withRightGoawayCodes` makes it send the code RFC 9113 names
 *   (FLOW_CONTROL_ERROR, COMPRESSION_ERROR, ENHANCE_YOUR_CALM for floods, ...).
 */
import { constants, type Http2Stream, type ServerHttp2Session } from 'node:http2';

/** Defaults for the per-connection reset accounting. */
export const H2_RESET_LIMITS = {
  /** Premature resets tolerated per window before the connection is closed. */
  maxResets: 100,
  /** The accounting window. */
  windowMs: 10_000,
};

/**
 * Counts one connection's streams and premature resets in fixed windows (the clock is injectable
 * for tests). `reset()` returns true once the connection is abusive: more than `maxResets` in the
 * window and more than half of the window's streams.
 */
export class ResetGuard {
  private windowStart: number;
  private streams = 0;
  private resets = 0;

  constructor(readonly limit = H2_RESET_LIMITS.maxResets, private readonly windowMs = H2_RESET_LIMITS.windowMs, private readonly now: () => number = Date.now) {
    this.windowStart = now();
  }

  private roll(): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) { this.windowStart = t; this.streams = 0; this.resets = 0; }
  }

  /** A stream was opened by the client. */
  opened(): void {
    this.roll();
    this.streams++;
  }

  /** The client reset a stream before its response completed; true when the limit is crossed. */
  reset(): boolean {
    this.roll();
    this.resets++;
    return this.resets > this.limit && this.resets * 2 > this.streams;
  }
}

/** Streams this proxy reset itself (those never count as the client's resets). */
const ourResets = new WeakSet<Http2Stream>();

/** Resets a client stream from our side (RST_STREAM with `code`); not counted as a client reset. */
export function resetOurStream(stream: Http2Stream, code: number): void {
  ourResets.add(stream);
  if (!stream.destroyed) stream.close(code);
}

/** Whether the stream was reset by this proxy (resetOurStream). */
export function resetByUs(stream: Http2Stream): boolean {
  return ourResets.has(stream);
}

/** nghttp2 library error (as node's NghttpError.errno) -> the HTTP/2 error code for the GOAWAY. */
const GOAWAY_CODE: ReadonlyMap<number, number> = new Map([
  [-505, constants.NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_PROTO
  [-510, constants.NGHTTP2_STREAM_CLOSED], // NGHTTP2_ERR_STREAM_CLOSED
  [-522, constants.NGHTTP2_FRAME_SIZE_ERROR], // NGHTTP2_ERR_FRAME_SIZE_ERROR
  [-523, constants.NGHTTP2_COMPRESSION_ERROR], // NGHTTP2_ERR_HEADER_COMP
  [-524, constants.NGHTTP2_FLOW_CONTROL_ERROR], // NGHTTP2_ERR_FLOW_CONTROL
  [-531, constants.NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_HTTP_HEADER
  [-532, constants.NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_HTTP_MESSAGING
  [-536, constants.NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_SETTINGS_EXPECTED
  [-537, constants.NGHTTP2_ENHANCE_YOUR_CALM], // NGHTTP2_ERR_TOO_MANY_SETTINGS
  [-903, constants.NGHTTP2_PROTOCOL_ERROR], // NGHTTP2_ERR_BAD_CLIENT_MAGIC
  [-904, constants.NGHTTP2_ENHANCE_YOUR_CALM], // NGHTTP2_ERR_FLOODED
  [-905, constants.NGHTTP2_ENHANCE_YOUR_CALM], // NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
]);

/** The GOAWAY code for an error node ends a session with (undefined: node's own choice). */
export function goawayCodeFor(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: string; errno?: number };
  if (e.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES' || e.code === 'ERR_HTTP2_MAX_PENDING_SETTINGS_ACK' || e.code === 'ERR_HTTP2_SESSION_ERROR') return e.code === 'ERR_HTTP2_SESSION_ERROR' ? undefined : constants.NGHTTP2_ENHANCE_YOUR_CALM;
  return typeof e.errno === 'number' ? GOAWAY_CODE.get(e.errno) : undefined;
}

/** Makes node's destroy-on-error send the GOAWAY code the violation calls for (see the header comment). */
export function withRightGoawayCodes(session: ServerHttp2Session): void {
  const destroy = session.destroy.bind(session);
  session.destroy = ((error?: Error, code?: number) => {
    const mapped = code === undefined ? goawayCodeFor(error) : undefined;
    return mapped === undefined ? destroy(error, code) : destroy(error, mapped);
  }) as typeof session.destroy;
}
