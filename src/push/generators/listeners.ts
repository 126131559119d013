/**
 * Listeners. Sidecar: `outbound` (127.0.0.1: HTTP_PROXY with absolute-form requests and CONNECT;
 * with transparent capture `virtualOutbound` on 0.0.0.0, the same chains) with a TCP chain per
 * TCP/TLS service port, HTTP chains and the passthrough chain, and one `inbound|PORT` per service
 * port of its workload. Gateway: one listener per Gateway server port.
 */
import type { Resource } from '../../api/types/meta.js';
import type { VirtualServiceSpec } from '../../api/types/networking.js';
import { isHttpProtocol } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { FilterChain, Listener, TcpRoute } from '../../proxy-config/types.js';
import type { Generator, OutputPart, ProxyInfo } from './generator.js';
import { autoPassthroughChain, isAutoPassthrough } from './east-west.js';
import { isHttpServer, serversByPort, terminatesTls, type BoundServer } from './gateways.js';
import { outboundCluster } from './http-route.js';
import { BLACKHOLE_CLUSTER, gatewayVirtualServices, OUTBOUND_ROUTE_CONFIG, PASSTHROUGH_CLUSTER } from './routes.js';
import { meshVirtualServicesFor, outboundMode, visibleServices } from './scope.js';
import { gatewaySecretNames } from './secrets.js';
import { tcpRoutes } from './tcp-routes.js';
import { inboundChains, inboundMode, meshTrustDomains } from '../security/mtls.js';
import { inboundPorts } from './workload.js';

/** Default port of the sidecar's outbound listener (Istio's outbound capture port). */
export const DEFAULT_OUTBOUND_PORT = 15001;
/** Port of a captured sidecar's inbound listener (Istio's inbound capture port). */
export const DEFAULT_INBOUND_CAPTURE_PORT = 15006;

function sidecarListeners(snap: MeshSnapshot, proxy: ProxyInfo): Listener[] {
  const w = proxy.workload;
  const out: Listener[] = [];
  const outboundPort = w?.outboundPort ?? DEFAULT_OUTBOUND_PORT;
  if (outboundPort !== 0) {
    // One listener for explicit HTTP_PROXY requests (absolute form, CONNECT tunnels) and captured connections:
    // TCP/TLS service ports by original destination (or CONNECT target), HTTP by Host, the rest by outboundTrafficPolicy.
    const http = { routeConfig: OUTBOUND_ROUTE_CONFIG, acceptAbsoluteForm: true };
    const chains: FilterChain[] = [
      ...tcpChains(snap, proxy),
      { name: 'http', match: { protocol: 'http1' }, http },
      { name: 'http2', match: { protocol: 'http2' }, http },
      passthroughChain(snap, proxy),
    ];
    if (w?.captureMode === 'iptables') {
      out.push({ name: 'virtualOutbound', address: '0.0.0.0', port: outboundPort, direction: 'outbound', useOriginalDst: true, filterChains: chains });
    } else out.push({ name: 'outbound', address: '127.0.0.1', port: outboundPort, direction: 'outbound', filterChains: chains });
  }
  const bind = w?.bindAddress ?? w?.address ?? '0.0.0.0';
  const captured: FilterChain[] = [];
  for (const p of inboundPorts(proxy, snap)) {
    const chain: FilterChain = isHttpProtocol(p.protocol)
      ? { name: 'http', http: { routeConfig: `inbound|${p.port}` } }
      : { name: 'tcp', tcp: { routes: [{ destinations: [{ cluster: `inbound|${p.port}||`, weight: 100 }] }], statPrefix: `inbound|${p.port}||` } };
    const mode = inboundMode(snap, { namespace: proxy.node.namespace, labels: proxy.node.labels }, p.port, p.appPort).mode;
    const chains = inboundChains(mode, chain, meshTrustDomains(snap));
    // With capture the app keeps its port: inbound connections are redirected to one listener (15006), chosen by original destination port.
    if (w?.captureMode === 'iptables') captured.push(...chains.map((c) => ({ ...c, name: `${p.port}|${c.name}`, match: { ...(c.match ?? {}), destinationPort: p.port } })));
    else out.push({ name: `inbound|${p.port}`, address: p.bind ?? bind, port: p.bindPort, logicalPort: p.port, direction: 'inbound', filterChains: chains });
  }
  // Captured inbound connections to undeclared ports match no chain and are closed (fail closed: nothing bypasses mTLS or authorization).
  if (w?.captureMode === 'iptables') out.push({ name: 'virtualInbound', address: '0.0.0.0', port: DEFAULT_INBOUND_CAPTURE_PORT, direction: 'inbound', useOriginalDst: true, filterChains: captured });
  return out;
}

/** The last outbound chain (Istio's PassthroughFilterChain): unknown TCP destinations pass through, or nowhere (REGISTRY_ONLY). */
function passthroughChain(snap: MeshSnapshot, proxy: ProxyInfo): FilterChain {
  const cluster = outboundMode(snap, proxy) === 'REGISTRY_ONLY' ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
  return { name: 'PassthroughFilterChain', tcp: { routes: [{ destinations: [{ cluster, weight: 100 }] }], statPrefix: cluster } };
}

/** One chain per TCP/TLS service port (captured traffic, matched by original destination port). */
function tcpChains(snap: MeshSnapshot, proxy: ProxyInfo): FilterChain[] {
  const chains: FilterChain[] = [];
  for (const svc of visibleServices(snap, proxy)) {
    for (const port of svc.ports) {
      if (isHttpProtocol(port.protocol)) continue;
      const vs = meshVirtualServicesFor(snap, svc, proxy.node.namespace)[0];
      const ctx = { snap, vsNamespace: vs?.metadata.namespace ?? svc.namespace, port: port.port, servicePort: port.port, gateways: ['mesh'] };
      const tls = port.protocol === 'TLS' || port.protocol === 'HTTPS';
      let routes: TcpRoute[] = vs ? tcpRoutes(ctx, vs, tls) : [];
      if (!routes.length) routes = [{ destinations: [{ cluster: outboundCluster(port.port, undefined, svc.hostname), weight: 100 }] }];
      const match: FilterChain['match'] = { destinationPort: port.port };
      if (svc.addresses?.length) match.prefixRanges = svc.addresses.map((a) => (a.includes('/') ? a : `${a}/32`));
      // A captured app reaches a service without addresses at the virtual IP its DNS proxy answered (src/mesh/vips.ts).
      else if (svc.vip && proxy.workload?.captureMode === 'iptables') match.prefixRanges = [`${svc.vip}/32`];
      if (tls) match.serverNames = svc.aliases;
      chains.push({ name: `outbound|${port.port}||${svc.hostname}`, match, tcp: { routes, statPrefix: outboundCluster(port.port, undefined, svc.hostname) } });
    }
  }
  return chains;
}

function gatewayChain(snap: MeshSnapshot, proxy: ProxyInfo, b: BoundServer, vss: Resource<VirtualServiceSpec>[]): FilterChain | null {
  if (isAutoPassthrough(b)) return autoPassthroughChain(snap, proxy, b);
  const sni = b.hosts.includes('*') ? undefined : b.hosts;
  if (terminatesTls(b)) {
    const names = gatewaySecretNames(snap, proxy, b.server);
    if (!names) return null;
    const chain: FilterChain = { name: b.routeConfig, match: { transportProtocol: 'tls' }, tls: { certificateSecret: names.certificate, alpn: ['h2', 'http/1.1'] }, http: { routeConfig: b.routeConfig } };
    if (sni) chain.match!.serverNames = sni;
    if (names.validation) {
      chain.tls!.validationSecret = names.validation;
      chain.tls!.requireClientCertificate = true;
    }
    return chain;
  }
  if (isHttpServer(b)) return { name: b.routeConfig, http: { routeConfig: b.routeConfig } };
  const ctx = { snap, vsNamespace: '', port: b.server.port.number, gateways: [b.gateway] };
  const tls = b.protocol === 'TLS' || b.protocol === 'HTTPS';
  const routes = vss.flatMap((vs) => tcpRoutes({ ...ctx, vsNamespace: vs.metadata.namespace ?? 'default' }, vs, tls));
  const chain: FilterChain = { name: `${tls ? 'tls' : 'tcp'}.${b.server.port.number}.${b.index}.${b.gateway}`, tcp: { routes } };
  if (tls) chain.match = sni ? { transportProtocol: 'tls', serverNames: sni } : { transportProtocol: 'tls' };
  return chain;
}

function gatewayListeners(snap: MeshSnapshot, proxy: ProxyInfo): Listener[] {
  const out: Listener[] = [];
  const bind = proxy.workload?.bindAddress ?? '0.0.0.0';
  for (const [port, servers] of serversByPort(snap, proxy)) {
    const chains: FilterChain[] = [];
    const seen = new Set<string>();
    for (const b of servers) {
      const chain = gatewayChain(snap, proxy, b, gatewayVirtualServices(snap, [b.gateway]));
      if (!chain || seen.has(chain.name)) continue;
      seen.add(chain.name);
      chains.push(chain);
    }
    // Plain chains go last: TLS chains match on the ClientHello first.
    chains.sort((a, b) => Number(!a.match) - Number(!b.match));
    out.push({ name: `gateway|${port}`, address: bind, port: proxy.workload?.portMap?.[String(port)] ?? port, logicalPort: port, direction: 'gateway', filterChains: chains });
  }
  return out;
}

/** Generates listeners. */
export const listenersGenerator: Generator = {
  type: 'listeners',
  kinds: ['services', 'VirtualService', 'Gateway', 'Sidecar', 'PeerAuthentication', 'mesh', 'credentials'],
  // A sidecar's listeners do not depend on Gateways (only gateway servers do).
  kindsFor(proxy) {
    if (proxy.node.role === 'gateway') return this.kinds;
    return this.kinds.filter((k) => k !== 'Gateway' && k !== 'credentials');
  },
  parts(snap: MeshSnapshot, proxy: ProxyInfo): OutputPart[] {
    return [{ scope: `own:${proxy.node.id}`, build: () => (proxy.node.role === 'gateway' ? gatewayListeners(snap, proxy) : sidecarListeners(snap, proxy)) }];
  },
};
