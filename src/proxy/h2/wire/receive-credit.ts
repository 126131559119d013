/**
 * Backpressure on a stream's receive side, HTTP/2's way: DATA octets the reader has taken are
 * credited back to the peer (H2Connection.consumed: WINDOW_UPDATE), except while the reader is
 * paused; then they are owed and credited on resume, so the peer stops once the window is spent.
 * The one implementation for both ends of our codec: client streams toward an upstream
 * (wire-session.ts) and a downstream client's streams (server.ts).
 */

/** The receive-side flow control of one stream; a subclass says how octets are credited. */
export abstract class ReceiveCredit {
  private paused = false;
  /** Octets received while paused, credited on resume. */
  private owed = 0;

  /** Credits `n` octets back to the peer now (n > 0). */
  protected abstract credit(n: number): void;

  /** The reader took `n` DATA octets: credited now, or owed while paused. */
  received(n: number): void {
    if (this.paused) this.owed += n;
    else this.credit(n);
  }

  /** Stops crediting: the peer may send only what its window still allows. */
  pause(): void { this.paused = true; }

  /** Credits what was owed and credits at once again. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const n = this.owed;
    this.owed = 0;
    if (n > 0) this.credit(n);
  }
}
