/** Test fixture: a Bookinfo mesh snapshot (universal workloads, sample rules) and its proxies. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultMeshConfig, normalize, parseAndValidate } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot, type MeshSnapshot } from '../../model/snapshot.js';
import { announcementsView, type Announcement } from '../../registry/universal/universal.js';
import type { ProxyInfo } from '../generators/index.js';

const samples = fileURLToPath(new URL('../../../samples/networking/', import.meta.url));

/** Reads and normalises the resources of sample files (samples/networking/NAME.yaml), applied in order: a later resource with the same kind/namespace/name replaces the earlier one. */
export function sampleResources(...names: string[]): Resource[] {
  const out = new Map<string, Resource>();
  for (const n of names) {
    const { documents } = parseAndValidate(readFileSync(`${samples}${n}.yaml`, 'utf8'), { file: n });
    for (const d of documents) if (d.resource) out.set(`${d.resource.kind}/${d.resource.metadata.namespace}/${d.resource.metadata.name}`, normalize(d.resource));
  }
  return [...out.values()];
}

function wl(name: string, app: string, version: string, port: number): Announcement {
  return { name, namespace: 'default', serviceAccount: `bookinfo-${app}`, labels: { app, version }, address: '127.0.0.1', services: [{ service: app, port: 9080, protocol: 'HTTP', targetPort: port - 10000 }], portMap: { '9080': port } };
}

/** The Bookinfo workloads: productpage v1, details v1, reviews v1..v3, ratings v1. */
export const bookinfoWorkloads: Announcement[] = [
  wl('productpage-v1', 'productpage', 'v1', 19080),
  wl('details-v1', 'details', 'v1', 19081),
  wl('reviews-v1', 'reviews', 'v1', 19082),
  wl('reviews-v2', 'reviews', 'v2', 19083),
  wl('reviews-v3', 'reviews', 'v3', 19084),
  wl('ratings-v1', 'ratings', 'v1', 19085),
];

/** A snapshot of Bookinfo with the given config resources. */
export function bookinfoSnapshot(configs: Resource[], previous?: MeshSnapshot): MeshSnapshot {
  const view = announcementsView(bookinfoWorkloads.map((a) => ({ proxyId: `${a.name}.default`, announcement: a })));
  return buildSnapshot({ configs, ...view, mesh: defaultMeshConfig() }, previous, Date.now());
}

/** productpage's sidecar. */
export const productpageProxy: ProxyInfo = {
  node: { id: 'productpage-v1.default', role: 'sidecar', workload: 'productpage-v1', namespace: 'default', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage', version: 'v1' } },
  workload: { ...bookinfoWorkloads[0]!, outboundPort: 15001 },
};

/** The ingress gateway (labels istio=ingressgateway), port 80 bound on 8080. */
export const ingressProxy: ProxyInfo = {
  node: { id: 'ingressgateway.istio-system', role: 'gateway', workload: 'ingressgateway', namespace: 'istio-system', serviceAccount: 'ingressgateway', labels: { istio: 'ingressgateway' } },
  workload: { name: 'ingressgateway', namespace: 'istio-system', serviceAccount: 'ingressgateway', labels: { istio: 'ingressgateway' }, address: '127.0.0.1', services: [], role: 'gateway', portMap: { '80': 8080 }, bindAddress: '127.0.0.1' },
};
