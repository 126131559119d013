/**
 * One upstream endpoint as the proxy tracks it: the config's facts plus live counters and
 * outlier state. The same object survives config updates while its cluster keeps its address,
 * so ejections and counters are not lost to a push.
 */
import type { Endpoint } from '../../proxy-config/types.js';

/** Outlier-detection state of one endpoint. */
export interface OutlierState {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Consecutive connect failures / resets / timeouts (only counted with consecutiveLocalOriginFailures). */
  consecutiveLocal?: number;
  /** Ejected until this time (injected clock); 0 when not ejected. */
  ejectedUntil: number;
  /** Current ejection multiplier (grows with each ejection, decays while healthy). */
  multiplier: number;
  /** Total ejections. */
  ejections: number;
  /** When the last ejection ended (for the multiplier's decay). */
  lastUneject?: number;
}

/** `address:port`, with IPv6 literals bracketed: the endpoint's identity within its cluster. */
export function endpointKey(address: string, port: number): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A live upstream endpoint. Connection pools may key on `key`. */
export class UpstreamEndpoint {
  /** `address:port`. */
  readonly key: string;
  /** The endpoint as last configured (labels, identity, tlsMode, ...). */
  config: Endpoint;
  /** In-flight attempts (picked, not yet reported). */
  active = 0;
  /** Attempts picked in total. */
  requests = 0;
  /** Attempts reported as failures. */
  errors = 0;
  /** When the endpoint joined a running cluster (injected clock), for slow start; undefined: there from the cluster's start. */
  addedAt: number | undefined = undefined;
  readonly outlier: OutlierState = { consecutive5xx: 0, consecutiveGateway: 0, ejectedUntil: 0, multiplier: 0, ejections: 0 };

  constructor(readonly cluster: string, config: Endpoint) {
    this.config = config;
    this.key = endpointKey(config.address, config.port);
  }

  /** The address to connect to. */
  get address(): string { return this.config.address; }
  /** The port to connect to. */
  get port(): number { return this.config.port; }
  /** Relative weight for load balancing (default 1). */
  get weight(): number { return this.config.weight && this.config.weight > 0 ? this.config.weight : 1; }
  /** Registry health: only `healthy` (or unset) endpoints get traffic. */
  get healthy(): boolean { return this.config.health === undefined || this.config.health === 'healthy'; }
}
