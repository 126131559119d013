/**
 * The ClusterManager: every cluster of the running config with its endpoints, balancer and
 * outlier detector. `update` swaps in a new config atomically, keeping endpoint objects (and
 * so their outlier and counter state) for endpoints that persist. `pick` answers one attempt
 * (undefined means 503 UH); every pick must be followed by exactly one `report`.
 */
import type { Cluster, ClusterLoadAssignment, Endpoint, NodeInfo } from '../../proxy-config/types.js';
import { leastRequest, randomBalancer, roundRobin, type Balancer, type Usable, type WeightOf } from './balancer.js';
import { distributeBalancer, distributeWeights, priorityBalancer, priorityOf, type LocalityGroup } from './locality.js';
import { UpstreamEndpoint, endpointKey } from './endpoint.js';
import { OutlierDetector } from './outlier.js';
import { ringHash } from './ring-hash.js';
import type { CompiledUpstreamTls } from '../tls/upstream.js';
import type { ClusterSnapshot, PickContext, PickResult, UpstreamOutcome } from './types.js';

/** Clock and randomness, injectable for tests. */
export interface ClusterManagerOptions {
  now?: () => number;
  random?: () => number;
}

/** One cluster as the manager holds it. */
export interface ClusterState {
  readonly config: Cluster;
  readonly endpoints: readonly UpstreamEndpoint[];
  readonly balancer: Balancer;
  readonly outlier?: OutlierDetector;
  /** The cluster's compiled upstream TLS (tls/upstream.ts) of the config in force; undefined: plaintext. */
  readonly tls?: CompiledUpstreamTls;
  noHealthyUpstream: number;
  panicPicks: number;
  /** Requests retrying to this cluster right now (each holds one slot from its first retry until it ends). */
  retriesActive: number;
  /** Retries refused because `connectionPool.maxRetries` requests were already retrying. */
  retryOverflow: number;
  /** The balancer's inputs (cluster and endpoint configs) as text: an update with the same inputs keeps the balancer and its position. */
  readonly inputs?: string;
}

/** Slow start: an endpoint's weight scaled by max(minimumPercent, (age / duration) ^ (1 / aggression)) while it is young. */
export function warmupWeight(w: NonNullable<NonNullable<Cluster['loadBalancer']>['warmup']>, now: () => number): WeightOf {
  const min = (w.minimumPercent ?? 10) / 100;
  const exp = 1 / (w.aggression && w.aggression > 0 ? w.aggression : 1);
  return (ep) => {
    if (ep.addedAt === undefined) return ep.weight;
    const age = now() - ep.addedAt;
    if (age >= w.durationMs) return ep.weight;
    return ep.weight * Math.max(min, Math.pow(Math.max(0, age) / w.durationMs, exp));
  };
}

function simpleBalancer(c: Cluster, eps: readonly UpstreamEndpoint[], random: () => number, now: () => number): Balancer {
  const lb = c.loadBalancer;
  const weightOf = lb?.warmup ? warmupWeight(lb.warmup, now) : undefined;
  switch (lb?.policy) {
    case 'LEAST_REQUEST': return leastRequest(eps, random, weightOf);
    case 'RANDOM': return randomBalancer(eps, random);
    default: return roundRobin(eps, weightOf);
  }
}

function groupBy(eps: readonly UpstreamEndpoint[], key: (ep: UpstreamEndpoint) => string | number): Map<string | number, UpstreamEndpoint[]> {
  const out = new Map<string | number, UpstreamEndpoint[]>();
  for (const ep of eps) {
    const k = key(ep);
    const l = out.get(k);
    if (l) l.push(ep); else out.set(k, [ep]);
  }
  return out;
}

function buildBalancer(c: Cluster, eps: UpstreamEndpoint[], random: () => number, now: () => number, node: NodeInfo | undefined): Balancer {
  const lb = c.loadBalancer;
  if (lb?.consistentHash) return ringHash(eps, lb.consistentHash, random);
  const loc = c.localityLb;
  if (loc && node?.locality) {
    const group = (list: UpstreamEndpoint[], weight: number): LocalityGroup => ({ eps: list, balancer: simpleBalancer(c, list, random, now), weight });
    if (loc.distribute) {
      const byLocality = groupBy(eps, (ep) => ep.config.locality ?? '');
      const weights = distributeWeights(loc.distribute, node.locality, [...byLocality.keys()] as string[]);
      if (weights) return distributeBalancer([...byLocality].map(([l, list]) => group(list, weights.get(l as string) ?? 0)));
    } else if (loc.priorities) {
      const p = loc.priorities;
      const byPriority = groupBy(eps, (ep) => priorityOf(p, node, ep.config));
      return priorityBalancer([...byPriority].sort((a, b) => (a[0] as number) - (b[0] as number)).map(([, list]) => group(list, 1)), random);
    }
  }
  return simpleBalancer(c, eps, random, now);
}

function endpointsOf(c: Cluster, cla: ClusterLoadAssignment | undefined): Endpoint[] {
  if (cla) return cla.endpoints;
  if (c.discovery === 'dns') return (c.dnsHosts ?? []).map((h) => ({ address: h.host, port: h.port }));
  return [];
}

/** Holds the clusters of the running config and answers endpoint picks. */
export class ClusterManager {
  private clusters = new Map<string, ClusterState>();
  /** Endpoints of `original_dst` clusters, made on first use per destination (kept so pools can reuse connections). */
  private passthrough = new Map<string, UpstreamEndpoint>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(opts: ClusterManagerOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /** Replaces all clusters and endpoints at once; state of endpoints that persist (same cluster and address) is kept.
   *  `node` (this proxy: its locality and labels) is what locality load balancing compares endpoints with;
   *  `upstreamTls` the clusters' compiled upstream TLS by name (detect/chains.ts compileProtocols). */
  update(clusters: readonly Cluster[], assignments: readonly ClusterLoadAssignment[], node?: NodeInfo, upstreamTls?: ReadonlyMap<string, CompiledUpstreamTls>): void {
    const claByName = new Map(assignments.map((a) => [a.cluster, a]));
    const next = new Map<string, ClusterState>();
    for (const c of clusters) {
      const old = this.clusters.get(c.name);
      const oldByKey = new Map((old?.endpoints ?? []).map((e) => [e.key, e]));
      const eps: UpstreamEndpoint[] = [];
      const seen = new Set<string>();
      for (const cfg of endpointsOf(c, claByName.get(c.name))) {
        const key = endpointKey(cfg.address, cfg.port);
        if (seen.has(key)) continue;
        seen.add(key);
        const kept = oldByKey.get(key);
        if (kept) { kept.config = cfg; eps.push(kept); } else {
          const ep = new UpstreamEndpoint(c.name, cfg);
          if (old) ep.addedAt = this.now(); // joined a running cluster: slow start applies
          eps.push(ep);
        }
      }
      const sameOutlier = old?.outlier && JSON.stringify(old.outlier.config) === JSON.stringify(c.outlierDetection);
      const outlier = c.outlierDetection ? (sameOutlier ? old!.outlier : new OutlierDetector(c.outlierDetection, this.now)) : undefined;
      const inputs = `${JSON.stringify(c)}|${JSON.stringify(node ?? null)}|${eps.map((e) => JSON.stringify(e.config)).join(',')}`;
      const sameInputs = old?.inputs === inputs && old.endpoints.length === eps.length && old.endpoints.every((e, i) => e === eps[i]);
      const state: ClusterState = {
        config: c,
        endpoints: eps,
        inputs,
        balancer: sameInputs ? old!.balancer : buildBalancer(c, eps, this.random, this.now, node),
        noHealthyUpstream: old?.noHealthyUpstream ?? 0,
        panicPicks: old?.panicPicks ?? 0,
        retriesActive: old?.retriesActive ?? 0,
        retryOverflow: old?.retryOverflow ?? 0,
        ...(outlier ? { outlier } : {}),
        ...(upstreamTls?.has(c.name) ? { tls: upstreamTls.get(c.name)! } : {}),
      };
      next.set(c.name, state);
    }
    this.clusters = next;
  }

  /** Whether a cluster of this name exists (unknown cluster: the pipeline answers 503 NC). */
  has(name: string): boolean {
    return this.clusters.has(name);
  }

  /** A cluster's state (config, endpoints), for the pipeline (connection pool settings, TLS) and admin. */
  get(name: string): ClusterState | undefined {
    return this.clusters.get(name);
  }

  /** Picks an endpoint for one attempt, counting it active; undefined: no usable endpoint (503 UH). */
  pick(name: string, ctx: PickContext = {}): PickResult | undefined {
    const c = this.clusters.get(name);
    if (c !== undefined && c.config.discovery === 'original_dst') return this.pickOriginal(c, ctx.originalDst);
    if (!c || c.endpoints.length === 0) {
      if (c) c.noHealthyUpstream++;
      return undefined;
    }
    const outlier = c.outlier;
    const panic = outlier !== undefined && outlier.panics(c.endpoints);
    if (panic) c.panicPicks++;
    const exclude = ctx.exclude;
    const base: Usable = panic ? () => true : outlier ? (ep) => ep.healthy && !outlier.isEjected(ep) : (ep) => ep.healthy;
    let r: PickResult | undefined;
    if (exclude && exclude.size > 0) r = c.balancer.pick(ctx, (ep) => !exclude.has(ep) && base(ep));
    r ??= c.balancer.pick(ctx, base);
    if (!r) {
      c.noHealthyUpstream++;
      return undefined;
    }
    r.endpoint.active++;
    r.endpoint.requests++;
    return r;
  }

  /**
   * Takes a retry slot of a cluster (Envoy's max_retries circuit breaker, Istio's connectionPool.http.maxRetries):
   * false, counted as overflow, when `maxRetries` requests are already retrying. Pair with `releaseRetry`.
   */
  acquireRetry(name: string): boolean {
    const c = this.clusters.get(name);
    if (!c) return true;
    const max = c.config.connectionPool?.maxRetries;
    if (max !== undefined && max > 0 && c.retriesActive >= max) {
      c.retryOverflow++;
      return false;
    }
    c.retriesActive++;
    return true;
  }

  /** Gives back a slot taken by `acquireRetry` (the retrying request ended). */
  releaseRetry(name: string): void {
    const c = this.clusters.get(name);
    if (c && c.retriesActive > 0) c.retriesActive--;
  }

  /** The endpoint of a passthrough destination (undefined: no destination known, 503 UH). */
  private pickOriginal(c: ClusterState, dst: { address: string; port: number } | undefined): PickResult | undefined {
    if (dst === undefined) { c.noHealthyUpstream++; return undefined; }
    const key = c.config.name + '|' + endpointKey(dst.address, dst.port);
    let ep = this.passthrough.get(key);
    if (ep === undefined) {
      if (this.passthrough.size >= 1000) this.passthrough.clear();
      this.passthrough.set(key, (ep = new UpstreamEndpoint(c.config.name, { address: dst.address, port: dst.port })));
    }
    ep.active++;
    ep.requests++;
    return { endpoint: ep };
  }

  /** Ends an attempt started by `pick`: updates active counts, error counters and outlier detection. */
  report(ep: UpstreamEndpoint, outcome: UpstreamOutcome): void {
    if (ep.active > 0) ep.active--;
    if (outcome.connectFailure || outcome.reset || outcome.timeout || (outcome.status !== undefined && outcome.status >= 500)) ep.errors++;
    const c = this.clusters.get(ep.cluster);
    if (!c?.outlier || !c.endpoints.includes(ep)) return;
    c.outlier.record(ep, outcome, c.endpoints);
  }

  /** Clusters with endpoint health, ejection state and counters, for /clusters. */
  snapshot(): ClusterSnapshot[] {
    const out: ClusterSnapshot[] = [];
    for (const c of this.clusters.values()) {
      const lb = c.config.loadBalancer;
      out.push({
        name: c.config.name,
        policy: lb?.consistentHash ? 'CONSISTENT_HASH' : (lb?.policy ?? 'ROUND_ROBIN'),
        noHealthyUpstream: c.noHealthyUpstream,
        panicPicks: c.panicPicks,
        retryOverflow: c.retryOverflow,
        endpoints: c.endpoints.map((ep) => {
          const ejected = c.outlier?.isEjected(ep) ?? false;
          return {
            address: ep.address,
            port: ep.port,
            weight: ep.weight,
            health: ep.config.health ?? 'healthy',
            ejected,
            ...(ejected ? { ejectedUntil: ep.outlier.ejectedUntil } : {}),
            ejections: ep.outlier.ejections,
            active: ep.active,
            requests: ep.requests,
            errors: ep.errors,
            consecutive5xx: ep.outlier.consecutive5xx,
            consecutiveGatewayErrors: ep.outlier.consecutiveGateway,
          };
        }),
      });
    }
    return out;
  }
}
