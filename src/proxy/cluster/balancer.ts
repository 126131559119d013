/**
 * The load balancer interface and the three simple policies of Istio's LoadBalancerSettings:
 * ROUND_ROBIN (smooth weighted when endpoint weights differ), LEAST_REQUEST (power of two
 * choices over active requests per weight), RANDOM (weighted). A balancer is rebuilt when its
 * cluster's endpoints change; it never allocates per pick.
 */
import type { UpstreamEndpoint } from './endpoint.js';
import { SmoothRotation } from './smooth-rotation.js';
import type { PickContext, PickResult } from './types.js';

/** Whether an endpoint may take this pick (health, ejection, exclusions already folded in). */
export type Usable = (ep: UpstreamEndpoint) => boolean;

/** Picks one endpoint among a cluster's endpoints. */
export interface Balancer {
  pick(ctx: PickContext, usable: Usable): PickResult | undefined;
}

/** Walks from `start` to the first usable endpoint (wrapping), or undefined. */
export function probe(eps: readonly UpstreamEndpoint[], start: number, usable: Usable): UpstreamEndpoint | undefined {
  const n = eps.length;
  for (let k = 0; k < n; k++) {
    const ep = eps[(start + k) % n]!;
    if (usable(ep)) return ep;
  }
  return undefined;
}

function uniformWeights(eps: readonly UpstreamEndpoint[]): boolean {
  return eps.every((e) => e.weight === eps[0]!.weight);
}

/** An endpoint's weight at pick time (slow start scales new endpoints' weights down). */
export type WeightOf = (ep: UpstreamEndpoint) => number;

/** ROUND_ROBIN: plain rotation when weights are equal, smooth weighted rotation otherwise (or with `weightOf`). */
export function roundRobin(eps: readonly UpstreamEndpoint[], weightOf?: WeightOf): Balancer {
  if (weightOf === undefined && uniformWeights(eps)) {
    let cursor = 0;
    return {
      pick(_ctx, usable) {
        const n = eps.length;
        for (let k = 0; k < n; k++) {
          const ep = eps[cursor]!;
          cursor = (cursor + 1) % n;
          if (usable(ep)) return { endpoint: ep };
        }
        return undefined;
      },
    };
  }
  const rotation = new SmoothRotation(eps);
  return {
    pick(_ctx, usable) {
      for (let i = 0; i < eps.length; i++) {
        const ep = eps[i]!;
        if (usable(ep)) rotation.offer(i, weightOf === undefined ? ep.weight : weightOf(ep));
      }
      const best = rotation.take();
      return best < 0 ? undefined : { endpoint: eps[best]! };
    },
  };
}

/** LEAST_REQUEST: two random usable candidates, the one with fewer active requests per weight wins. */
export function leastRequest(eps: readonly UpstreamEndpoint[], random: () => number, weightOf: WeightOf = (ep) => ep.weight): Balancer {
  return {
    pick(_ctx, usable) {
      const n = eps.length;
      if (n === 0) return undefined;
      const a = probe(eps, Math.floor(random() * n), usable);
      if (!a) return undefined;
      const b = probe(eps, Math.floor(random() * n), usable)!;
      return { endpoint: b.active * weightOf(a) < a.active * weightOf(b) ? b : a };
    },
  };
}

/** RANDOM: weighted uniform choice among usable endpoints. */
export function randomBalancer(eps: readonly UpstreamEndpoint[], random: () => number): Balancer {
  const cumulative: number[] = [];
  let sum = 0;
  for (const ep of eps) cumulative.push((sum += ep.weight));
  return {
    pick(_ctx, usable) {
      if (eps.length === 0) return undefined;
      const r = random() * sum;
      let lo = 0;
      let hi = cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! > r) hi = mid; else lo = mid + 1;
      }
      const ep = probe(eps, lo, usable);
      return ep ? { endpoint: ep } : undefined;
    },
  };
}
