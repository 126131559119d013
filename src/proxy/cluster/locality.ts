/**
 * Locality-aware load balancing (Istio's localityLbSetting as Envoy runs it): endpoints grouped
 * by priority (failover: same subzone, zone, region, failover region, the rest; or Istio's
 * failoverPriority labels) with Envoy's overprovisioning -- a priority keeps
 * min(100 %, 1.4 x its usable share) of the traffic and the rest spills to the next -- or by
 * locality with configured weights (distribute). Within a group, the cluster's own policy picks.
 */
import type { LocalityLb, NodeInfo } from '../../proxy-config/types.js';
import type { Balancer, Usable } from './balancer.js';
import type { UpstreamEndpoint } from './endpoint.js';
import { SmoothRotation } from './smooth-rotation.js';
import type { PickContext, PickResult } from './types.js';

/** Envoy's overprovisioning factor (1.4): a group with 72 % of its endpoints usable still takes all its traffic. */
export const OVERPROVISIONING = 1.4;

/** Whether `locality` (`REGION/ZONE/SUBZONE`) matches a pattern whose `*` segment matches anything from there on. */
export function localityMatches(pattern: string, locality: string): boolean {
  const p = pattern.split('/');
  const l = locality.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*') return true;
    if (p[i] !== (l[i] ?? '')) return false;
  }
  return true;
}

const LOCALITY_LABELS: Record<string, number> = { 'topology.kubernetes.io/region': 0, 'topology.kubernetes.io/zone': 1, 'topology.istio.io/subzone': 2 };

function valueOf(key: string, locality: string | undefined, labels: Record<string, string> | undefined): string | undefined {
  const i = LOCALITY_LABELS[key];
  if (i !== undefined) return locality?.split('/')[i] || undefined;
  return labels?.[key];
}

/** The priority (0 = best) of an endpoint for a proxy, as Istio assigns it. */
export function priorityOf(lb: NonNullable<LocalityLb['priorities']>, node: NodeInfo, ep: { locality?: string; labels?: Record<string, string> }): number {
  const keys = lb.failoverPriority;
  if (keys && keys.length) {
    let matched = 0;
    for (const k of keys) {
      const mine = valueOf(k, node.locality, node.labels);
      if (mine === undefined || mine !== valueOf(k, ep.locality, ep.labels)) break;
      matched++;
    }
    return keys.length - matched;
  }
  const [r, z, s] = (node.locality ?? '').split('/');
  const [er, ez, es] = (ep.locality ?? '').split('/');
  if (er === r) return ez === z ? (es === s ? 0 : 1) : 2;
  return (lb.failover ?? []).some((f) => f.from === r && f.to === er) ? 3 : 4;
}

/** The weight share of each endpoint locality under the first distribute rule whose `from` matches the proxy. */
export function distributeWeights(rules: NonNullable<LocalityLb['distribute']>, proxyLocality: string, localities: readonly string[]): Map<string, number> | undefined {
  const rule = rules.find((r) => localityMatches(r.from, proxyLocality));
  if (!rule) return undefined;
  const out = new Map<string, number>(localities.map((l) => [l, 0]));
  for (const [pattern, weight] of Object.entries(rule.to)) {
    const hit = localities.filter((l) => localityMatches(pattern, l) && out.get(l) === 0);
    for (const l of hit) out.set(l, weight / hit.length);
  }
  return out;
}

/** One group of endpoints (a priority or a locality) with its own balancer. */
export interface LocalityGroup {
  eps: readonly UpstreamEndpoint[];
  balancer: Balancer;
  /** Configured share (distribute); 1 for priorities. */
  weight: number;
}

function usableShare(g: LocalityGroup, usable: Usable): number {
  if (g.eps.length === 0) return 0;
  let n = 0;
  for (const ep of g.eps) if (usable(ep)) n++;
  return Math.min(1, (OVERPROVISIONING * n) / g.eps.length);
}

/** Priorities: the first group takes min(100 %, its overprovisioned usable share), the rest spills to the next. */
export function priorityBalancer(groups: readonly LocalityGroup[], random: () => number): Balancer {
  const loads = groups.map(() => 0);
  return {
    pick(ctx: PickContext, usable: Usable): PickResult | undefined {
      let remaining = 1;
      let sum = 0;
      for (let i = 0; i < groups.length; i++) {
        const l = Math.min(usableShare(groups[i]!, usable), remaining);
        loads[i] = l;
        remaining -= l;
        sum += l;
      }
      if (sum === 0) return undefined;
      let x = random() * sum;
      let first = groups.length - 1;
      for (let i = 0; i < groups.length; i++) {
        if (loads[i]! > 0 && x < loads[i]!) { first = i; break; }
        x -= loads[i]!;
      }
      for (let k = 0; k < groups.length; k++) {
        const g = groups[(first + k) % groups.length]!;
        const r = g.balancer.pick(ctx, usable);
        if (r) return r;
      }
      return undefined;
    },
  };
}

/** Distribute: smooth weighted rotation over localities by configured share x overprovisioned usable share. */
export function distributeBalancer(groups: readonly LocalityGroup[]): Balancer {
  const rotation = new SmoothRotation(groups);
  return {
    pick(ctx: PickContext, usable: Usable): PickResult | undefined {
      for (let i = 0; i < groups.length; i++) {
        const w = groups[i]!.weight * usableShare(groups[i]!, usable);
        if (w > 0) rotation.offer(i, w);
      }
      const best = rotation.take();
      return best < 0 ? undefined : groups[best]!.balancer.pick(ctx, usable);
    },
  };
}
