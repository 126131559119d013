/**
 * A minimal valid proxy config for tests and examples: one outbound HTTP listener on an
 * ephemeral port (absolute-form accepted) routing every request to cluster `up` at one endpoint.
 */
import type { ProxyConfig } from '../proxy-config/types.js';

/** A proxy config with one outbound listener routing everything to cluster `up`. */
export function oneRouteConfig(upPort: number, patch: (c: ProxyConfig) => void = () => {}): ProxyConfig {
  const c: ProxyConfig = {
    version: 'v1',
    node: { id: 'test', role: 'sidecar', workload: 'test', namespace: 'default', serviceAccount: 'test', labels: { app: 'test' } },
    mesh: { tracingSampling: 0, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'r', acceptAbsoluteForm: true } }] }],
    routes: [{ name: 'r', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ name: 'default', route: { destinations: [{ cluster: 'up', weight: 100 }] } }] }] }],
    clusters: [{ name: 'up', discovery: 'eds', protocol: 'http1' }],
    endpoints: [{ cluster: 'up', endpoints: [{ address: '127.0.0.1', port: upPort }] }],
    secrets: [],
  };
  patch(c);
  return c;
}
