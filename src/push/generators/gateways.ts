/** Gateway resources as a gateway proxy sees them: the servers of Gateways whose selector matches its labels. */
import type { Resource } from '../../api/types/meta.js';
import type { GatewaySpec, Server } from '../../api/types/networking.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyInfo } from './generator.js';
import { labelsMatch } from './scope.js';

/** One Gateway server bound to this proxy. */
export interface BoundServer {
  /** `ns/name` of the Gateway (what VirtualService `gateways:` resolve to). */
  gateway: string;
  server: Server;
  index: number;
  /** Upper-case protocol. */
  protocol: string;
  /** Server hosts without their `ns/` prefix. */
  hosts: string[];
  /** Route config name for HTTP(S) servers: `http.PORT` for plain HTTP, `https.PORT.NAME.GW.NS` for TLS-terminated. */
  routeConfig: string;
}

/** The Gateways selecting this proxy (selector must be non-empty and match; an empty selector selects nothing). */
export function gatewaysFor(snap: MeshSnapshot, proxy: ProxyInfo): Resource<GatewaySpec>[] {
  if (proxy.node.role !== 'gateway') return [];
  return (snap.configs('Gateway') as Resource<GatewaySpec>[]).filter((g) => g.spec.selector && Object.keys(g.spec.selector).length > 0 && labelsMatch(g.spec.selector, proxy.node.labels));
}

/** Every server bound to this proxy, grouped by port number (sorted). */
export function serversByPort(snap: MeshSnapshot, proxy: ProxyInfo): Map<number, BoundServer[]> {
  const out = new Map<number, BoundServer[]>();
  for (const g of gatewaysFor(snap, proxy)) {
    const key = `${g.metadata.namespace ?? 'default'}/${g.metadata.name}`;
    (g.spec.servers ?? []).forEach((server, index) => {
      const protocol = server.port.protocol.toUpperCase();
      const terminates = (protocol === 'HTTPS' && server.tls?.mode !== 'PASSTHROUGH' && server.tls?.mode !== 'AUTO_PASSTHROUGH') || (server.tls && !server.tls.httpsRedirect && (server.tls.mode === 'SIMPLE' || server.tls.mode === 'MUTUAL'));
      const routeConfig = terminates ? `https.${server.port.number}.${server.port.name ?? index}.${g.metadata.name}.${g.metadata.namespace ?? 'default'}` : `http.${server.port.number}`;
      const hosts = (server.hosts ?? ['*']).map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase());
      const list = out.get(server.port.number) ?? [];
      list.push({ gateway: key, server, index, protocol, hosts, routeConfig });
      out.set(server.port.number, list);
    });
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}

/** True when a bound server terminates TLS (HTTPS SIMPLE/MUTUAL). */
export function terminatesTls(b: BoundServer): boolean {
  return b.routeConfig.startsWith('https.');
}

/** True when the server carries HTTP after any TLS termination. */
export function isHttpServer(b: BoundServer): boolean {
  return ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB'].includes(b.protocol) || terminatesTls(b);
}
