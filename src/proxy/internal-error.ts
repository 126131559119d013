/**
 * The data plane's last line of defence: a throw that escapes the code handling a socket or
 * stream event (a bug, or a hook that misbehaves) is caught where the event enters the proxy,
 * counted, logged once per place with a stable code, and turned into a local reply or a reset
 * of that one connection. It never reaches the event loop, so other connections keep flowing.
 */
import type { ProxyContext } from './context.js';

/** The code of an unexpected failure inside the proxy (docs/errors.md). */
export const PROXY_INTERNAL = 'BOWLINE_E_PROXY_INTERNAL';

/** Counts (`/stats` internalErrors) and logs an unexpected throw caught at an event boundary named `where`. */
export function reportInternalError(ctx: Pick<ProxyContext, 'stats' | 'log'>, where: string, err: unknown): void {
  ctx.stats.internalErrors++;
  const detail = err instanceof Error ? (err.stack ?? err.message).split('\n').slice(0, 4).join(' | ') : String(err);
  ctx.log('internal:' + where, `internal error in ${where}: ${detail}; the connection was answered 500 or reset (${PROXY_INTERNAL})`);
}
