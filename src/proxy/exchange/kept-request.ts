/**
 * The last finished request's objects -- its exchange and its last upstream call -- kept until the
 * next request finishes.
 *
 * Why: TurboFan's code for the request path checks the hidden classes ("maps") of the request's
 * objects and holds them, and some objects it specialised on, weakly. While requests flow there is
 * always an instance alive; once traffic stops, the first full GC finds every object of those
 * classes dead, clears the maps and deoptimises each function whose code held them ("weak objects"
 * in `--trace-deopt`). The proxy runs such a GC in every quiet period (idle-gc.ts, for RSS), so the
 * next burst started in the interpreter: measured with `--trace-deopt`, 30-60 request-path
 * functions (the head scanner, the exchange, the upstream call, the responder) thrown away by each
 * idle GC, and at 1000 rps V8 took ~3 s to optimise them again -- 165-210 us of CPU per request
 * instead of ~95-115 for those seconds, p99 through one proxy 2.3-3.7 ms instead of ~0.6
 * (docs/performance.md, "The quiet period's GC and the optimised code"). V8's own remedy, keeping
 * such maps for a few GCs (`--retain-maps-for-n-gc`), did not stop it here (16 and 50 deoptimised
 * as many). One live request graph does: a few KiB, replaced at every request.
 */
export class KeptRequest {
  /** The last finished exchange (and through it its downstream, head and route). */
  exchange: object | undefined = undefined;
  /** The last upstream call a finished request made (HTTP/1.1 or HTTP/2 client side, its response head). */
  call: object | undefined = undefined;

  /** Called as a request finishes: `call` is its last upstream call, null when it made none (a local reply). */
  keep(exchange: object, call: object | null): void {
    this.exchange = exchange;
    if (call !== null) this.call = call;
  }
}
