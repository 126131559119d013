/** The proxy's own workload as generators need it: inbound service ports and where the app listens. */
import type { IstioIngressListener } from '../../api/types/networking.js';
import { tryParseHostPort } from '../../proxy-config/host-port.js';
import { parseProtocol, type Protocol } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyInfo } from './generator.js';
import { sidecarFor } from './scope.js';

/** One inbound port of a sidecar. */
export interface InboundPort {
  /** Service port (logical). */
  port: number;
  /** Port the proxy binds for it (`portMap`), default the service port. */
  bindPort: number;
  /** Where the app listens: host (default 127.0.0.1) and port. */
  appHost?: string;
  appPort: number;
  protocol: Protocol;
  services: string[];
  /** Address the listener binds (Sidecar ingress `bind`), default the workload's bind address. */
  bind?: string;
}

/** Istio's defaultEndpoint `HOST:PORT` (`0.0.0.0` = the workload's own address); undefined for forms the proxy cannot dial (unix sockets). */
export function parseDefaultEndpoint(e: string, workloadAddress: string): { host: string; port: number } | undefined {
  const hp = tryParseHostPort(e);
  if (!hp?.host) return undefined;
  return { host: hp.host === '0.0.0.0' || hp.host === '::' ? workloadAddress : hp.host, port: hp.port };
}

function fromIngress(proxy: ProxyInfo, ingress: readonly IstioIngressListener[]): InboundPort[] {
  const w = proxy.workload!;
  const out: InboundPort[] = [];
  for (const l of ingress) {
    const port = l.port.number;
    if (port === undefined || out.some((p) => p.port === port)) continue;
    const announced = w.services.filter((s) => s.port === port);
    const target = l.defaultEndpoint !== undefined ? parseDefaultEndpoint(l.defaultEndpoint, w.address) : { host: '127.0.0.1', port: l.port.targetPort ?? announced[0]?.targetPort ?? port };
    if (!target) continue; // a unix socket endpoint: no listener (validation warns; the proxy cannot dial it)
    const p: InboundPort = {
      port, bindPort: w.portMap?.[String(port)] ?? port, appPort: target.port,
      protocol: parseProtocol(l.port.protocol ?? announced[0]?.protocol), services: announced.map((s) => s.service),
    };
    if (target.host !== '127.0.0.1') p.appHost = target.host;
    if (l.bind) p.bind = l.bind;
    out.push(p);
  }
  return out.sort((a, b) => a.port - b.port);
}

/** The sidecar's inbound ports: its Sidecar resource's `ingress` listeners when it has any (as Istio: only those),
 *  else one per distinct announced service port, sorted. */
export function inboundPorts(proxy: ProxyInfo, snap?: MeshSnapshot): InboundPort[] {
  const w = proxy.workload;
  if (!w || proxy.node.role !== 'sidecar') return [];
  const ingress = snap ? sidecarFor(snap, proxy)?.spec.ingress : undefined;
  if (ingress && ingress.length) return fromIngress(proxy, ingress);
  const byPort = new Map<number, InboundPort>();
  for (const s of w.services) {
    const have = byPort.get(s.port);
    if (have) {
      have.services.push(s.service);
      continue;
    }
    byPort.set(s.port, { port: s.port, bindPort: w.portMap?.[String(s.port)] ?? s.port, appPort: s.targetPort ?? s.port, protocol: parseProtocol(s.protocol), services: [s.service] });
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

/** Gateways see every service (as Istio's gateways do by default); their scope is their namespace. */
export function gatewayScope(proxy: ProxyInfo): string {
  return `gateway|${proxy.node.namespace}`;
}
