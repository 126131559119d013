/**
 * Consistent-hash load balancing (Istio consistentHash) on a ketama-style ring: each endpoint
 * owns `ringSize * weight / totalWeight` points hashed from its address, so adding or removing
 * one endpoint moves only the keys it gains or loses. The hash key comes from a header, a
 * cookie (issued with Set-Cookie when absent and a ttl is configured, as Envoy does), the
 * source IP, or a query parameter; with no key the pick is random.
 */
import type { LoadBalancer } from '../../proxy-config/types.js';
import type { Balancer, Usable } from './balancer.js';
import type { UpstreamEndpoint } from './endpoint.js';
import { hash32, hashCookieHeader } from './hash.js';
import type { PickContext, PickResult } from './types.js';

type HashPolicy = NonNullable<LoadBalancer['consistentHash']>;

/** Default and maximum number of points on the ring. */
export const RING_SIZE_DEFAULT = 1024;
const RING_SIZE_MAX = 1 << 16;

/** Builds a ring-hash balancer. */
export function ringHash(eps: readonly UpstreamEndpoint[], policy: HashPolicy, random: () => number): Balancer {
  // Points per unit of (normalised) weight, rounded up to a power of two so that adding or
  // removing an endpoint rarely changes the other endpoints' points: only their share moves.
  const minWeight = Math.min(...eps.map((e) => e.weight));
  const units = eps.reduce((a, e) => a + e.weight / minWeight, 0);
  const wanted = Math.max(policy.minimumRingSize ?? RING_SIZE_DEFAULT, 1) / Math.max(units, 1);
  const perUnit = Math.max(1, Math.min(2 ** Math.ceil(Math.log2(wanted)), Math.floor(RING_SIZE_MAX / Math.max(units, 1))));
  const points: Array<{ h: number; ep: UpstreamEndpoint }> = [];
  for (const ep of eps) {
    const n = Math.max(1, Math.round((perUnit * ep.weight) / minWeight));
    for (let i = 0; i < n; i++) points.push({ h: hash32(`${ep.key}_${i}`), ep });
  }
  points.sort((a, b) => a.h - b.h || (a.ep.key < b.ep.key ? -1 : 1));
  const hashes = Uint32Array.from(points.map((p) => p.h));
  const owners = points.map((p) => p.ep);

  const walk = (h: number, usable: Usable): UpstreamEndpoint | undefined => {
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hashes[mid]! < h) lo = mid + 1; else hi = mid;
    }
    for (let k = 0; k < owners.length; k++) {
      const ep = owners[(lo + k) % owners.length]!;
      if (usable(ep)) return ep;
    }
    return undefined;
  };

  const cookie = policy.httpCookie;
  return {
    pick(ctx: PickContext, usable: Usable): PickResult | undefined {
      if (owners.length === 0) return undefined;
      let key: string | undefined;
      let setCookie: string | undefined;
      if (policy.httpHeaderName) key = ctx.header?.(policy.httpHeaderName.toLowerCase());
      else if (cookie) {
        key = ctx.cookie?.(cookie.name);
        if (key === undefined && cookie.ttlMs !== undefined) {
          key = Math.floor(random() * 0x100000000).toString(16).padStart(8, '0') + Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
          setCookie = hashCookieHeader(cookie.name, key, cookie.path, cookie.ttlMs);
        }
      } else if (policy.useSourceIp) key = ctx.sourceIp;
      else if (policy.httpQueryParameterName) key = ctx.query?.(policy.httpQueryParameterName);
      const h = key !== undefined ? hash32(key) : Math.floor(random() * 0x100000000);
      const ep = walk(h, usable);
      if (!ep) return undefined;
      return setCookie ? { endpoint: ep, setCookie } : { endpoint: ep };
    },
  };
}
