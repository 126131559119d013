// TLS through the proxy: SNI passthrough to two TLS backends chosen by name (through two
// proxies), Gateway AUTO_PASSTHROUGH, ClientHellos without SNI or with garbage (closed and
// counted), downstream termination (SIMPLE and MUTUAL, ALPN), and upstream MUTUAL TLS with
// certificate files and SAN checks (DNS and SPIFFE).
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilterChain } from '../../src/proxy-config/types.js';
import { cluster, config, listener, makePki, onStop, proxy, secretsFor, stopAll, tcpChain, type Pki } from './protocols-harness.js';
import { waitFor } from '../support/wait.js';

let pki: Pki;
/** TLS backends that answer with their name and the client's certificate SAN. */
const backends: Record<string, number> = {};

async function backend(name: string, opts: { requireClient?: boolean } = {}): Promise<number> {
  const leaf = pki.leaf(name);
  const server = tlsServer({ cert: leaf.certPem, key: leaf.keyPem, ca: pki.caPem, requestCert: opts.requireClient === true, rejectUnauthorized: opts.requireClient === true }, (s) => {
    s.on('error', () => {});
    const peer = s.getPeerCertificate();
    s.end(`${name} sni=${(s as unknown as { servername?: string }).servername ?? ''} client=${peer?.subjectaltname ?? ''}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onStop({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return (server.address() as { port: number }).port;
}

function tlsGet(port: number, servername: string | undefined, extra: Record<string, unknown> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), ca: pki.caPem, ...extra });
    let text = '';
    let secure = false;
    s.once('secureConnect', () => { secure = true; });
    s.on('data', (d: Buffer) => { text += d.toString(); });
    s.on('end', () => { if (secure) resolve(text); else reject(new Error('closed before the handshake')); s.destroy(); });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  pki = makePki({
    'a.test': 'DNS:a.test',
    'b.test': 'DNS:b.test,DNS:outbound_.9443_._.b.test',
    gateway: 'DNS:gw.test',
    client: 'URI:spiffe://cluster.local/ns/default/sa/client',
    mtls: 'DNS:mtls.test,URI:spiffe://cluster.local/ns/db/sa/mysql',
  });
  backends.a = await backend('a.test');
  backends.b = await backend('b.test');
  backends.mtls = await backend('mtls', { requireClient: true });
}, 30_000);
afterAll(stopAll);

const sni = (hosts: string[], cluster: string): FilterChain['tcp'] => ({ routes: [{ match: { sniHosts: hosts }, destinations: [{ cluster, weight: 1 }] }] });

describe('TLS passthrough', () => {
  it('routes by SNI to two TLS backends through two proxies, without terminating', async () => {
    const gw = await proxy(config([listener('gw', [{ name: 'passthrough', match: { transportProtocol: 'tls' }, tcp: {
      routes: [
        { match: { sniHosts: ['a.test'] }, destinations: [{ cluster: 'a', weight: 1 }] },
        { match: { sniHosts: ['*.test'] }, destinations: [{ cluster: 'b', weight: 1 }] },
      ],
    } }], { direction: 'gateway' })], [cluster('a', [backends.a!]), cluster('b', [backends.b!])]));
    const side = await proxy(config([listener('out', [{ name: 'tls', match: { transportProtocol: 'tls', serverNames: ['*.test'] }, tcp: sni(['*.test'], 'gw') }])], [cluster('gw', [gw.ports.listeners.gw!])]));
    const port = side.ports.listeners.out!;
    // The client verifies the backend's own certificate: the proxies never terminated TLS.
    expect(await tlsGet(port, 'a.test')).toBe('a.test sni=a.test client=');
    expect(await tlsGet(port, 'b.test')).toBe('b.test sni=b.test client=');
  });

  it('AUTO_PASSTHROUGH routes outbound_.PORT_.SUBSET_.HOST names to that cluster', async () => {
    const gw = await proxy(config([listener('gw', [{ name: 'auto', tcp: { routes: [], autoPassthrough: true } }], { direction: 'gateway' })],
      [cluster('outbound|9443||b.test', [backends.b!])]));
    expect(await tlsGet(gw.ports.listeners.gw!, 'outbound_.9443_._.b.test')).toContain('b.test sni=outbound_.9443_._.b.test');
  });

  it('closes and counts a ClientHello without SNI, garbage after a TLS header, and unknown names', async () => {
    const p = await proxy(config([listener('gw', [{ name: 'p', match: { transportProtocol: 'tls', serverNames: ['a.test'] }, tcp: sni(['a.test'], 'a') }])], [cluster('a', [backends.a!])]));
    const port = p.ports.listeners.gw!;
    const st = p.stats as unknown as Record<string, number>;
    await expect(tlsGet(port, undefined)).rejects.toThrow();
    expect(st.tlsInspectorNoSni).toBe(1);
    await expect(tlsGet(port, 'c.test')).rejects.toThrow();
    expect(st.noFilterChainMatch).toBe(2);
    const raw = netConnect({ host: '127.0.0.1', port });
    raw.on('error', () => {});
    raw.write(Buffer.concat([Buffer.from([0x16, 3, 1, 0, 40, 1, 0, 0, 36]), Buffer.alloc(36, 0xff)]));
    await new Promise((r) => raw.once('close', r));
    expect(st.tlsInspectorInvalid).toBe(1);
    // Still serving afterwards.
    expect(await tlsGet(port, 'a.test')).toContain('a.test');
  });
});

describe('TLS termination and origination', () => {
  it('terminates SIMPLE TLS on a gateway chain and proxies TCP inside', async () => {
    const plain = await proxy(config([listener('echo', [tcpChain('a')])], [cluster('a', [backends.a!])]));
    void plain;
    const gw = await proxy(config([listener('gw', [{ name: 'simple', tls: { certificateSecret: 'gateway' }, tcp: { routes: [{ destinations: [{ cluster: 'a', weight: 1 }] }] } }], { direction: 'gateway' })],
      [cluster('a', [backends.a!], { tls: { mode: 'SIMPLE', validationSecret: 'ca', sni: 'a.test' } })], { secrets: secretsFor(pki, 'gateway') }));
    // Client -> TLS (gateway cert) -> proxy -> new TLS (SIMPLE, verified against the CA, sni a.test) -> backend.
    expect(await tlsGet(gw.ports.listeners.gw!, 'gw.test')).toBe('a.test sni=a.test client=');
  });

  it('terminates TLS for HTTP/1.1 (ALPN http/1.1 or none) on the same chain that serves h2', async () => {
    const { createServer: httpServer } = await import('node:http');
    const web = httpServer((req, res) => res.end(`proto=${req.headers['x-forwarded-proto']} path=${req.url}`));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    onStop({ close: () => new Promise<void>((r) => { web.closeAllConnections(); web.close(() => r()); }) });
    const gw = await proxy(config([listener('gw', [{ name: 'https', tls: { certificateSecret: 'gateway', alpn: ['h2', 'http/1.1'] }, http: { routeConfig: 'rt' } }], { direction: 'gateway' })],
      [cluster('web', [(web.address() as { port: number }).port], { protocol: 'http1' })],
      { secrets: secretsFor(pki, 'gateway'), routes: [{ name: 'rt', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ route: { destinations: [{ cluster: 'web', weight: 1 }] } }] }] }] }));
    const { get: httpsGet } = await import('node:https');
    for (const alpn of [undefined, ['http/1.1']]) {
      const text = await new Promise<string>((resolve, reject) => {
        httpsGet({ host: '127.0.0.1', port: gw.ports.listeners.gw!, path: '/secure', servername: 'gw.test', ca: pki.caPem, ...(alpn ? { ALPNProtocols: alpn } : {}) }, (res) => {
          let b = '';
          res.on('data', (d) => { b += d; });
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      expect(text).toBe('proto=https path=/secure');
    }
  });

  it('requires and verifies client certificates on a MUTUAL chain', async () => {
    const gw = await proxy(config([listener('gw', [{ name: 'mutual', tls: { certificateSecret: 'gateway', validationSecret: 'ca', requireClientCertificate: true, subjectAltNames: ['spiffe://cluster.local/ns/default/sa/client'] }, tcp: { routes: [{ destinations: [{ cluster: 'a', weight: 1 }] }] } }], { direction: 'gateway' })],
      [cluster('a', [backends.a!], { tls: { mode: 'SIMPLE', validationSecret: 'ca', sni: 'a.test' } })], { secrets: secretsFor(pki, 'gateway') }));
    const port = gw.ports.listeners.gw!;
    // No client certificate: refused (TLS 1.3 clients may finish their side of the handshake before the close).
    expect(await tlsGet(port, 'gw.test').catch(() => '')).toBe('');
    const c = pki.leaf('client');
    expect(await tlsGet(port, 'gw.test', { cert: c.certPem, key: c.keyPem })).toContain('a.test');
    const st = gw.stats as unknown as Record<string, number>;
    expect(st.tlsHandshakeFailures).toBe(1);
  });

  it('originates MUTUAL TLS with certificate files and checks the server SPIFFE SAN', async () => {
    const secrets = [...secretsFor(pki, 'client')];
    const good = await proxy(config([listener('out', [tcpChain('db')])], [cluster('db', [backends.mtls!], { tls: { mode: 'MUTUAL', certificateSecret: 'client', validationSecret: 'ca', subjectAltNames: ['spiffe://cluster.local/ns/db/sa/mysql'] } })], { secrets }));
    const text = await new Promise<string>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: good.ports.listeners.out! });
      let t = '';
      s.on('data', (d: Buffer) => { t += d.toString(); });
      s.on('close', () => resolve(t));
    });
    expect(text).toBe('mtls sni=false client=URI:spiffe://cluster.local/ns/default/sa/client');
    // A SAN the server does not have: the upstream handshake is refused (UF), the client closed.
    const bad = await proxy(config([listener('out', [tcpChain('db')])], [cluster('db', [backends.mtls!], { tls: { mode: 'MUTUAL', certificateSecret: 'client', validationSecret: 'ca', subjectAltNames: ['spiffe://cluster.local/ns/db/sa/other'] } })], { secrets }));
    const s = netConnect({ host: '127.0.0.1', port: bad.ports.listeners.out! });
    s.on('error', () => {});
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); });
    await new Promise((r) => s.once('close', r));
    expect(got).toBe('');
    await waitFor(() => (bad.stats as unknown as Record<string, number>).tcpConnectFailures === 1);
  });

  it('refuses a config whose certificate file is missing, keeping the running one', async () => {
    const p = await proxy(config([listener('out', [tcpChain('a')])], [cluster('a', [backends.a!])]));
    const broken = config([listener('out', [tcpChain('a')])], [cluster('a', [backends.a!], { tls: { mode: 'MUTUAL', certificateSecret: 'x' } })], {
      secrets: [{ name: 'x', kind: 'tls-certificate', certificateChain: 'file:/nonexistent/cert.pem', privateKey: 'file:/nonexistent/key.pem' }],
    });
    await expect(p.applyConfig(broken)).rejects.toThrow(/BOWLINE_E_TLS_SECRET/);
  });
});
