/**
 * Security counters of a proxy: refusals by reason (mTLS peer checks, plaintext toward
 * STRICT, JWT, authorization). They are declared fields of ProxyStats (stats.ts).
 */
import type { ProxyContext } from '../context.js';
import type { ProxyStats } from '../stats.js';

/** The proxy's security counters (ProxyStats declares them; kept until its callers read `ctx.stats`). */
export function securityStats(ctx: Pick<ProxyContext, 'stats'>): ProxyStats {
  return ctx.stats;
}

/** Counts a refusal whose message carries a BOWLINE_E_ code (no-op for other codes). */
export function countRefusal(ctx: Pick<ProxyContext, 'stats'>, message: string): void {
  ctx.stats.countRefusal(message);
}
