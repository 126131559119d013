import { describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../proxy-config/types.js';
import { DEFAULT_MESH_SETTINGS } from '../../proxy-config/wire.js';
import { workloadSecretPlaceholders } from '../../proxy-config/workload-secrets.js';
import { resolveWorkloadSecrets } from './secrets.js';

const mtls = { certificateSecret: 'default', validationSecret: 'ROOTCA', requireClientCertificate: true };
const cfg: ProxyConfig = {
  node: { id: 'a', role: 'sidecar', workload: 'a', namespace: 'foo', serviceAccount: 'a', labels: {} },
  mesh: DEFAULT_MESH_SETTINGS,
  listeners: [
    { name: 'inbound|8000', address: '127.0.0.1', port: 0, direction: 'inbound', filterChains: [{ name: 'http-mtls', match: { transportProtocol: 'tls' }, tls: mtls, http: { routeConfig: 'r' } }, { name: 'http', match: { transportProtocol: 'raw' }, http: { routeConfig: 'r' } }] },
    { name: 'inbound|9000', address: '127.0.0.1', port: 0, direction: 'inbound', filterChains: [{ name: 'tcp-mtls', match: { transportProtocol: 'tls' }, tls: mtls, tcp: { routes: [] } }] },
  ],
  routes: [{ name: 'r', virtualHosts: [] }],
  clusters: [
    { name: 'auto', discovery: 'eds', protocol: 'http1', tls: { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', auto: true } },
    { name: 'explicit', discovery: 'eds', protocol: 'http1', tls: { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA' } },
    { name: 'plain', discovery: 'eds', protocol: 'http1' },
  ],
  endpoints: ['auto', 'explicit', 'plain'].map((c) => ({ cluster: c, endpoints: [{ address: '127.0.0.1', port: 1 }] })),
  secrets: [...workloadSecretPlaceholders(), { name: 'file-root:/x', kind: 'validation', trustedCa: 'file:/x' }],
};

describe('workload secrets in the proxy', () => {
  it('fills default and ROOTCA from the credentials and leaves everything else alone', () => {
    const out = resolveWorkloadSecrets(cfg, { keyPem: 'KEY', chainPem: 'CHAIN', trustBundlePem: 'ROOTS', spiffeId: 'spiffe://cluster.local/ns/foo/sa/a', notBefore: 0, notAfter: 1 });
    expect(out.secrets).toEqual([
      { name: 'default', kind: 'tls-certificate', certificateChain: 'CHAIN', privateKey: 'KEY' },
      { name: 'ROOTCA', kind: 'validation', trustedCa: 'ROOTS' },
      { name: 'file-root:/x', kind: 'validation', trustedCa: 'file:/x' },
    ]);
    expect(out.listeners).toBe(cfg.listeners);
    expect(out.clusters).toBe(cfg.clusters);
  });

  it('without credentials fails closed: mTLS chains dropped, auto-mTLS plaintext, explicit ISTIO_MUTUAL without endpoints', () => {
    const logs: string[] = [];
    const out = resolveWorkloadSecrets(cfg, undefined, (_k, m) => logs.push(m));
    expect(out.listeners.map((l) => l.filterChains.map((c) => c.name))).toEqual([['http'], []]);
    expect(out.clusters.map((c) => [c.name, c.tls?.mode ?? 'none'])).toEqual([['auto', 'none'], ['explicit', 'none'], ['plain', 'none']]);
    expect(out.endpoints.map((e) => e.endpoints.length)).toEqual([1, 0, 1]);
    expect(out.secrets.map((s) => s.name)).toEqual(['file-root:/x']);
    expect(logs.join('\n')).toMatch(/inbound\|9000 requires mTLS \(STRICT\).*BOWLINE_E_IDENTITY_NO_CERTIFICATE/);
    expect(logs.join('\n')).toMatch(/cluster explicit requires ISTIO_MUTUAL.*503 UH/);
  });
});
