import { describe, expect, it } from 'vitest';
import { DEFAULT_DOMAINS } from '../../model/service.js';
import { kubernetesView, localityOf, portProtocol, workloadName } from './translate.js';
import type { KubeEndpoints, KubeEndpointSlice, KubeNamespace, KubeNode, KubePod, KubeService } from './types.js';

const naming = { domains: DEFAULT_DOMAINS, source: 'kubernetes' };

const reviews: KubeService = {
  metadata: { name: 'reviews', namespace: 'bookinfo' },
  spec: { type: 'ClusterIP', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 9080, targetPort: 9080 }, { name: 'metrics', port: 9090, appProtocol: 'http' }] },
};
const pod = (name: string, ip: string, extra: Partial<KubePod['metadata']> = {}): KubePod => ({
  metadata: { name, namespace: 'bookinfo', labels: { app: 'reviews', version: 'v1', 'pod-template-hash': '7d8f9', 'security.istio.io/tlsMode': 'istio' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'reviews-v1-7d8f9', controller: true }], ...extra },
  spec: { serviceAccountName: 'bookinfo-reviews', nodeName: 'node-a' },
  status: { phase: 'Running', podIP: ip },
});
const node: KubeNode = { metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/region': 'eu-west1', 'topology.kubernetes.io/zone': 'eu-west1-b', 'topology.istio.io/subzone': 'rack7' } } };
const slice = (endpoints: KubeEndpointSlice['endpoints'], name = 'reviews-abc'): KubeEndpointSlice => ({
  metadata: { name, namespace: 'bookinfo', labels: { 'kubernetes.io/service-name': 'reviews' } },
  addressType: 'IPv4', ports: [{ name: 'http', port: 9080, protocol: 'TCP' }], endpoints,
});
const ep = (ip: string, podName: string, conditions: { ready?: boolean; serving?: boolean; terminating?: boolean } = { ready: true, serving: true, terminating: false }) =>
  ({ addresses: [ip], conditions, nodeName: 'node-a', zone: 'eu-west1-c', targetRef: { kind: 'Pod', name: podName, namespace: 'bookinfo' } });

describe('Kubernetes objects as mesh services, endpoints and workloads', () => {
  it('a Service: FQDN and short names, ClusterIP as its VIP, protocols from appProtocol and port names', () => {
    const v = kubernetesView({ services: [reviews], slices: [], pods: [], nodes: [] }, naming);
    expect(v.services).toEqual([{
      hostname: 'reviews.bookinfo.svc.cluster.local', name: 'reviews', namespace: 'bookinfo',
      aliases: ['reviews.bookinfo.svc.cluster.local', 'reviews.bookinfo.svc', 'reviews.bookinfo'], localAliases: ['reviews'],
      ports: [{ name: 'http', port: 9080, protocol: 'HTTP' }, { name: 'metrics', port: 9090, protocol: 'HTTP' }],
      resolution: 'STATIC', location: 'MESH_INTERNAL', source: 'kubernetes', addresses: ['10.96.0.20'],
    }]);
  });

  it('follows Istio\'s protocol selection: appProtocol first, then the name prefix, else TCP (UDP stays UDP)', () => {
    expect(portProtocol({ name: 'http-web' })).toBe('HTTP');
    expect(portProtocol({ name: 'grpc-web-ui' })).toBe('GRPC-WEB');
    expect(portProtocol({ name: 'grpc' })).toBe('GRPC');
    expect(portProtocol({ name: 'http2' })).toBe('HTTP2');
    expect(portProtocol({ name: 'httpx' })).toBe('TCP'); // a prefix counts only before a dash
    expect(portProtocol({ name: 'tcp-db', appProtocol: 'http' })).toBe('HTTP');
    expect(portProtocol({ name: 'web', appProtocol: 'kubernetes.io/h2c' })).toBe('HTTP2');
    expect(portProtocol({ name: 'mysql' })).toBe('TCP');
    expect(portProtocol({})).toBe('TCP');
    expect(portProtocol({ name: 'dns', protocol: 'UDP' })).toBe('UDP');
  });

  it('an ExternalName Service resolves its name by DNS; a headless one has no VIP and passes through', () => {
    const ext: KubeService = { metadata: { name: 'db', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'db.example.com', ports: [{ name: 'tcp', port: 5432 }] } };
    const headless: KubeService = { metadata: { name: 'kafka', namespace: 'default' }, spec: { clusterIP: 'None', ports: [{ name: 'tcp', port: 9092 }] } };
    const v = kubernetesView({ services: [ext, headless], slices: [], pods: [], nodes: [] }, naming);
    const db = v.services.find((s) => s.name === 'db')!;
    expect(db).toMatchObject({ resolution: 'DNS', location: 'MESH_EXTERNAL' });
    expect(db.addresses).toBeUndefined();
    expect(v.endpoints).toEqual([expect.objectContaining({ service: 'db.default.svc.cluster.local', address: 'db.example.com', port: 5432, servicePort: 5432 })]);
    const kafka = v.services.find((s) => s.name === 'kafka')!;
    expect(kafka.resolution).toBe('NONE');
    expect(kafka.addresses).toBeUndefined();
  });

  it('endpoints from EndpointSlices: ready, terminating-but-serving (draining), not ready; Pod identity and Node locality', () => {
    const pods = [pod('reviews-v1-7d8f9-a', '10.244.1.2'), pod('reviews-v1-7d8f9-b', '10.244.1.3'), pod('reviews-v1-7d8f9-c', '10.244.1.4')];
    const v = kubernetesView({
      services: [reviews],
      slices: [slice([ep('10.244.1.2', 'reviews-v1-7d8f9-a'), ep('10.244.1.3', 'reviews-v1-7d8f9-b', { ready: false, serving: true, terminating: true }), ep('10.244.1.4', 'reviews-v1-7d8f9-c', { ready: false, serving: false })]),
        // The same endpoint in a second slice while the controller moves it: reported once.
        slice([ep('10.244.1.2', 'reviews-v1-7d8f9-a')], 'reviews-def')],
      pods, nodes: [node],
    }, naming);
    expect(v.endpoints.map((e) => [e.address, e.health])).toEqual([['10.244.1.2', 'healthy'], ['10.244.1.3', 'draining'], ['10.244.1.4', 'unhealthy']]);
    expect(v.endpoints[0]).toEqual({
      service: 'reviews.bookinfo.svc.cluster.local', servicePort: 9080, address: '10.244.1.2', port: 9080,
      labels: pods[0]!.metadata.labels, workload: 'reviews-v1', namespace: 'bookinfo', serviceAccount: 'bookinfo-reviews', tlsMode: 'istio',
      health: 'healthy', locality: 'eu-west1/eu-west1-c/rack7',
    });
    // A port of the Service that no slice serves has no endpoints; the slice's port maps to the Service port by name.
    expect(v.endpoints.every((e) => e.servicePort === 9080)).toBe(true);
    expect(v.workloads.map((w) => [w.id, w.name, w.address, w.serviceAccount, w.hasProxy])).toEqual([
      ['kubernetes/bookinfo/reviews-v1-7d8f9-a', 'reviews-v1', '10.244.1.2', 'bookinfo-reviews', true],
      ['kubernetes/bookinfo/reviews-v1-7d8f9-b', 'reviews-v1', '10.244.1.3', 'bookinfo-reviews', true],
      ['kubernetes/bookinfo/reviews-v1-7d8f9-c', 'reviews-v1', '10.244.1.4', 'bookinfo-reviews', true],
    ]);
  });

  it('a slice whose Service is unknown, or whose port the Service does not name, gives nothing; ready unset counts as ready', () => {
    const orphan: KubeEndpointSlice = { ...slice([ep('10.244.1.9', 'x')]), metadata: { name: 'o', namespace: 'bookinfo', labels: { 'kubernetes.io/service-name': 'gone' } } };
    const wrongPort: KubeEndpointSlice = { ...slice([ep('10.244.1.8', 'y')], 'w'), ports: [{ name: 'grpc', port: 7000 }] };
    const unknown = slice([{ addresses: ['10.244.1.7'], conditions: {} }], 'u');
    const v = kubernetesView({ services: [reviews], slices: [orphan, wrongPort, unknown], pods: [], nodes: [] }, naming);
    expect(v.endpoints).toEqual([expect.objectContaining({ address: '10.244.1.7', health: 'healthy', workload: '10.244.1.7', tlsMode: 'disabled' })]);
    expect(v.endpoints[0]!.serviceAccount).toBeUndefined();
  });

  it('names workloads after their Deployment, controller or themselves; localities from what is known', () => {
    expect(workloadName(pod('reviews-v1-7d8f9-a', '1.1.1.1'))).toBe('reviews-v1');
    expect(workloadName(pod('db-0', '1.1.1.1', { ownerReferences: [{ kind: 'StatefulSet', name: 'db', controller: true }] }))).toBe('db');
    expect(workloadName({ metadata: { name: 'solo' } })).toBe('solo');
    expect(localityOf(node, undefined)).toBe('eu-west1/eu-west1-b/rack7');
    expect(localityOf({ metadata: { name: 'n', labels: { 'topology.kubernetes.io/region': 'r' } } }, undefined)).toBe('r');
    expect(localityOf(undefined, 'z9')).toBe('/z9');
    expect(localityOf(undefined, undefined)).toBeUndefined();
  });

  it('uses the configured cluster domain and exportTo annotation', () => {
    const s: KubeService = { ...reviews, metadata: { ...reviews.metadata, annotations: { 'networking.istio.io/exportTo': '., istio-system' } } };
    const v = kubernetesView({ services: [s], slices: [], pods: [], nodes: [] }, { domains: { clusterDomain: 'corp.internal', extraDomains: [] }, source: 'kubernetes' });
    expect(v.services[0]!.hostname).toBe('reviews.bookinfo.svc.corp.internal');
    expect(v.services[0]!.exportTo).toEqual(['.', 'istio-system']);
  });

  describe('namespaces: discoverySelectors and the cluster network', () => {
    const ns = (name: string, labels: Record<string, string> = {}): KubeNamespace => ({ metadata: { name, labels } });
    const svc = (name: string, namespace: string): KubeService => ({ metadata: { name, namespace }, spec: { clusterIP: '10.96.1.1', ports: [{ name: 'http', port: 80 }] } });
    const both = { services: [svc('a', 'team-a'), svc('b', 'team-b'), svc('gw', 'istio-system')], slices: [], pods: [], nodes: [] };

    it('keeps the namespaces any selector selects (OR of selectors, AND within one), plus the root namespace', () => {
      const namespaces = [ns('team-a', { mesh: 'on', env: 'prod' }), ns('team-b', { mesh: 'on', env: 'dev' }), ns('istio-system')];
      const names = (sel: Parameters<typeof kubernetesView>[1]['discoverySelectors']) =>
        kubernetesView({ ...both, namespaces }, { ...naming, rootNamespace: 'istio-system', ...(sel ? { discoverySelectors: sel } : {}) }).services.map((x) => x.name);
      expect(names(undefined)).toEqual(['gw', 'a', 'b']);
      expect(names([{ matchLabels: { mesh: 'on', env: 'prod' } }])).toEqual(['gw', 'a']);
      expect(names([{ matchLabels: { env: 'prod' } }, { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }])).toEqual(['gw', 'a', 'b']);
      expect(names([{ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }, { key: 'mesh', operator: 'Exists' }] }])).toEqual(['gw', 'b']);
      expect(names([{ matchExpressions: [{ key: 'mesh', operator: 'DoesNotExist' }] }])).toEqual(['gw']);
    });

    it('filters nothing until Namespaces have been read (a selector never empties the mesh by a failed list)', () => {
      const v = kubernetesView(both, { ...naming, rootNamespace: 'istio-system', discoverySelectors: [{ matchLabels: { mesh: 'on' } }] });
      expect(v.services.map((x) => x.name)).toEqual(['gw', 'a', 'b']);
    });

    it('the root namespace\'s topology.istio.io/network label is the network of endpoints whose Pod names none', () => {
      const labelled = pod('reviews-v1-7d8f9-b', '10.244.0.6', { labels: { app: 'reviews', 'topology.istio.io/network': 'net-pod' } });
      const v = kubernetesView({ services: [reviews], slices: [slice([ep('10.244.0.5', 'reviews-v1-7d8f9-a'), ep('10.244.0.6', 'reviews-v1-7d8f9-b')])], pods: [pod('reviews-v1-7d8f9-a', '10.244.0.5'), labelled], nodes: [node], namespaces: [ns('istio-system', { 'topology.istio.io/network': 'net-east' }), ns('bookinfo')] },
        { ...naming, rootNamespace: 'istio-system' });
      expect(v.endpoints.map((e) => [e.address, e.network])).toEqual([['10.244.0.5', 'net-east'], ['10.244.0.6', undefined]]);
    });
  });

  describe('core/v1 Endpoints as the fallback', () => {
    const endpoints = (name: string): KubeEndpoints => ({
      metadata: { name, namespace: 'bookinfo' },
      subsets: [{ addresses: [{ ip: '10.244.0.5', nodeName: 'node-a', targetRef: { kind: 'Pod', name: 'reviews-v1-7d8f9-a', namespace: 'bookinfo' } }], notReadyAddresses: [{ ip: '10.244.0.9' }], ports: [{ name: 'http', port: 9080 }] }],
    });

    it('a Service no EndpointSlice names takes its Endpoints: ready addresses healthy, not-ready ones unhealthy, with the Pod\'s identity', () => {
      const v = kubernetesView({ services: [reviews], slices: [], pods: [pod('reviews-v1-7d8f9-a', '10.244.0.5')], nodes: [node], endpoints: [endpoints('reviews')] }, naming);
      expect(v.endpoints.map((e) => ({ address: e.address, port: e.port, health: e.health, sa: e.serviceAccount, locality: e.locality }))).toEqual([
        { address: '10.244.0.5', port: 9080, health: 'healthy', sa: 'bookinfo-reviews', locality: 'eu-west1/eu-west1-b/rack7' },
        { address: '10.244.0.9', port: 9080, health: 'unhealthy', sa: undefined, locality: undefined },
      ]);
    });

    it('a Service an EndpointSlice names ignores its Endpoints (the slices win)', () => {
      const v = kubernetesView({ services: [reviews], slices: [slice([ep('10.244.0.7', 'reviews-v1-7d8f9-c')])], pods: [], nodes: [node], endpoints: [endpoints('reviews')] }, naming);
      expect(v.endpoints.map((e) => e.address)).toEqual(['10.244.0.7']);
    });
  });

  it('a Pod\'s istio-locality label (region.zone.subzone) overrides its Node\'s topology', () => {
    const own = pod('reviews-v1-7d8f9-a', '10.244.0.5', { labels: { app: 'reviews', 'istio-locality': 'us-east1.us-east1-c.rack2' } });
    const v = kubernetesView({ services: [reviews], slices: [slice([ep('10.244.0.5', 'reviews-v1-7d8f9-a'), ep('10.244.0.6', 'reviews-v1-7d8f9-b')])], pods: [own, pod('reviews-v1-7d8f9-b', '10.244.0.6')], nodes: [node] }, naming);
    expect(v.endpoints.map((e) => e.locality)).toEqual(['us-east1/us-east1-c/rack2', 'eu-west1/eu-west1-c/rack7']);
  });
});
