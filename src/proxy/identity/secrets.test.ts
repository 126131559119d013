import { createServer, type Server } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilterChain, ProxyConfig } from '../../proxy-config/types.js';
import { DEFAULT_MESH_SETTINGS } from '../../proxy-config/wire.js';
import { workloadSecretPlaceholders } from '../../proxy-config/workload-secrets.js';
import { startProxy, type RunningProxy } from '../proxy.js';
import { oneRouteConfig } from '../sample-config.js';
import { chainsWithoutIdentity, resolveWorkloadSecrets } from './secrets.js';

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
    expect(out.listeners.map((l) => chainsWithoutIdentity(l).map((c) => c.name))).toEqual([['http-mtls'], ['tcp-mtls']]);
    expect(chainsWithoutIdentity(cfg.listeners[0]!)).toEqual([]);
  });
});

// On real sockets: a proxy started without credentials, with a STRICT or PERMISSIVE inbound port whose mTLS chain needs
// the workload certificate. A TLS client (a mesh peer) is refused for that reason, counted in mtlsNoWorkloadCertificate
// with BOWLINE_E_IDENTITY_NO_CERTIFICATE, not as a connection that matches no chain; a plaintext client of the STRICT port
// is refused as on any STRICT port (mtlsPlaintextRefused); PERMISSIVE still serves plaintext.
describe('a proxy without a workload certificate refuses what needs one, for that reason', () => {
  let web: Server;
  let webPort = 0;
  beforeAll(async () => {
    web = createServer((req, res) => { req.resume(); res.end('ok'); });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as { port: number }).port;
  });
  afterAll(async () => { web.closeAllConnections(); await new Promise<void>((r) => web.close(() => r())); });

  async function proxyWithout(mode: 'STRICT' | 'PERMISSIVE', logs: string[]): Promise<RunningProxy> {
    const chains: FilterChain[] = [{ name: 'http-mtls', match: { transportProtocol: 'tls' }, tls: { ...mtls, securityPolicy: 'mutual_tls' }, http: { routeConfig: 'r' } }];
    if (mode === 'PERMISSIVE') chains.push({ name: 'http', match: { transportProtocol: 'raw' }, http: { routeConfig: 'r' } });
    const config = oneRouteConfig(webPort, (c) => {
      c.listeners = [{ name: 'inbound', address: '127.0.0.1', port: 0, direction: 'inbound', filterChains: chains }];
      c.secrets = workloadSecretPlaceholders();
    });
    return startProxy({ config, admin: false, adminPort: 0, log: (l) => logs.push(l) });
  }

  /** A TLS handshake to `port`; resolves with whether it completed (false: the proxy closed the connection). */
  function handshake(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const s = tlsConnect({ port, host: '127.0.0.1', servername: 'reviews.default.svc.cluster.local', rejectUnauthorized: false, ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'] });
      s.once('secureConnect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
      s.once('close', () => resolve(false));
    });
  }

  /** A plaintext request to `port`; resolves with what came back before the close. */
  function plaintext(port: number): Promise<string> {
    return new Promise((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
      s.on('error', () => {});
      s.once('close', () => resolve(got));
      s.write('GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
    });
  }

  it('STRICT: a TLS client is refused as mtlsNoWorkloadCertificate, a plaintext one as on any STRICT port', async () => {
    const logs: string[] = [];
    const p = await proxyWithout('STRICT', logs);
    try {
      const port = p.ports.listeners.inbound!;
      expect(await handshake(port)).toBe(false);
      expect(p.stats.mtlsNoWorkloadCertificate).toBe(1);
      expect(p.stats.noFilterChainMatch).toBe(0);
      expect(logs.join('\n')).toMatch(/listener inbound: TLS connection from 127\.0\.0\.1 refused: its filter chain http-mtls requires mTLS but this proxy has no workload certificate .*\(BOWLINE_E_IDENTITY_NO_CERTIFICATE\)/);
      expect(await plaintext(port)).toBe('');
      expect(p.stats.noFilterChainMatch).toBe(1);
      expect(p.stats.mtlsPlaintextRefused).toBe(1);
      expect(p.stats.mtlsNoWorkloadCertificate).toBe(1);
      expect(p.stats.toJSON().mtlsNoWorkloadCertificate).toBe(1);
    } finally { await p.close(); }
  });

  it('PERMISSIVE: a TLS client is refused as mtlsNoWorkloadCertificate, plaintext is served', async () => {
    const p = await proxyWithout('PERMISSIVE', []);
    try {
      const port = p.ports.listeners.inbound!;
      expect(await handshake(port)).toBe(false);
      expect(p.stats.mtlsNoWorkloadCertificate).toBe(1);
      expect(await plaintext(port)).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nok$/);
      expect(p.stats.noFilterChainMatch).toBe(0);
    } finally { await p.close(); }
  });
});
