/**
 * Route tables. Sidecars: `outbound` (one virtual host per visible HTTP service port, every alias
 * with and without the port; VirtualService rules or a default route) and `inbound|PORT` (to the
 * local app). Gateways: one table per HTTP port / HTTPS server with the bound VirtualServices.
 */
import type { Resource } from '../../api/types/meta.js';
import type { VirtualServiceSpec } from '../../api/types/networking.js';
import { hostMatches } from '../../model/hosts.js';
import { isHttpProtocol, type Service, type ServicePort } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { Route, RouteConfig, VirtualHost } from '../../proxy-config/types.js';
import type { Generator, OutputPart, ProxyInfo } from './generator.js';
import { isHttpServer, serversByPort, type BoundServer } from './gateways.js';
import { DEFAULT_RETRY, httpRoute, outboundCluster, qualifyGateway, type RouteContext } from './http-route.js';
import { byAge, meshVirtualServicesFor, outboundMode, outboundScope, visibleServices } from './scope.js';
import { inboundPorts } from './workload.js';
import { delegatesOf, expandHttpRules } from './delegate.js';

/** The name of the route table of a sidecar's outbound (HTTP_PROXY) listener. */
export const OUTBOUND_ROUTE_CONFIG = 'outbound';
/** Cluster for requests to hosts outside the registry when the mesh allows them (ALLOW_ANY). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
/** Cluster for connections to hosts outside the registry when the mesh forbids them (REGISTRY_ONLY): nothing answers. */
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

/** The rules of the first VirtualService for a service port, or the default route. */
export function serviceRoutes(snap: MeshSnapshot, svc: Service, port: ServicePort, ns: string): Route[] {
  const vs = meshVirtualServicesFor(snap, svc, ns)[0];
  if (vs) {
    const routes = expandHttpRules(snap, vs).map((e) => {
      const ctx: RouteContext = { snap, vsNamespace: e.namespace, port: port.port, servicePort: port.port, gateways: ['mesh'] };
      return httpRoute(ctx, e.rule, e.index, e.source);
    }).filter((r): r is Route => r !== null);
    if (routes.length) return routes;
  }
  return [{ name: 'default', route: { destinations: [{ cluster: outboundCluster(port.port, undefined, svc.hostname), weight: 100 }], retries: DEFAULT_RETRY, allowUpgrade: true } }];
}

/** The virtual host of one service port: every name a client may use, with and without the port. */
export function serviceVirtualHost(snap: MeshSnapshot, svc: Service, port: ServicePort, ns: string): VirtualHost {
  const names = ns === svc.namespace ? [...svc.aliases, ...svc.localAliases] : svc.aliases;
  const httpPorts = svc.ports.filter((p) => isHttpProtocol(p.protocol)).map((p) => p.port);
  const bare = port.port === 80 || (!httpPorts.includes(80) && port.port === Math.min(...httpPorts));
  const domains: string[] = [];
  // A ServiceEntry address is a name too when it is one address (an IP, or a /32 or /128 CIDR): clients call it by IP.
  const addresses = (svc.addresses ?? []).map((a) => a.replace(/\/(32|128)$/, '')).filter((a) => !a.includes('/'));
  for (const n of [...names, ...addresses]) {
    if (bare) domains.push(n);
    domains.push(`${n}:${port.port}`);
  }
  return { name: `${svc.hostname}:${port.port}`, domains, routes: serviceRoutes(snap, svc, port, ns) };
}

/**
 * Virtual hosts reused across snapshots: per service object, keyed by the viewing namespace, the
 * port, the services version (destinations resolve against all services) and the identity of the
 * VirtualServices that apply. An unchanged service keeps its (already serialized) virtual host.
 */
const vhostCache = new WeakMap<Service, Map<string, VirtualHost>>();
const resourceIds = new WeakMap<object, number>();
let nextResourceId = 1;
function resourceId(r: object): number {
  let id = resourceIds.get(r);
  if (id === undefined) resourceIds.set(r, (id = nextResourceId++));
  return id;
}

function cachedVirtualHost(snap: MeshSnapshot, svc: Service, port: ServicePort, ns: string): VirtualHost {
  const vss = meshVirtualServicesFor(snap, svc, ns);
  const ids = vss.map((vs) => [resourceId(vs), ...delegatesOf(snap, vs).map((d) => (d ? resourceId(d) : 0))].join('+'));
  const key = `${ns}|${port.port}|${snap.servicesVersion}|${ids.join(',')}`;
  let m = vhostCache.get(svc);
  if (!m) vhostCache.set(svc, (m = new Map()));
  let vh = m.get(key);
  if (!vh) {
    vh = Object.freeze(serviceVirtualHost(snap, svc, port, ns)); // frozen: shared across snapshots, serialized once
    if (m.size > 8) m.clear();
    m.set(key, vh);
  }
  return vh;
}

/** The `outbound` route table of a sidecar. */
export function outboundRouteConfig(snap: MeshSnapshot, proxy: ProxyInfo): RouteConfig {
  const ns = proxy.node.namespace;
  const virtualHosts: VirtualHost[] = [];
  for (const svc of visibleServices(snap, proxy)) {
    for (const port of svc.ports) if (isHttpProtocol(port.protocol)) virtualHosts.push(cachedVirtualHost(snap, svc, port, ns));
  }
  if (outboundMode(snap, proxy) !== 'REGISTRY_ONLY') {
    virtualHosts.push({ name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', route: { destinations: [{ cluster: PASSTHROUGH_CLUSTER, weight: 100 }], allowUpgrade: true } }] });
  } else {
    // As Istio's `block_all` virtual host: 502, counted as BlackHoleCluster.
    virtualHosts.push({ name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', directResponse: { status: 502 } }] });
  }
  // Sorted by name, as the wire carries them (one resource per virtual host); lookup is by domain, not order.
  virtualHosts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { name: OUTBOUND_ROUTE_CONFIG, virtualHosts };
}

/** VirtualServices bound to one of `gateways`, oldest first. */
export function gatewayVirtualServices(snap: MeshSnapshot, gateways: string[]): Resource<VirtualServiceSpec>[] {
  return (snap.configs('VirtualService') as Resource<VirtualServiceSpec>[])
    .filter((vs) => (vs.spec.gateways ?? []).some((g) => gateways.includes(qualifyGateway(g, vs.metadata.namespace ?? 'default'))))
    .sort(byAge);
}

/** The route table of a gateway's HTTP port or HTTPS server. */
export function gatewayRouteConfig(snap: MeshSnapshot, name: string, servers: BoundServer[]): RouteConfig {
  const gateways = [...new Set(servers.map((s) => s.gateway))];
  const port = servers[0]!.server.port.number;
  const hosts = new Map<string, VirtualHost>();
  const redirect = servers.every((s) => s.server.tls?.httpsRedirect);
  for (const vs of gatewayVirtualServices(snap, gateways)) {
    const rules = expandHttpRules(snap, vs);
    for (const h of (vs.spec.hosts ?? []).map((x) => x.toLowerCase())) {
      const server = servers.find((s) => s.hosts.some((sh) => hostMatches(sh, h) || hostMatches(h, sh)));
      if (!server) continue;
      let vh = hosts.get(h);
      if (!vh) {
        vh = { name: `${h}:${port}`, domains: h === '*' ? ['*'] : [h, `${h}:${port}`], routes: [] };
        hosts.set(h, vh);
      }
      if (redirect || server.server.tls?.httpsRedirect) {
        vh.routes = [{ name: 'https_redirect', redirect: { scheme: 'https', redirectCode: 301 } }];
        continue;
      }
      for (const e of rules) {
        const route = httpRoute({ snap, vsNamespace: e.namespace, port, gateways }, e.rule, e.index, e.source);
        if (route) vh.routes.push(route);
      }
    }
  }
  return { name, virtualHosts: [...hosts.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) };
}

/** Generates route tables. */
export const routesGenerator: Generator = {
  type: 'routes',
  kinds: ['services', 'VirtualService', 'Gateway', 'Sidecar', 'mesh'],
  parts(snap: MeshSnapshot, proxy: ProxyInfo): OutputPart[] {
    if (proxy.node.role === 'gateway') {
      return [{
        scope: `own:${proxy.node.id}`,
        build: () => {
          const tables = new Map<string, BoundServer[]>();
          for (const list of serversByPort(snap, proxy).values()) {
            for (const b of list.filter(isHttpServer)) tables.set(b.routeConfig, [...(tables.get(b.routeConfig) ?? []), b]);
          }
          return [...tables.entries()].map(([name, servers]) => gatewayRouteConfig(snap, name, servers));
        },
      }];
    }
    return [
      { scope: `outbound:${outboundScope(snap, proxy)}`, build: () => [outboundRouteConfig(snap, proxy)] },
      {
        scope: `own:${proxy.node.id}`,
        build: () => inboundPorts(proxy, snap).filter((p) => isHttpProtocol(p.protocol)).map((p): RouteConfig => ({
          name: `inbound|${p.port}`,
          virtualHosts: [{ name: `inbound|http|${p.port}`, domains: ['*'], routes: [{ name: 'default', route: { destinations: [{ cluster: `inbound|${p.port}||`, weight: 100 }], retries: { attempts: 0, retryOn: [] }, allowUpgrade: true } }] }],
        })),
      },
    ];
  },
};
