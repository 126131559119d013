/**
 * The upstreams of one proxy (ProxyContext.upstreams), per cluster: the HTTP/1.1 connection
 * pool (pool.ts), the HTTP/2 sessions (h2/upstream.ts) and the number of open TCP proxy
 * sessions (tcp/session.ts, for the cluster's maxConnections). Made on first use, kept in step
 * with each applied config (`apply`), closed with the proxy.
 *
 * The HTTP/2 client (h2/upstream.ts and our HTTP/2 codec) is loaded only by a proxy that can
 * need it (`loadH2Upstream`): the first config with an HTTP/2 cluster (proxy.ts awaits it before
 * applying) or the first HTTP/2 downstream connection (detect/dispatch.ts loads it with the
 * HTTP/2 server). A proxy that speaks only HTTP/1.1 does not hold it (docs/performance.md, Memory).
 */
import type { Cluster } from '../../proxy-config/types.js';
import type { ClusterManager } from '../cluster/index.js';
import type { ProxyContext } from '../context.js';
import type * as H2Upstream from '../h2/upstream.js';
import type { ClusterCalls } from '../h2/upstream.js';
import { ClusterPool } from './pool.js';

let h2: typeof H2Upstream | undefined;
let h2Loading: Promise<void> | undefined;

/** Loads the HTTP/2 upstream client (once); `Upstreams.sessions` needs it loaded. */
export function loadH2Upstream(): Promise<void> {
  return (h2Loading ??= import('../h2/upstream.js').then((m) => { h2 = m; }));
}

/** Whether requests to `c` can go over HTTP/2 whatever the downstream protocol (upstream/dispatch.ts `speaksH2`). */
export function clusterSpeaksH2(c: Cluster): boolean {
  return c.protocol === 'http2' || c.h2Upgrade === true;
}

/** Per-cluster upstream state of a proxy. */
export class Upstreams {
  /** HTTP/1.1 pools by cluster name (the admin's /clusters reads them). */
  readonly pools = new Map<string, ClusterPool>();
  private readonly h2 = new Map<string, ClusterCalls>();
  /** Open TCP proxy sessions by cluster name. */
  readonly tcpOpen = new Map<string, number>();

  constructor(private readonly clusters: ClusterManager, private readonly owner: Pick<ProxyContext, 'stats' | 'log'>) {}

  /** The HTTP/1.1 pool of `cluster` (created on first use, following the cluster's TLS). */
  pool(cluster: string): ClusterPool {
    let p = this.pools.get(cluster);
    if (p === undefined) {
      const clusters = this.clusters;
      this.pools.set(cluster, (p = new ClusterPool(cluster, clusters.get(cluster)?.config.connectionPool, this.owner.stats, () => clusters.get(cluster)?.tls)));
    }
    return p;
  }

  /**
   * The HTTP/2 sessions of `cluster`, following its current config and TLS; undefined when the
   * cluster is gone, or (a bug: see `loadH2Upstream`'s callers) when the HTTP/2 client is not loaded yet.
   */
  sessions(cluster: string): ClusterCalls | undefined {
    const state = this.clusters.get(cluster);
    if (state === undefined) return undefined;
    if (h2 === undefined) {
      void loadH2Upstream();
      this.owner.log('h2-upstream-not-loaded', `cluster ${cluster}: HTTP/2 request before the HTTP/2 upstream client was loaded; answered as if the cluster were unavailable (BOWLINE_E_PROXY_INTERNAL)`);
      return undefined;
    }
    const tls = state.tls;
    let c = this.h2.get(cluster);
    if (c !== undefined && (c.config !== state.config || c.tls !== tls)) {
      // Config changed: new connections follow it; sessions in use finish on their own.
      if (c.tls !== tls) { c.close(); c = undefined; } else c.config = state.config;
    }
    if (c === undefined) this.h2.set(cluster, (c = new h2.ClusterCalls(state.config, tls, this.owner)));
    return c;
  }

  /** A config was applied: pools of removed clusters close, the others take the new limits. */
  apply(): void {
    for (const [name, p] of this.pools) {
      const state = this.clusters.get(name);
      if (state === undefined) { p.close(); this.pools.delete(name); } else p.setLimits(state.config.connectionPool);
    }
  }

  /** Closes every pool and HTTP/2 session (proxy closing). */
  close(): void {
    for (const p of this.pools.values()) p.close();
    for (const c of this.h2.values()) c.close();
    this.h2.clear();
  }
}
