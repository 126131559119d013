// The source reporter's destination_principal comes from the upstream connection's verified
// certificate, never from what the server says about itself. A real outbound Bowline proxy with
// its CA-issued workload certificate calls, over ISTIO_MUTUAL, a real TLS upstream holding a
// CA-issued certificate for reviews (identity A), whose every response carries a forged
// x-bowline-peer-metadata claiming another principal (B), made with the project's own encoder.
// Over HTTP/1.1, HTTP/2 and TCP, the proxy's /stats/prometheus and access log say A and never B;
// the header still names the workload (destination_workload). A plaintext cluster to a server
// sending the same header says "unknown". Each case runs on two proxies: one with the access log
// on (the full telemetry path) and one without (the metrics-only path).
import { once } from 'node:events';
import { createServer as httpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, MemoryCaStorage, parseKek } from '../../src/ca/index.js';
import type { Cluster, ClusterLoadAssignment, Listener, NodeInfo, ProxyConfig, RouteConfig } from '../../src/proxy-config/types.js';
import { formatSpiffeId } from '../../src/proxy-config/spiffe.js';
import { DEFAULT_MESH_SETTINGS } from '../../src/proxy-config/wire.js';
import { workloadSecretPlaceholders } from '../../src/proxy-config/workload-secrets.js';
import { LiveCredentials } from '../../src/proxy/identity/credentials.js';
import { listenLocalHttp } from '../../src/proxy/local-http.js';
import { startProxy } from '../../src/proxy/proxy.js';
import { createProxyTelemetry, startMetricsServer } from '../../src/telemetry/index.js';
import { encodePeerMetadata, nodePeerMetadata, PEER_METADATA_HEADER } from '../../src/telemetry/peer.js';
import { httpGet } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { issue } from './identity-harness.js';

const kek = parseKek(Buffer.alloc(32, 5), 'test');
const REVIEWS = 'reviews.default.svc.cluster.local';
const DETAILS = 'details.default.svc.cluster.local';
/** The principal the forged header claims. */
const B = formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'forged-admin' });
/** What the upstream's certificate proves (set once the CA issued it). */
let A = '';
/** The workload the upstream's header names (reviews-v2), unlike the endpoint config (reviews-v1): the header still supplies workload labels. */
const callee: NodeInfo = { id: 'reviews-v2-1.default', role: 'sidecar', workload: 'reviews-v2', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' } };
const forged = encodePeerMetadata({ ...nodePeerMetadata(callee), principal: B });
const productpage: NodeInfo = { id: 'productpage-v1-1.default', role: 'sidecar', workload: 'productpage-v1', namespace: 'default', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage', version: 'v1' } };

const closers: Array<() => Promise<unknown>> = [];
/** The client SPIFFE ids the mTLS upstream saw (the proxy really presented its workload certificate). */
const clientSans: string[] = [];

interface Client {
  name: string;
  port(listener: string): number;
  metrics(): Promise<string>;
  /** Access log lines (JSON), or undefined when this proxy logs none. */
  log: Array<Record<string, unknown>> | undefined;
}
const clients: Client[] = [];

function answer(_req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  res.setHeader(PEER_METADATA_HEADER, forged);
  res.setHeader('content-type', 'text/plain');
  res.end('reviews says hi');
}

async function listening(server: { listen(port: number, host: string): unknown; address(): unknown; close(cb?: () => void): unknown }): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server as never, 'listening');
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

function proxyConfig(accessLog: boolean, mtlsPort: number, plainPort: number): ProxyConfig {
  const tls: Cluster['tls'] = { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA' };
  const service = (host: string, port: number) => ({ host, name: host.split('.')[0]!, namespace: 'default', port });
  const ep = (port: number, extra: object) => ({ address: '127.0.0.1', port, namespace: 'default', tlsMode: 'istio' as const, ...extra });
  const clusters: Cluster[] = [
    { name: `outbound|9080||${REVIEWS}`, discovery: 'eds', protocol: 'http1', service: service(REVIEWS, 9080), tls },
    { name: `outbound|9081||${REVIEWS}`, discovery: 'eds', protocol: 'http2', service: service(REVIEWS, 9081), tls },
    // TCP: the endpoint's config names no identity and DestinationRule-style SANs check the server: only the handshake knows who it is.
    { name: `outbound|9082||${REVIEWS}`, discovery: 'eds', protocol: 'tcp', service: service(REVIEWS, 9082), tls: { ...tls, subjectAltNames: [A] } },
    { name: `outbound|9080||${DETAILS}`, discovery: 'eds', protocol: 'http1', service: service(DETAILS, 9080) },
  ];
  const reviewsEp = ep(mtlsPort, { workload: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, identity: A });
  const endpoints: ClusterLoadAssignment[] = [
    { cluster: clusters[0]!.name, endpoints: [reviewsEp] },
    { cluster: clusters[1]!.name, endpoints: [reviewsEp] },
    { cluster: clusters[2]!.name, endpoints: [ep(mtlsPort, { workload: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } })] },
    { cluster: clusters[3]!.name, endpoints: [ep(plainPort, { workload: 'details-v1', labels: { app: 'details', version: 'v1' }, tlsMode: 'disabled' })] },
  ];
  const http = (name: string, cluster: string): { listener: Listener; route: RouteConfig } => ({
    listener: { name, address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: name, codec: 'http1' } }] },
    route: { name, virtualHosts: [{ name, domains: ['*'], routes: [{ route: { destinations: [{ cluster, weight: 1 }] } }] }] },
  });
  const h = [http('h1', clusters[0]!.name), http('h2', clusters[1]!.name), http('plain', clusters[3]!.name)];
  const tcp: Listener = { name: 'tcp', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'tcp', tcp: { routes: [{ destinations: [{ cluster: clusters[2]!.name, weight: 1 }] }] } }] };
  return {
    node: productpage,
    mesh: { ...DEFAULT_MESH_SETTINGS, accessLog: { enabled: accessLog, encoding: 'JSON' } },
    listeners: [...h.map((x) => x.listener), tcp],
    routes: h.map((x) => x.route),
    clusters,
    endpoints,
    secrets: workloadSecretPlaceholders(),
  };
}

beforeAll(async () => {
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
  const server = await issue(ca, 'default', 'bookinfo-reviews');
  A = server.spiffeId;
  // The upstream: mutual TLS with a CA-issued certificate for A, HTTP/2 or HTTP/1.1 by ALPN (a TCP tunnel's client speaks HTTP/1.1 in it).
  const mtls = createSecureServer({ cert: server.chainPem, key: server.keyPem, ca: server.trustBundlePem, requestCert: true, rejectUnauthorized: true, allowHTTP1: true }, answer);
  mtls.on('secureConnection', (s) => clientSans.push(s.getPeerCertificate().subjectaltname ?? ''));
  const mtlsPort = await listening(mtls);
  const plainPort = await listening(httpServer(answer));
  for (const accessLog of [true, false]) {
    const config = proxyConfig(accessLog, mtlsPort, plainPort);
    const log: Array<Record<string, unknown>> = [];
    const telemetry = createProxyTelemetry({
      config,
      accessLogSink: { write: (l) => { log.push(JSON.parse(l) as Record<string, unknown>); }, stats: { written: 0, dropped: 0, errors: 0 }, drain: async () => {}, close: async () => {} },
    });
    expect(telemetry.countsOnly).toBe(!accessLog);
    const proxy = await startProxy({ config, identity: new LiveCredentials(await issue(ca, 'default', 'bookinfo-productpage')), admin: false, telemetry, log: () => {} });
    const metrics = await startMetricsServer({ registry: telemetry.registry, port: 0, listen: listenLocalHttp });
    closers.push(() => proxy.close(), () => metrics.close(), () => telemetry.close());
    clients.push({
      name: accessLog ? 'access log on' : 'metrics only',
      port: (l) => proxy.ports.listeners[l]!,
      metrics: async () => (await httpGet(metrics.port, '/stats/prometheus')).body,
      log: accessLog ? log : undefined,
    });
  }
}, 30_000);

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

/** The istio_* lines of `metric` whose labels include every `k="v"` of `labels`. */
function lines(page: string, metric: string, labels: Record<string, string>): string[] {
  return page.split('\n').filter((l) => l.startsWith(metric + '{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
}
const total = (ls: string[]): number => ls.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

/** Scrapes `c`'s /stats/prometheus until `ready(page)`; returns that page. */
async function scrapeUntil(c: Client, ready: (page: string) => boolean, what: string): Promise<string> {
  let page = '';
  await waitFor(async () => ready((page = await c.metrics())), { what: `${c.name}: ${what}` });
  return page;
}

describe('destination_principal of requests a sidecar sends (reporter="source")', () => {
  // Both clusters are the reviews service (ports 9080, 9081): the HTTP/2 case counts on top of the HTTP/1.1 one.
  for (const [listener, service, protocol, counted] of [['h1', REVIEWS, 'HTTP/1.1', 3], ['h2', REVIEWS, 'HTTP/2', 6]] as const) {
    it(`over ISTIO_MUTUAL (${protocol} upstream): the server certificate's identity A, never the B its response header claims`, async () => {
      for (const c of clients) {
        for (let i = 0; i < 3; i++) {
          const res = await httpGet(c.port(listener), '/reviews/0');
          expect(res.status, c.name).toBe(200);
          expect(res.body).toBe('reviews says hi');
        }
        const page = await scrapeUntil(c, (p) => total(lines(p, 'istio_requests_total', { reporter: 'source', destination_service: service, destination_service_name: 'reviews' })) >= counted, `${counted} requests to reviews counted`);
        const ours = lines(page, 'istio_requests_total', { reporter: 'source', destination_service_name: 'reviews' });
        expect(ours.length, c.name).toBeGreaterThan(0);
        // Every series of this service names A; the header still supplies the workload (reviews-v2, not the endpoint config's reviews-v1).
        for (const l of ours) expect(l, c.name).toContain(`destination_principal="${A}"`);
        for (const l of ours) expect(l).toContain('destination_workload="reviews-v2"');
        expect(page).not.toContain(B);
        if (c.log !== undefined) {
          const logged = c.log.filter((l) => l['protocol'] === 'HTTP/1.1' && typeof l['upstream_cluster'] === 'string' && (l['upstream_cluster'] as string).includes(protocol === 'HTTP/2' ? '|9081|' : '|9080||reviews'));
          expect(logged).toHaveLength(3);
          for (const l of logged) expect(l).toMatchObject({ destination_principal: A, destination_workload: 'reviews-v2' });
          expect(JSON.stringify(c.log)).not.toContain(B);
        }
      }
      // The upstream saw the proxy's own certificate: this was mutual TLS.
      expect(clientSans).toContain(`URI:spiffe://cluster.local/ns/default/sa/bookinfo-productpage`);
    });
  }

  it('over a plaintext cluster: "unknown" (access log "-"), whatever the response header claims', async () => {
    for (const c of clients) {
      for (let i = 0; i < 2; i++) expect((await httpGet(c.port('plain'), '/details/0')).status).toBe(200);
      const page = await scrapeUntil(c, (p) => total(lines(p, 'istio_requests_total', { reporter: 'source', destination_service_name: 'details' })) >= 2, '2 requests to details counted');
      const ours = lines(page, 'istio_requests_total', { reporter: 'source', destination_service_name: 'details' });
      for (const l of ours) expect(l, c.name).toContain('destination_principal="unknown"');
      for (const l of ours) expect(l).toContain('destination_workload="reviews-v2"'); // the header's workload facts are still used
      expect(page).not.toContain(B);
      if (c.log !== undefined) {
        const logged = c.log.filter((l) => l['upstream_cluster'] === `outbound|9080||${DETAILS}`);
        expect(logged).toHaveLength(2);
        for (const l of logged) expect(l['destination_principal']).toBe('-');
      }
    }
  });

  it('over a TCP route with ISTIO_MUTUAL: istio_tcp_* carry the server certificate\'s identity (the endpoint config names none)', async () => {
    for (const c of clients) {
      const s = connect(c.port('tcp'), '127.0.0.1');
      await once(s, 'connect');
      s.write(`GET /reviews/0 HTTP/1.1\r\nhost: reviews:9082\r\nconnection: close\r\n\r\n`); // the server closes after its answer
      let raw = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (raw += d));
      await once(s, 'close');
      expect(raw).toMatch(/^HTTP\/1\.1 200/);
      const page = await scrapeUntil(c, (p) => total(lines(p, 'istio_tcp_connections_closed_total', { reporter: 'source', destination_service: REVIEWS })) >= 1, 'the TCP connection counted closed');
      for (const metric of ['istio_tcp_connections_opened_total', 'istio_tcp_connections_closed_total', 'istio_tcp_sent_bytes_total']) {
        const ours = lines(page, metric, { reporter: 'source', destination_service: REVIEWS });
        expect(ours.length, `${c.name} ${metric}`).toBeGreaterThan(0);
        for (const l of ours) expect(l, `${c.name} ${metric}`).toContain(`destination_principal="${A}"`);
      }
    }
  });
});
