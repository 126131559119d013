/**
 * Clusters: per visible service port `outbound|PORT||HOST`, one more per DestinationRule subset
 * `outbound|PORT|SUBSET|HOST`, with the merged traffic policy; per inbound port `inbound|PORT||`.
 */
import type { DestinationRuleSpec } from '../../api/types/networking.js';
import type { Service, ServicePort } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { Cluster } from '../../proxy-config/types.js';
import type { Generator, OutputPart, ProxyInfo } from './generator.js';
import { outboundCluster } from './http-route.js';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER } from './routes.js';
import { destinationRuleFor, outboundMode, outboundScope, visibleServices } from './scope.js';
import { applyPolicy, effectivePolicy } from './traffic-policy.js';
import { applyClientMtls } from '../security/mtls.js';
import { usableCredential } from './secrets.js';
import { secretsAllowed } from '../security/secret-access.js';
import { gatewayScope, inboundPorts } from './workload.js';

/** Upstream protocol of a service port. */
export function clusterProtocol(p: ServicePort['protocol']): Cluster['protocol'] {
  if (p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB') return 'http2';
  if (p === 'HTTP') return 'http1';
  return 'tcp';
}

function baseCluster(snap: MeshSnapshot, svc: Service, port: ServicePort, subset: string | undefined): Cluster {
  const c: Cluster = {
    name: outboundCluster(port.port, subset, svc.hostname),
    discovery: svc.resolution === 'DNS' ? 'dns' : svc.resolution === 'NONE' ? 'original_dst' : 'eds',
    protocol: clusterProtocol(port.protocol),
    service: { host: svc.hostname, name: svc.name, namespace: svc.namespace, port: port.port },
  };
  if (subset) c.subset = subset;
  if (c.discovery === 'dns') {
    const eps = (snap.endpointsByService.get(svc.hostname) ?? []).filter((e) => e.servicePort === port.port);
    c.dnsHosts = eps.length ? eps.map((e) => ({ host: e.address, port: e.port })) : [{ host: svc.hostname, port: port.port }];
  }
  if (c.discovery === 'original_dst') c.loadBalancer = { policy: 'PASSTHROUGH' };
  return c;
}

/** The outbound clusters of one service as seen from namespace `ns`. */
export function serviceClusters(snap: MeshSnapshot, svc: Service, ns: string, proxy?: ProxyInfo): Cluster[] {
  const dr = destinationRuleFor(snap, svc, ns)?.spec as DestinationRuleSpec | undefined;
  const credential = proxy ? (name: string) => usableCredential(snap, proxy, name) : undefined;
  const out: Cluster[] = [];
  for (const port of svc.ports) {
    const c = baseCluster(snap, svc, port, undefined);
    applyPolicy(c, effectivePolicy(dr, port.port), credential);
    applyClientMtls(c, snap, svc, port.port, ns);
    out.push(c);
    for (const subset of dr?.subsets ?? []) {
      const s = baseCluster(snap, svc, port, subset.name);
      applyPolicy(s, effectivePolicy(dr, port.port, subset), credential);
      applyClientMtls(s, snap, svc, port.port, ns, subset.name);
      out.push(s);
    }
  }
  return out;
}

/** Generates clusters. */
export const clustersGenerator: Generator = {
  type: 'clusters',
  kinds: ['services', 'endpoints', 'DestinationRule', 'Sidecar', 'mesh', 'PeerAuthentication', 'credentials'],
  parts(snap: MeshSnapshot, proxy: ProxyInfo): OutputPart[] {
    // credentialName material goes only to proxies that proved their identity: they get clusters of their own scope.
    const scope = (proxy.node.role === 'gateway' ? gatewayScope(proxy) : outboundScope(snap, proxy)) + (secretsAllowed(proxy, true) ? '' : '|unproven');
    const parts: OutputPart[] = [{
      scope: `outbound:${scope}`,
      build: () => {
        const out = visibleServices(snap, proxy).flatMap((s) => serviceClusters(snap, s, proxy.node.namespace, proxy));
        if (proxy.node.role === 'gateway') return out; // gateways never pass traffic through
        if (outboundMode(snap, proxy) !== 'REGISTRY_ONLY') out.push({ name: PASSTHROUGH_CLUSTER, discovery: 'original_dst', protocol: 'auto', loadBalancer: { policy: 'PASSTHROUGH' } });
        else out.push({ name: BLACKHOLE_CLUSTER, discovery: 'eds', protocol: 'tcp' });
        return out;
      },
    }];
    if (proxy.node.role === 'sidecar') {
      parts.push({
        scope: `own:${proxy.node.id}`,
        build: () => inboundPorts(proxy, snap).map((p): Cluster => ({ name: `inbound|${p.port}||`, discovery: 'eds', protocol: clusterProtocol(p.protocol) })),
      });
    }
    return parts;
  },
};
