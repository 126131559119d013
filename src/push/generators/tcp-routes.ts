/** VirtualService `tcp` and `tls` rules translated into proxy TCP routes (sidecar ports and gateway servers). */
import type { Resource } from '../../api/types/meta.js';
import type { L4MatchAttributes, RouteDestination, TLSMatchAttributes, VirtualServiceSpec } from '../../api/types/networking.js';
import type { TcpRoute } from '../../proxy-config/types.js';
import { destinationCluster, qualifyGateway, type RouteContext } from './http-route.js';

function destinations(ctx: RouteContext, route: RouteDestination[] | undefined): TcpRoute['destinations'] {
  const list = route ?? [];
  return list.map((d) => ({ cluster: destinationCluster(ctx, d.destination), weight: d.weight ?? (list.length === 1 ? 100 : 0) }));
}

function l4Match(ctx: RouteContext, m: L4MatchAttributes | TLSMatchAttributes): TcpRoute['match'] | null {
  if (m.port !== undefined && ctx.port !== undefined && m.port !== ctx.port) return null;
  if (m.gateways?.length && !m.gateways.some((g) => ctx.gateways.includes(qualifyGateway(g, ctx.vsNamespace)))) return null;
  const out: NonNullable<TcpRoute['match']> = {};
  if (m.port !== undefined) out.port = m.port;
  if (m.destinationSubnets) out.destinationSubnets = m.destinationSubnets;
  if (m.sourceLabels) out.sourceLabels = m.sourceLabels;
  if (m.sourceNamespace) out.sourceNamespace = m.sourceNamespace;
  if ('sniHosts' in m && m.sniHosts) out.sniHosts = m.sniHosts;
  return out;
}

/** The TCP routes of one VirtualService in a context (tls rules first when `tls` is true). */
export function tcpRoutes(ctx: RouteContext, vs: Resource<VirtualServiceSpec>, tls: boolean): TcpRoute[] {
  const out: TcpRoute[] = [];
  const rules: Array<{ match?: Array<L4MatchAttributes | TLSMatchAttributes>; route?: RouteDestination[] }> = tls ? (vs.spec.tls ?? []) : (vs.spec.tcp ?? []);
  for (const rule of rules) {
    const dests = destinations(ctx, rule.route);
    if (!rule.match?.length) {
      out.push({ destinations: dests });
      continue;
    }
    for (const m of rule.match) {
      const match = l4Match(ctx, m);
      if (!match) continue;
      out.push(Object.keys(match).length ? { match, destinations: dests } : { destinations: dests });
    }
  }
  return out;
}
