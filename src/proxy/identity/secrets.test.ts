import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect as netConnect, createServer as netServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilterChain, ProxyConfig } from '../../proxy-config/types.js';
import { DEFAULT_MESH_SETTINGS } from '../../proxy-config/wire.js';
import { workloadSecretPlaceholders } from '../../proxy-config/workload-secrets.js';
import { startProxy, type RunningProxy } from '../proxy.js';
import { oneRouteConfig } from '../sample-config.js';
import { resolveWorkloadSecrets } from './secrets.js';
import { certificateValidity, LiveCredentials, type WorkloadCredentials } from './credentials.js';
import { tempDir } from '../../../test/support/temp.js';

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
    const { config: out, withoutIdentity } = resolveWorkloadSecrets(cfg, { keyPem: 'KEY', chainPem: 'CHAIN', trustBundlePem: 'ROOTS', spiffeId: 'spiffe://cluster.local/ns/foo/sa/a', notBefore: 0, notAfter: 1 });
    expect(out.secrets).toEqual([
      { name: 'default', kind: 'tls-certificate', certificateChain: 'CHAIN', privateKey: 'KEY' },
      { name: 'ROOTCA', kind: 'validation', trustedCa: 'ROOTS' },
      { name: 'file-root:/x', kind: 'validation', trustedCa: 'file:/x' },
    ]);
    expect(out.listeners).toBe(cfg.listeners);
    expect(out.clusters).toBe(cfg.clusters);
    expect(withoutIdentity.size).toBe(0);
  });

  it('without credentials fails closed: mTLS chains dropped, auto-mTLS plaintext, explicit ISTIO_MUTUAL without endpoints', () => {
    const logs: string[] = [];
    const { config: out, withoutIdentity } = resolveWorkloadSecrets(cfg, undefined, (_k, m) => logs.push(m));
    expect(out.listeners.map((l) => l.filterChains.map((c) => c.name))).toEqual([['http'], []]);
    expect(out.clusters.map((c) => [c.name, c.tls?.mode ?? 'none'])).toEqual([['auto', 'none'], ['explicit', 'none'], ['plain', 'none']]);
    expect(out.endpoints.map((e) => e.endpoints.length)).toEqual([1, 0, 1]);
    expect(out.secrets.map((s) => s.name)).toEqual(['file-root:/x']);
    expect(logs.join('\n')).toMatch(/inbound\|9000 requires mTLS \(STRICT\).*BOWLINE_E_IDENTITY_NO_CERTIFICATE/);
    expect(logs.join('\n')).toMatch(/cluster explicit requires ISTIO_MUTUAL.*503 UH/);
    expect(Object.fromEntries([...withoutIdentity].map(([l, chains]) => [l, chains.map((c) => c.name)]))).toEqual({ 'inbound|8000': ['http-mtls'], 'inbound|9000': ['tcp-mtls'] });
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

// A sidecar that joined with a token gets its config and its first certificate on the same stream, in either order.
// Until the certificate is there, a config that needs it is not applied (Envoy's listeners and clusters warm until
// their SDS secrets arrive): an auto-mTLS cluster never starts out in plaintext. The CI run that saw a productpage ->
// reviews edge without mTLS in the dashboard was this: requests sent in the gap went plaintext.
describe('a proxy that will hold a workload certificate', () => {
  /** A real one-day certificate and key from openssl. */
  function credentials(): WorkloadCredentials {
    const dir = tempDir('bowline-secrets-');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=a', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const chainPem = readFileSync(join(dir, 'c'), 'utf8');
    return { keyPem: readFileSync(join(dir, 'k'), 'utf8'), chainPem, trustBundlePem: chainPem, spiffeId: 'spiffe://cluster.local/ns/default/sa/test', ...certificateValidity(chainPem) };
  }

  it('applies a config that needs it only once it arrives: nothing goes out in plaintext meanwhile', async () => {
    // The upstream records the first byte of every connection: 0x16 is a TLS handshake, 'G' a plaintext GET.
    const first: string[] = [];
    const up = netServer((s) => { s.once('data', (d: Buffer) => { first.push(d[0] === 0x16 ? 'tls' : 'plaintext'); s.destroy(); }); s.on('error', () => {}); });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const upPort = (up.address() as { port: number }).port;
    const live = new LiveCredentials();
    const logs: string[] = [];
    const boot = oneRouteConfig(upPort, (c) => { c.version = 'boot'; });
    const p = await startProxy({ config: boot, admin: false, adminPort: 0, identity: live, log: (l) => logs.push(l) });
    const get = (): Promise<number> => new Promise((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: p.ports.listeners.outbound!, path: '/', headers: { host: 'up' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', () => resolve(0));
      req.end();
    });
    try {
      const meshed = oneRouteConfig(upPort, (c) => {
        c.version = 'meshed';
        c.clusters = [{ name: 'up', discovery: 'eds', protocol: 'http1', tls: { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', auto: true } }];
        c.routes[0]!.virtualHosts[0]!.routes[0]!.route!.destinations[0]!.cluster = 'up';
        c.secrets = workloadSecretPlaceholders();
      });
      let applied = false;
      const applying = p.applyConfig(meshed).then(() => { applied = true; });
      await get(); // served by the running config, whose cluster has no TLS: that is the bootstrap's own choice
      await new Promise((r) => setImmediate(r));
      expect(applied).toBe(false);
      expect(p.current.version).toBe('boot');
      expect(logs.join('\n')).toMatch(/config meshed needs the workload certificate: applied when it arrives/);
      first.length = 0;
      live.update(credentials());
      await applying;
      expect(p.current.version).toBe('meshed');
      await get();
      expect(first).toEqual(['tls']);
    } finally {
      await p.close();
      await new Promise<void>((r) => up.close(() => r()));
    }
  });

  it('a wait cut short by close() rejects: the proxy never hangs on a certificate that will not come', async () => {
    const live = new LiveCredentials();
    const p = await startProxy({ config: oneRouteConfig(1), admin: false, adminPort: 0, identity: live, log: () => {} });
    const applying = p.applyConfig(oneRouteConfig(1, (c) => { c.version = 'meshed'; c.secrets = workloadSecretPlaceholders(); }));
    await p.close();
    await expect(applying).rejects.toThrow(/closed before its workload certificate arrived/);
  });
});
