/**
 * TCP and TLS-passthrough routing (VirtualService `tcp` and `tls` rules): the first route
 * whose match fits the connection picks its destinations, split by weight with the same
 * deterministic smooth weighting HTTP routes use. AUTO_PASSTHROUGH (Istio's east-west
 * gateway) routes by an SNI of the form `outbound_.PORT_.SUBSET_.HOST` to the cluster
 * `outbound|PORT|SUBSET|HOST` without any route.
 */
import type { NodeInfo, TcpProxy, TcpRoute } from '../../proxy-config/types.js';
import { ipBlocks } from '../authz/values.js';
import { SmoothWeighted } from '../router/smooth-weighted.js';
import { serverNameMatches } from './names.js';

/** Facts about a connection that TCP routes match on. */
export interface TcpRouteInput {
  /** Original destination port, or the listener's logical port. */
  port: number;
  /** Original destination address (or the local address the client reached). */
  destination: string;
  /** SNI from the ClientHello, when the connection is TLS. */
  serverName: string | undefined;
  /** Whether the proxy has this cluster (AUTO_PASSTHROUGH: an SNI naming no cluster the proxy has falls to the routes). */
  hasCluster?: (name: string) => boolean;
}

interface CompiledTcpRoute {
  port: number | undefined;
  subnets: ((ip: string | undefined) => boolean) | undefined;
  sni: string[] | undefined;
  /** False when sourceLabels do not fit this proxy (decided once at compile time). */
  sourceOk: boolean;
  picker: SmoothWeighted<string>;
}

/** A TcpProxy ready for connections. */
export interface CompiledTcpProxy {
  readonly idleTimeoutMs: number;
  readonly statPrefix: string;
  readonly autoPassthrough: boolean;
  /** True when routing reads the SNI (sniHosts or AUTO_PASSTHROUGH), so the ClientHello must be inspected. */
  readonly needsServerName: boolean;
  /** The cluster for a connection, or undefined (no route: the connection is closed). */
  select(input: TcpRouteInput): string | undefined;
}

/** Default TCP idle timeout (Istio/Envoy: 1 h). */
export const DEFAULT_TCP_IDLE_MS = 3_600_000;

/** Compiles a TcpProxy for this proxy's node; throws on a malformed subnet. */
export function compileTcpProxy(t: TcpProxy, node: NodeInfo): CompiledTcpProxy {
  const routes = t.routes.map((r) => compileRoute(r, node));
  const auto = t.autoPassthrough === true;
  return {
    idleTimeoutMs: t.idleTimeoutMs ?? DEFAULT_TCP_IDLE_MS,
    statPrefix: t.statPrefix ?? '',
    autoPassthrough: auto,
    needsServerName: auto || routes.some((r) => r.sni !== undefined),
    select(input) {
      if (auto && input.serverName !== undefined) {
        const c = autoPassthroughCluster(input.serverName);
        if (c !== undefined && (input.hasCluster === undefined || input.hasCluster(c))) return c;
      }
      for (const r of routes) {
        if (!r.sourceOk) continue;
        if (r.port !== undefined && r.port !== input.port) continue;
        if (r.subnets !== undefined && !r.subnets(input.destination)) continue;
        if (r.sni !== undefined && (input.serverName === undefined || !serverNameMatches(input.serverName, r.sni))) continue;
        return r.picker.next();
      }
      return undefined;
    },
  };
}

function compileRoute(r: TcpRoute, node: NodeInfo): CompiledTcpRoute {
  const m = r.match ?? {};
  let sourceOk = true;
  for (const [k, v] of Object.entries(m.sourceLabels ?? {})) if (node.labels[k] !== v) sourceOk = false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== node.namespace) sourceOk = false;
  return {
    port: m.port,
    subnets: m.destinationSubnets !== undefined && m.destinationSubnets.length > 0 ? ipBlocks(m.destinationSubnets) : undefined,
    sni: m.sniHosts !== undefined && m.sniHosts.length > 0 ? m.sniHosts.map((h) => h.toLowerCase()) : undefined,
    sourceOk,
    picker: new SmoothWeighted(r.destinations.map((d) => ({ item: d.cluster, weight: d.weight }))),
  };
}

/** `outbound_.9080_.v1_.reviews.default.svc.cluster.local` -> `outbound|9080|v1|reviews.default.svc.cluster.local`. */
export function autoPassthroughCluster(sni: string): string | undefined {
  const m = /^outbound_\.(\d{1,5})_\.([^.]*)_\.(.+)$/.exec(sni);
  if (m === null) return undefined;
  const subset = m[2] === '' ? '' : m[2]!;
  return `outbound|${m[1]}|${subset}|${m[3]}`;
}
