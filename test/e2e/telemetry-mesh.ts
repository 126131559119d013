/**
 * A small mesh on loopback for the telemetry end-to-end tests: real Bowline proxies (the
 * library's startProxy) with telemetry hooks and metrics servers, in front of tiny apps.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster, ClusterLoadAssignment, MeshSettings, NodeInfo, ProxyConfig } from '../../src/proxy-config/index.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { listenLocalHttp } from '../../src/proxy/local-http.js';
import { createProxyTelemetry, startMetricsServer, type MetricsServer, type ProxyTelemetry } from '../../src/telemetry/index.js';

/** A node for workload `app-version` in namespace default. */
export function node(app: string, version: string, role: NodeInfo['role'] = 'sidecar'): NodeInfo {
  return { id: `${app}-${version}-1.default`, role, workload: `${app}-${version}`, namespace: 'default', serviceAccount: `bookinfo-${app}`, labels: { app, version }, services: [`${app}.default.svc.cluster.local:9080`] };
}

/** Mesh settings with the given sampling and collectors. */
export function mesh(tracingSampling: number, tracing?: MeshSettings['tracing']): MeshSettings {
  return { tracingSampling, tracing, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'ALLOW_ANY' };
}

/** An outbound cluster for `app` (subset optional) whose endpoints are other proxies' inbound ports. */
export function outboundCluster(app: string, subset: string, endpoints: Array<{ port: number; version: string }>): { cluster: Cluster; cla: ClusterLoadAssignment } {
  const host = `${app}.default.svc.cluster.local`;
  const name = `outbound|9080|${subset}|${host}`;
  return {
    cluster: { name, discovery: 'eds', protocol: 'http1', subset: subset || undefined, service: { host, name: app, namespace: 'default', port: 9080 } },
    cla: { cluster: name, endpoints: endpoints.map((e) => ({ address: '127.0.0.1', port: e.port, workload: `${app}-${e.version}`, namespace: 'default', labels: { app, version: e.version }, tlsMode: 'istio' as const })) },
  };
}

/** Config of a sidecar whose inbound listener forwards to a local app port. */
export function inboundConfig(n: NodeInfo, m: MeshSettings, appPort: number): ProxyConfig {
  return {
    node: n,
    mesh: m,
    listeners: [{ name: 'inbound', address: '127.0.0.1', port: 0, direction: 'inbound', logicalPort: 9080, filterChains: [{ name: 'http', http: { routeConfig: 'inbound' } }] }],
    routes: [{ name: 'inbound', virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [{ name: 'default', route: { destinations: [{ cluster: 'inbound|9080||', weight: 1 }] } }] }] }],
    clusters: [{ name: 'inbound|9080||', discovery: 'eds', protocol: 'http1' }],
    endpoints: [{ cluster: 'inbound|9080||', endpoints: [{ address: '127.0.0.1', port: appPort }] }],
    secrets: [],
  };
}

/** A running proxy with its telemetry and metrics server. */
export interface MeshProxy {
  proxy: RunningProxy;
  telemetry: ProxyTelemetry;
  metrics: MetricsServer;
  /** Bound port of a listener by name. */
  port(listener: string): number;
  close(): Promise<void>;
}

/** Starts a proxy from `config` with telemetry hooks and a metrics server on an ephemeral port. */
export async function startMeshProxy(config: ProxyConfig): Promise<MeshProxy> {
  const telemetry = createProxyTelemetry({ config });
  const proxy = await startProxy({ config, admin: false, telemetry, log: () => {} });
  // served like `bowline proxy` serves it (its own HTTP/1.1 server, sidecar.ts), so Prometheus scrapes that
  const metrics = await startMetricsServer({ registry: telemetry.registry, port: 0, listen: listenLocalHttp });
  return {
    proxy,
    telemetry,
    metrics,
    port: (l) => proxy.ports.listeners[l]!,
    async close() {
      await proxy.close();
      await metrics.close();
      await telemetry.close();
    },
  };
}

/** A tiny app: answers `body(req)` as JSON, or runs `handle`. */
export async function startApp(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ port: number; close(): Promise<void> }> {
  const s = http.createServer(handle);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return {
    port: (s.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }),
  };
}

/** GET through a proxy port with a keep-alive agent. */
export function get(port: number, path: string, headers: Record<string, string>, agent: http.Agent): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
