/**
 * The proxy's own counters, served by the admin listener's /stats. Plain numeric fields
 * incremented on the hot path (no maps, no labels); per-flag counts by bit index.
 */
import { Flag, type FlagName } from './record.js';

/** Process-wide counters of one proxy instance. */
export class ProxyStats {
  downstreamConnectionsTotal = 0;
  downstreamConnectionsActive = 0;
  requestsTotal = 0;
  requestsActive = 0;
  responses1xx = 0;
  responses2xx = 0;
  responses3xx = 0;
  responses4xx = 0;
  responses5xx = 0;
  /** Requests refused as malformed (400 and close). */
  downstreamProtocolErrors = 0;
  /** Connections closed with 408 because a request head did not complete within requestHeadersTimeoutMs. */
  downstreamHeadersTimeouts = 0;
  /** Unexpected throws caught at a socket or stream callback (BOWLINE_E_PROXY_INTERNAL); each cost one connection or request. */
  internalErrors = 0;
  upstreamConnectionsTotal = 0;
  upstreamConnectionsActive = 0;
  upstreamConnectFailures = 0;
  upstreamRequestsTotal = 0;
  upstreamRetries = 0;
  /** Retries not made because the cluster's maxRetries requests were already retrying (Envoy's upstream_rq_retry_overflow). */
  upstreamRetryOverflow = 0;
  upstreamResets = 0;
  mirrorRequests = 0;
  configReloads = 0;
  configRejected = 0;
  /** Count of requests carrying each flag, indexed by bit position. */
  readonly flagCounts = new Array<number>(16).fill(0);

  /** Counts a completed request with its status and flags. */
  complete(status: number, flags: number): void {
    const c = (status / 100) | 0;
    if (c === 2) this.responses2xx++;
    else if (c === 5) this.responses5xx++;
    else if (c === 4) this.responses4xx++;
    else if (c === 3) this.responses3xx++;
    else if (c === 1) this.responses1xx++;
    if (flags !== 0) for (let b = 0; b < 16; b++) if ((flags & (1 << b)) !== 0) this.flagCounts[b]!++;
  }

  /** A JSON-ready snapshot for /stats. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this)) if (typeof v === 'number') out[k] = v;
    for (const [name, bit] of Object.entries(Flag) as Array<[FlagName, number]>) out[`flag_${name}`] = this.flagCounts[Math.log2(bit)]!;
    return out;
  }
}
