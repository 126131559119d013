/**
 * Endpoints: for each EDS cluster, the service port's endpoints (filtered by the subset's labels);
 * for inbound clusters, the local application.
 */
import type { DestinationRuleSpec } from '../../api/types/networking.js';
import type { Endpoint as ModelEndpoint, Service } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ClusterLoadAssignment, Endpoint } from '../../proxy-config/types.js';
import { formatSpiffeId } from '../../proxy-config/spiffe.js';
import type { Generator, OutputPart, ProxyInfo } from './generator.js';
import { outboundCluster } from './http-route.js';
import { destinationRuleFor, labelsMatch, outboundScope, visibleServices } from './scope.js';
import { gatewayScope, inboundPorts } from './workload.js';
import { gatewaysOf, isEastWest, proxyNetwork, splitHorizon } from './networks.js';

function toEndpoint(e: ModelEndpoint, trustDomain: string): Endpoint {
  const out: Endpoint = { address: e.address, port: e.port, labels: e.labels, tlsMode: e.tlsMode, workload: e.workload, namespace: e.namespace };
  if (e.weight !== undefined) out.weight = e.weight;
  if (e.serviceAccount) out.identity = formatSpiffeId({ trustDomain, namespace: e.namespace, serviceAccount: e.serviceAccount });
  if (e.health) out.health = e.health;
  if (e.locality) out.locality = e.locality;
  return out;
}

/** The load assignments of one service's EDS clusters as seen from namespace `ns` (by `proxy`: endpoints on other networks through their gateways). */
export function serviceEndpoints(snap: MeshSnapshot, svc: Service, ns: string, proxy?: ProxyInfo): ClusterLoadAssignment[] {
  if (svc.resolution !== 'STATIC') return [];
  const dr = destinationRuleFor(snap, svc, ns)?.spec as DestinationRuleSpec | undefined;
  const listed = snap.endpointsByService.get(svc.hostname) ?? [];
  const all = proxy ? splitHorizon(listed, proxyNetwork(snap, proxy), gatewaysOf(snap), proxy) : listed;
  const td = snap.mesh.trustDomain;
  const out: ClusterLoadAssignment[] = [];
  for (const port of svc.ports) {
    const eps = all.filter((e) => e.servicePort === port.port);
    out.push({ cluster: outboundCluster(port.port, undefined, svc.hostname), endpoints: eps.map((e) => toEndpoint(e, td)) });
    for (const subset of dr?.subsets ?? []) {
      out.push({ cluster: outboundCluster(port.port, subset.name, svc.hostname), endpoints: eps.filter((e) => labelsMatch(subset.labels, e.labels)).map((e) => toEndpoint(e, td)) });
    }
  }
  return out;
}

/** Generates endpoints. */
export const endpointsGenerator: Generator = {
  type: 'endpoints',
  // workloads: east-west gateways (where other networks' endpoints are reached) are workloads.
  kinds: ['services', 'endpoints', 'workloads', 'DestinationRule', 'Sidecar', 'mesh'],
  parts(snap: MeshSnapshot, proxy: ProxyInfo): OutputPart[] {
    const scope = proxy.node.role === 'gateway' ? gatewayScope(proxy) : outboundScope(snap, proxy);
    const network = proxyNetwork(snap, proxy);
    const parts: OutputPart[] = [{ scope: `outbound:${scope}|net:${network}${isEastWest(proxy) ? '|ew' : ''}`, build: () => visibleServices(snap, proxy).flatMap((s) => serviceEndpoints(snap, s, proxy.node.namespace, proxy)) }];
    if (proxy.node.role === 'sidecar') {
      const appHost = '127.0.0.1';
      parts.push({
        scope: `own:${proxy.node.id}`,
        build: () => inboundPorts(proxy, snap).map((p) => ({ cluster: `inbound|${p.port}||`, endpoints: [{ address: p.appHost ?? appHost, port: p.appPort }] })),
      });
    }
    return parts;
  },
};
