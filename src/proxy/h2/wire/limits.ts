/**
 * Per-connection abuse accounting for the HTTP/2 codec, in fixed windows on an injectable clock:
 * - rapid reset (CVE-2023-44487): streams the peer resets before we finished them; over
 *   `maxResets` in the window and more than half of the window's streams -> ENHANCE_YOUR_CALM;
 * - SETTINGS and PING floods: each forces an ACK; more than `maxControl` of them in the window
 *   -> ENHANCE_YOUR_CALM (a real peer sends a handful).
 * CONTINUATION floods and oversized header blocks are bounded by size and frame count per block
 * in the connection itself (connection.ts).
 */

/** Limits of one connection (defaults in H2_LIMITS). */
export interface H2Limits {
  maxResets: number;
  maxControl: number;
  windowMs: number;
  /** Octets of one header block (HEADERS + CONTINUATION) before the connection is closed ENHANCE_YOUR_CALM. */
  maxHeaderBlock: number;
  /** Frames of one header block (HEADERS + CONTINUATIONs). */
  maxBlockFrames: number;
}

/** Defaults, generous for real peers. */
export const H2_LIMITS: H2Limits = { maxResets: 100, maxControl: 200, windowMs: 10_000, maxHeaderBlock: 256 * 1024, maxBlockFrames: 64 };

/** The end of the message of the connection error a rapid reset ends in (the server logs it as BOWLINE_E_H2_RESET_FLOOD). */
export const RAPID_RESET = 'too many streams reset by the client (rapid reset)';

/** Counters of one connection; each method returns true once the peer crossed a limit. */
export class FloodGuard {
  private start: number;
  private streams = 0;
  private resets = 0;
  private control = 0;

  constructor(private readonly limits: H2Limits, private readonly now: () => number) {
    this.start = now();
  }

  private roll(): void {
    const t = this.now();
    if (t - this.start >= this.limits.windowMs) { this.start = t; this.streams = 0; this.resets = 0; this.control = 0; }
  }

  /** The peer opened a stream. */
  opened(): void { this.roll(); this.streams++; }

  /** The peer reset a stream we had not finished. */
  reset(): boolean { this.roll(); this.resets++; return this.resets > this.limits.maxResets && this.resets * 2 > this.streams; }

  /** The peer sent a SETTINGS or PING that needs an ACK. */
  controlFrame(): boolean { this.roll(); this.control++; return this.control > this.limits.maxControl; }
}
