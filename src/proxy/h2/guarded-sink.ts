/**
 * The upstream side of an HTTP/2-path call enters the proxy through CallSink callbacks fired by
 * node:http2 / node:http stream events. This wrapper keeps a throw in any of them from reaching
 * the event loop: it is reported (BOWLINE_E_PROXY_INTERNAL, internal-error.ts), the call ends as
 * a reset for the request, and later events of that call are dropped.
 */
import type { ProxyContext } from '../context.js';
import { reportInternalError } from '../internal-error.js';
import type { CallSink, FailureKind } from '../upstream/call.js';

/** A CallSink that never throws into the caller. */
class GuardedSink implements CallSink {
  private broken = false;

  constructor(private readonly sink: CallSink, private readonly ctx: Pick<ProxyContext, 'stats' | 'log'>, private readonly where: string) {}

  onResponse(status: number, headers: Parameters<CallSink['onResponse']>[1], endStream: boolean, reason?: string): void {
    if (this.broken) return;
    try { this.sink.onResponse(status, headers, endStream, reason); } catch (err) { this.threw(err); }
  }

  onData(chunk: Buffer): boolean {
    if (this.broken) return true;
    try { return this.sink.onData(chunk); } catch (err) { this.threw(err); return true; }
  }

  onTrailers(trailers: Parameters<CallSink['onTrailers']>[0]): void {
    if (this.broken) return;
    try { this.sink.onTrailers(trailers); } catch (err) { this.threw(err); }
  }

  onEnd(): void {
    if (this.broken) return;
    try { this.sink.onEnd(); } catch (err) { this.threw(err); }
  }

  onFailure(kind: FailureKind, message: string): void {
    if (this.broken) return;
    try { this.sink.onFailure(kind, message); } catch (err) { this.threw(err); }
  }

  private threw(err: unknown): void {
    this.broken = true;
    reportInternalError(this.ctx, this.where, err);
    try { this.sink.onFailure('reset', 'internal error (BOWLINE_E_PROXY_INTERNAL)'); } catch { /* already reported */ }
  }
}

/** Wraps `sink` so that nothing it throws escapes (one small object per upstream call). */
export function guardSink(sink: CallSink, ctx: Pick<ProxyContext, 'stats' | 'log'>, where: string): CallSink {
  return new GuardedSink(sink, ctx, where);
}
