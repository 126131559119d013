/** The proxy's own workload as generators need it: inbound service ports and where the app listens. */
import { parseProtocol, type Protocol } from '../../model/service.js';
import type { ProxyInfo } from './generator.js';

/** One inbound port of a sidecar. */
export interface InboundPort {
  /** Service port (logical). */
  port: number;
  /** Port the proxy binds for it (`portMap`), default the service port. */
  bindPort: number;
  /** Where the app listens. */
  appPort: number;
  protocol: Protocol;
  services: string[];
}

/** The sidecar's inbound ports, one per distinct service port, sorted. */
export function inboundPorts(proxy: ProxyInfo): InboundPort[] {
  const w = proxy.workload;
  if (!w || proxy.node.role !== 'sidecar') return [];
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
