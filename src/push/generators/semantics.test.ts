import { describe, expect, it } from 'vitest';
import { defaultMeshConfig, normalize } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot } from '../../model/snapshot.js';
import { announcementsView } from '../../registry/universal/universal.js';
import { serviceEntryView } from '../../registry/serviceentry/serviceentry.js';
import { mergeViews } from '../../registry/registry.js';
import { bookinfoWorkloads, ingressProxy, productpageProxy } from '../testdata/bookinfo.js';
import { generateProxyConfig } from './index.js';

const r = (kind: string, name: string, ns: string, spec: unknown): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: kind as Resource['kind'], metadata: { name, namespace: ns }, spec });

function snap(configs: Resource[], domains = { clusterDomain: 'cluster.local', extraDomains: [] as string[] }) {
  const universal = announcementsView(bookinfoWorkloads.map((a) => ({ proxyId: a.name, announcement: a })), domains);
  const se = serviceEntryView(configs.filter((c) => c.kind === 'ServiceEntry'), []);
  return buildSnapshot({ configs, ...mergeViews([universal, se]), mesh: defaultMeshConfig(), domains });
}

describe('DestinationRule traffic policy', () => {
  it('merges trafficPolicy, portLevelSettings and subset policy as Istio does', () => {
    const cfg = generateProxyConfig(snap([r('DestinationRule', 'reviews', 'default', {
      host: 'reviews',
      trafficPolicy: {
        loadBalancer: { simple: 'RANDOM' }, connectionPool: { tcp: { maxConnections: 10, connectTimeout: '2s' } },
        portLevelSettings: [{ port: { number: 9080 }, outlierDetection: { consecutive5xxErrors: 3, interval: '5s', baseEjectionTime: '30s' } }],
      },
      subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'X-User' } } } }],
    })]), productpageProxy);
    const c = (n: string) => cfg.clusters.find((x) => x.name === n)!;
    expect(c('outbound|9080||reviews.default.svc.cluster.local')).toMatchObject({ loadBalancer: { policy: 'RANDOM' }, connectionPool: { maxConnections: 10, connectTimeoutMs: 2000 }, outlierDetection: { consecutive5xxErrors: 3, intervalMs: 5000, baseEjectionTimeMs: 30000 } });
    expect(c('outbound|9080|v1|reviews.default.svc.cluster.local').loadBalancer).toEqual({ policy: 'RANDOM' });
    expect(c('outbound|9080|v2|reviews.default.svc.cluster.local')).toMatchObject({ loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { httpHeaderName: 'x-user' } }, connectionPool: { maxConnections: 10 } });
    expect(cfg.endpoints.find((e) => e.cluster === 'outbound|9080|v2|reviews.default.svc.cluster.local')!.endpoints.map((e) => e.labels?.version)).toEqual(['v2']);
  });
});

describe('Sidecar egress', () => {
  it('narrows what a sidecar sees to the listed hosts', () => {
    const cfg = generateProxyConfig(snap([r('Sidecar', 'default', 'default', { egress: [{ hosts: ['./reviews', './details.default.svc.cluster.local'] }] })]), productpageProxy);
    expect(cfg.clusters.map((c) => c.name).filter((n) => n.startsWith('outbound|'))).toEqual(['outbound|9080||details.default.svc.cluster.local', 'outbound|9080||reviews.default.svc.cluster.local']);
    expect(cfg.routes[0]!.virtualHosts.map((v) => v.name)).toEqual(['allow_any', 'details.default.svc.cluster.local:9080', 'reviews.default.svc.cluster.local:9080']);
  });
});

describe('host names', () => {
  it('extra domains are routable names; short names only in the service namespace', () => {
    const cfg = generateProxyConfig(snap([], { clusterDomain: 'cluster.local', extraDomains: ['marathon.slave.mesos'] }), productpageProxy);
    const vh = cfg.routes[0]!.virtualHosts.find((v) => v.name === 'reviews.default.svc.cluster.local:9080')!;
    expect(vh.domains).toContain('reviews.default.svc.marathon.slave.mesos:9080');
    expect(vh.domains).toContain('reviews');
    const other = generateProxyConfig(snap([], { clusterDomain: 'cluster.local', extraDomains: [] }), { ...productpageProxy, node: { ...productpageProxy.node, id: 'x', namespace: 'shop' } });
    expect(other.routes[0]!.virtualHosts.find((v) => v.name === 'reviews.default.svc.cluster.local:9080')!.domains).not.toContain('reviews');
  });
});

describe('ServiceEntry', () => {
  it('DNS resolution gives a dns cluster resolved by the proxy; routes carry timeouts and rewrites', () => {
    const cfg = generateProxyConfig(snap([
      r('ServiceEntry', 'httpbin', 'default', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS', location: 'MESH_EXTERNAL' }),
      r('VirtualService', 'httpbin', 'default', { hosts: ['httpbin.org'], http: [{ timeout: '3s', rewrite: { uri: '/anything' }, retries: { attempts: 3, perTryTimeout: '1s', retryOn: '5xx,503' }, route: [{ destination: { host: 'httpbin.org' } }] }] }),
    ]), productpageProxy);
    expect(cfg.clusters.find((c) => c.name === 'outbound|80||httpbin.org')).toMatchObject({ discovery: 'dns', dnsHosts: [{ host: 'httpbin.org', port: 80 }] });
    const route = cfg.routes[0]!.virtualHosts.find((v) => v.name === 'httpbin.org:80')!.routes[0]!;
    expect(route.route).toMatchObject({ timeoutMs: 3000, rewrite: { uri: '/anything' }, retries: { attempts: 3, perTryTimeoutMs: 1000, retryOn: ['5xx', 'retriable-status-codes'], retriableStatusCodes: [503] } });
    expect(cfg.routes[0]!.virtualHosts.find((v) => v.name === 'httpbin.org:80')!.domains).toEqual(['httpbin.org', 'httpbin.org:80']);
  });
});

describe('gateway TLS', () => {
  it('HTTPS SIMPLE from certificate files, httpsRedirect on port 80, host matching', () => {
    const cfg = generateProxyConfig(snap([
      r('Gateway', 'gw', 'default', { selector: { istio: 'ingressgateway' }, servers: [
        { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['bookinfo.example.com'], tls: { httpsRedirect: true } },
        { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['bookinfo.example.com'], tls: { mode: 'SIMPLE', serverCertificate: '/etc/certs/tls.crt', privateKey: '/etc/certs/tls.key' } },
      ] }),
      r('VirtualService', 'bookinfo', 'default', { hosts: ['bookinfo.example.com'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'productpage', port: { number: 9080 } } }] }] }),
    ]), ingressProxy);
    expect(cfg.secrets.filter((s) => s.name !== 'default' && s.name !== 'ROOTCA')).toEqual([{ name: 'file-cert:/etc/certs/tls.crt~/etc/certs/tls.key', kind: 'tls-certificate', certificateChain: 'file:/etc/certs/tls.crt', privateKey: 'file:/etc/certs/tls.key' }]);
    const l443 = cfg.listeners.find((l) => l.logicalPort === 443)!;
    expect(l443.filterChains[0]).toMatchObject({ match: { transportProtocol: 'tls', serverNames: ['bookinfo.example.com'] }, tls: { certificateSecret: 'file-cert:/etc/certs/tls.crt~/etc/certs/tls.key' }, http: { routeConfig: 'https.443.https.gw.default' } });
    const https = cfg.routes.find((x) => x.name === 'https.443.https.gw.default')!;
    expect(https.virtualHosts[0]).toMatchObject({ domains: ['bookinfo.example.com', 'bookinfo.example.com:443'], routes: [{ route: { destinations: [{ cluster: 'outbound|9080||productpage.default.svc.cluster.local' }] } }] });
    expect(cfg.routes.find((x) => x.name === 'http.80')!.virtualHosts[0]!.routes).toEqual([{ name: 'https_redirect', redirect: { scheme: 'https', redirectCode: 301 } }]);
  });

  it('a Gateway whose selector does not match gives the proxy nothing', () => {
    const cfg = generateProxyConfig(snap([r('Gateway', 'gw', 'default', { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] })]), ingressProxy);
    expect(cfg.listeners).toEqual([]);
  });
});

describe('headers, mirror, cors, redirect, direct response, tcp', () => {
  it('carries them over', () => {
    const cfg = generateProxyConfig(snap([
      r('VirtualService', 'ratings', 'default', { hosts: ['ratings'], http: [
        { match: [{ uri: { prefix: '/old' } }], redirect: { uri: '/new', redirectCode: 302 } },
        { match: [{ uri: { exact: '/health' } }], directResponse: { status: 200, body: { string: 'ok' } } },
        { headers: { request: { set: { 'x-a': '1' } } }, mirror: { host: 'ratings', subset: 'v2' }, mirrorPercentage: { value: 10 }, corsPolicy: { allowOrigins: [{ exact: 'https://a.example' }], maxAge: '24h' }, route: [{ destination: { host: 'ratings' }, headers: { response: { remove: ['x-b'] } } }] },
      ] }),
    ]), productpageProxy);
    const routes = cfg.routes[0]!.virtualHosts.find((v) => v.name === 'ratings.default.svc.cluster.local:9080')!.routes;
    expect(routes[0]).toMatchObject({ redirect: { uri: '/new', redirectCode: 302 } });
    expect(routes[1]).toMatchObject({ directResponse: { status: 200, body: 'ok' } });
    expect(routes[2]).toMatchObject({ headers: { request: { set: { 'x-a': '1' } } }, cors: { allowOrigins: [{ exact: 'https://a.example' }], maxAgeMs: 86_400_000 }, route: { mirrors: [{ cluster: 'outbound|9080|v2|ratings.default.svc.cluster.local', percentage: 10 }], destinations: [{ headers: { response: { remove: ['x-b'] } } }] } });
  });

  it('TCP services get a chain on the capture listener with VirtualService tcp routes', () => {
    const cfg = generateProxyConfig(snap([
      r('ServiceEntry', 'db', 'default', { hosts: ['db.internal'], location: 'MESH_INTERNAL', ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }], resolution: 'STATIC', endpoints: [{ address: '10.0.0.1' }] }),
      r('VirtualService', 'db', 'default', { hosts: ['db.internal'], tcp: [{ match: [{ port: 5432 }], route: [{ destination: { host: 'db.internal', port: { number: 5432 } } }] }] }),
    ]), { ...productpageProxy, workload: { ...productpageProxy.workload!, captureMode: 'iptables' } });
    const vo = cfg.listeners.find((l) => l.name === 'virtualOutbound')!;
    expect(vo.useOriginalDst).toBe(true);
    expect(vo.filterChains[0]).toMatchObject({ match: { destinationPort: 5432 }, tcp: { routes: [{ match: { port: 5432 }, destinations: [{ cluster: 'outbound|5432||db.internal', weight: 100 }] }] } });
  });
});

describe('Istio fields translated for the proxy', () => {
  it('match.port is decided per service port in a sidecar; derivePort, backoff, exponentialDelay and http2Error reach the route', () => {
    const cfg = generateProxyConfig(snap([r('VirtualService', 'reviews', 'default', { hosts: ['reviews'], http: [
      { match: [{ port: 9080, uri: { prefix: '/a' } }], redirect: { uri: '/b', derivePort: 'FROM_REQUEST_PORT' } },
      { match: [{ port: 9081 }], route: [{ destination: { host: 'reviews' } }] },
      { match: [{ uri: { prefix: '/p' } }], redirect: { scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT' } },
      { route: [{ destination: { host: 'reviews' } }], retries: { attempts: 2, backoff: '250ms' }, fault: { delay: { exponentialDelay: '2s', percentage: { value: 10 } }, abort: { http2Error: '7', percentage: { value: 1 } } } },
    ] })]), productpageProxy);
    const routes = cfg.routes[0]!.virtualHosts.find((v) => v.name === 'reviews.default.svc.cluster.local:9080')!.routes;
    expect(routes).toHaveLength(3);
    expect(routes[0]).toMatchObject({ match: [{ uri: { prefix: '/a' } }], redirect: { uri: '/b', port: 9080 } });
    expect(routes[0]!.match![0]!.port).toBeUndefined();
    expect(routes[1]!.redirect).toEqual({ scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT', redirectCode: 301 });
    expect(routes[2]!.route!.retries!.backoffBaseMs).toBe(250);
    expect(routes[2]!.fault).toEqual({ delay: { exponentialDelayMs: 2000, percentage: 10 }, abort: { http2Error: 'REFUSED_STREAM', percentage: 1 } });
  });
});

describe('legacy spellings', () => {
  it('reach the proxy through normalize() alone: the generators read only the current fields', () => {
    const legacy = [
      r('VirtualService', 'reviews', 'default', {
        hosts: ['reviews'],
        http: [{
          fault: { delay: { fixedDelay: '1s', percent: 30 }, abort: { httpStatus: 503, percent: 20 } },
          mirror: { host: 'ratings' }, mirror_percent: 40,
          corsPolicy: { allowOrigin: ['https://shop.example'] },
          route: [{ destination: { host: 'reviews' } }],
        }],
      }),
      r('DestinationRule', 'reviews', 'default', { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user', minimumRingSize: 2048 } }, outlierDetection: { consecutiveErrors: 4 } } }),
    ].map((x) => normalize(x));
    const cfg = generateProxyConfig(snap(legacy), productpageProxy);
    const route = cfg.routes.flatMap((t) => t.virtualHosts).find((v) => v.name === 'reviews.default.svc.cluster.local:9080')!.routes[0]!;
    expect(route.fault).toMatchObject({ delay: { percentage: 30 }, abort: { httpStatus: 503, percentage: 20 } });
    expect(route.route?.mirrors).toEqual([expect.objectContaining({ percentage: 40 })]);
    expect(route.cors?.allowOrigins).toEqual([{ exact: 'https://shop.example' }]);
    const c = cfg.clusters.find((x) => x.name === 'outbound|9080||reviews.default.svc.cluster.local')!;
    expect(c.loadBalancer?.consistentHash?.minimumRingSize).toBe(2048);
    // Istio: consecutiveErrors counted 502, 503 and 504, i.e. gateway errors.
    expect(c.outlierDetection).toMatchObject({ consecutiveGatewayErrors: 4 });
    expect(c.outlierDetection?.consecutive5xxErrors).toBeUndefined();
  });
});
