import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, MemoryCaStorage, parseKek } from '../../src/ca/index.js';
import type { AuthorizationPolicy, JwtRule, Listener, ProxyConfig } from '../../src/proxy-config/types.js';
import { translatePolicy } from '../../src/push/generators/authorization-translate.js';

/** A policy written as Istio's AuthorizationPolicy rules, translated the way the control plane does. */
function istio(name: string, action: 'ALLOW' | 'DENY', rules: unknown[]): AuthorizationPolicy {
  const t = translatePolicy(name, action, rules);
  if (t.problems.length) throw new Error(JSON.stringify(t.problems));
  return t.policy;
}
import { DEFAULT_MESH_SETTINGS } from '../../src/proxy-config/wire.js';
import { workloadSecretPlaceholders } from '../../src/proxy-config/workload-secrets.js';
import { LiveCredentials } from '../../src/proxy/identity/credentials.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { inboundChains } from '../../src/push/security/mtls.js';
import { createProxyTelemetry, type ProxyTelemetry } from '../../src/telemetry/index.js';
import { waitFor } from '../support/wait.js';
import { issue } from './identity-harness.js';

// Real TLS between real Bowline proxies, configured the way the control plane configures
// sidecars (inbound chains from src/push/security, `default`/`ROOTCA` filled from live
// credentials): client app -> client proxy (outbound, ISTIO_MUTUAL) -> server proxy (inbound
// mTLS, authorization) -> app. Certificates come from Bowline's CA.

const kek = parseKek(Buffer.alloc(32, 9), 'test');
const HTTPBIN = 'spiffe://cluster.local/ns/foo/sa/httpbin';
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let evilCa: CertificateAuthority;
let app: Server;
let appPort = 0;
const proxies: RunningProxy[] = [];
/** The x-forwarded-client-cert each request reached the app with, by path ('' when none). */
const xfccAt = new Map<string, string>();

beforeAll(async () => {
  ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
  otherCa = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
  evilCa = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, trustDomain: 'evil.local' });
  app = createServer((req, res) => xfccAt.set(req.url ?? '', String(req.headers['x-forwarded-client-cert'] ?? '')) && res.end(`app ${req.method} ${req.url}${req.headers.authorization ? ' (authorization header reached the app)' : ''}`));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  appPort = (app.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const p of proxies) await p.close();
  app.close();
});

const node = (name: string, ns: string): ProxyConfig['node'] => ({ id: `${name}.${ns}`, role: 'sidecar', workload: name, namespace: ns, serviceAccount: name, labels: { app: name } });

/** The httpbin sidecar: inbound port 8000 per `mode`, optional authorization. */
async function serverProxy(live: LiveCredentials, mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE', policies?: AuthorizationPolicy[], log?: string[], telemetry?: ProxyTelemetry, jwtRules?: JwtRule[], tcp = false): Promise<{ proxy: RunningProxy; port: number }> {
  const plain = tcp ? { name: 'tcp', tcp: { routes: [{ destinations: [{ cluster: 'inbound|8000||', weight: 100 }] }] } } : { name: 'http', http: { routeConfig: 'inbound|8000' } };
  const listener: Listener = { name: 'inbound|8000', address: '127.0.0.1', port: 0, logicalPort: 8000, direction: 'inbound', filterChains: inboundChains(mode, plain) };
  const config: ProxyConfig = {
    node: node('httpbin', 'foo'), mesh: DEFAULT_MESH_SETTINGS, listeners: [listener],
    routes: [{ name: 'inbound|8000', virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [{ route: { destinations: [{ cluster: 'inbound|8000||', weight: 100 }] } }] }] }],
    clusters: [{ name: 'inbound|8000||', discovery: 'eds', protocol: tcp ? 'tcp' : 'http1' }],
    endpoints: [{ cluster: 'inbound|8000||', endpoints: [{ address: '127.0.0.1', port: appPort }] }],
    secrets: workloadSecretPlaceholders(),
    ...(policies ? { authorization: { policies, ...(jwtRules ? { jwtRules } : {}) } } : {}),
  };
  const proxy = await startProxy({ config, identity: live, adminPort: 0, ...(log ? { log: (l: string) => log.push(l) } : {}), ...(telemetry ? { telemetry } : {}) });
  proxies.push(proxy);
  return { proxy, port: proxy.ports.listeners['inbound|8000']! };
}

/** A client sidecar (app -> this proxy's port -> ISTIO_MUTUAL -> httpbin's sidecar); `tls: false` sends plaintext. */
async function clientProxy(name: string, ns: string, live: LiveCredentials | undefined, serverPort: number, tls = true, http = false): Promise<{ proxy: RunningProxy; port: number }> {
  const cluster = 'outbound|8000||httpbin.foo.svc.cluster.local';
  const config: ProxyConfig = {
    node: node(name, ns), mesh: DEFAULT_MESH_SETTINGS,
    listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [http ? { name: 'http', http: { routeConfig: 'outbound' } } : { name: 'tcp', tcp: { routes: [{ destinations: [{ cluster, weight: 100 }] }], statPrefix: cluster } }] }],
    routes: http ? [{ name: 'outbound', virtualHosts: [{ name: 'httpbin', domains: ['*'], routes: [{ route: { destinations: [{ cluster, weight: 100 }] } }] }] }] : [],
    clusters: [{ name: cluster, discovery: 'eds', protocol: http ? 'http1' : 'tcp', ...(tls ? { tls: { mode: 'ISTIO_MUTUAL' as const, certificateSecret: 'default', validationSecret: 'ROOTCA', subjectAltNames: [HTTPBIN] } } : {}) }],
    endpoints: [{ cluster, endpoints: [{ address: '127.0.0.1', port: serverPort, identity: HTTPBIN, tlsMode: 'istio' }] }],
    secrets: workloadSecretPlaceholders(),
  };
  const proxy = await startProxy({ config, admin: false, log: () => {}, ...(live ? { identity: live } : {}) });
  proxies.push(proxy);
  return { proxy, port: proxy.ports.listeners.outbound! };
}

/** One HTTP request on a fresh connection: status and body, or the error text. */
function call(port: number, path = '/get', opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: 'httpbin.foo:8000', ...opts.headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}
const statusOf = (r: { status: number } | { error: string }) => ('status' in r ? r.status : 'refused');
/** The proxy's /stats counters (security ones: src/proxy/authz/stats.ts). */
const counters = (p: RunningProxy) => JSON.parse(JSON.stringify(p.stats)) as Record<string, number>;

const creds = async (c: CertificateAuthority, ns: string, sa: string) => new LiveCredentials(await issue(c, ns, sa));

describe('mTLS modes between real proxies', () => {
  it('STRICT refuses plaintext (logged) and serves the mesh client', async () => {
    const log: string[] = [];
    const server = await serverProxy(await creds(ca, 'foo', 'httpbin'), 'STRICT', undefined, log);
    expect(statusOf(await call(server.port))).toBe('refused');
    await waitFor(() => log.some((l) => l.includes('requires mTLS (STRICT)') && l.includes('BOWLINE_E_TLS_PLAINTEXT_REFUSED')));
    expect(counters(server.proxy).mtlsPlaintextRefused).toBe(1);
    // The admin page shows the certificate in use, never its key.
    const certs = await new Promise<string>((resolve) => request({ host: '127.0.0.1', port: server.proxy.ports.admin, path: '/certs' }, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve(b)); }).end());
    expect(JSON.parse(certs)).toMatchObject({ spiffeId: HTTPBIN, trustedRoots: 1 });
    expect(certs).not.toContain('PRIVATE KEY');
    const client = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port);
    expect(await call(client.port)).toEqual({ status: 200, body: 'app GET /get' });
  });

  it('HTTP sidecars: keep-alive mTLS from the connection pool; a plaintext HTTP client toward STRICT gets 503', async () => {
    const server = await serverProxy(await creds(ca, 'foo', 'httpbin'), 'STRICT');
    const client = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port, true, true);
    for (let i = 0; i < 3; i++) expect(await call(client.port, `/h/${i}`)).toEqual({ status: 200, body: `app GET /h/${i}` });
    const plain = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port, false, true);
    expect(statusOf(await call(plain.port))).toBe(503);
  });

  it('x-forwarded-client-cert names each connection\'s peer: the same on every request of one connection, another for a connection with another certificate, none for plaintext; a forged one never passes', async () => {
    const server = await serverProxy(await creds(ca, 'foo', 'httpbin'), 'PERMISSIVE');
    const sleep = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port, true, true);
    const ratings = await clientProxy('ratings', 'bar', await creds(ca, 'bar', 'ratings'), server.port, true, true);
    const forged = { 'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/foo/sa/httpbin;URI=spiffe://cluster.local/ns/istio-system/sa/admin' };
    for (let i = 0; i < 20; i++) {
      expect(statusOf(await call(sleep.port, `/xfcc/sleep/${i}`, i % 2 ? { headers: forged } : {}))).toBe(200);
      expect(statusOf(await call(ratings.port, `/xfcc/ratings/${i}`, i % 3 ? {} : { headers: forged }))).toBe(200);
    }
    expect(statusOf(await call(server.port, '/xfcc/plain', { headers: forged }))).toBe(200);
    for (let i = 0; i < 20; i++) {
      expect(xfccAt.get(`/xfcc/sleep/${i}`)).toBe(`By=${HTTPBIN};URI=spiffe://cluster.local/ns/foo/sa/sleep`);
      expect(xfccAt.get(`/xfcc/ratings/${i}`)).toBe(`By=${HTTPBIN};URI=spiffe://cluster.local/ns/bar/sa/ratings`);
    }
    expect(xfccAt.get('/xfcc/plain')).toBe('');
    // Each client proxy kept one mTLS connection for its 20 requests (the facts were not per request by chance of new connections).
    expect(counters(server.proxy).downstreamConnectionsTotal).toBe(3);
  });

  it('PERMISSIVE accepts plaintext and mTLS on the same port; telemetry tells them apart (source_principal, connection_security_policy)', async () => {
    const config = { node: node('httpbin', 'foo'), mesh: DEFAULT_MESH_SETTINGS, listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
    const telemetry = createProxyTelemetry({ config, tracing: false, accessLogSink: { write: () => {} } as never });
    const server = await serverProxy(await creds(ca, 'foo', 'httpbin'), 'PERMISSIVE', undefined, undefined, telemetry);
    const client = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port);
    expect(await call(server.port)).toEqual({ status: 200, body: 'app GET /get' });
    expect(await call(client.port)).toEqual({ status: 200, body: 'app GET /get' });
    const text = telemetry.registry.expose().split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    expect(text.some((l) => l.includes('source_principal="spiffe://cluster.local/ns/foo/sa/sleep"') && l.includes('connection_security_policy="mutual_tls"'))).toBe(true);
    expect(text.some((l) => l.includes('source_principal="unknown"') && l.includes('connection_security_policy="none"'))).toBe(true);
  });

  it('refuses a certificate from another CA and a SPIFFE id of another trust domain, with the reason in the log', async () => {
    const log: string[] = [];
    const serverLive = await creds(ca, 'foo', 'httpbin');
    // The server also trusts the evil root, so only the trust-domain check can refuse that client.
    serverLive.update({ ...serverLive.current()!, trustBundlePem: ca.trustBundlePem() + evilCa.trustBundlePem() });
    const server = await serverProxy(serverLive, 'STRICT', undefined, log);
    const foreign = await creds(otherCa, 'foo', 'sleep');
    foreign.update({ ...foreign.current()!, trustBundlePem: otherCa.trustBundlePem() + ca.trustBundlePem() });
    const c1 = await clientProxy('sleep', 'foo', foreign, server.port);
    expect(statusOf(await call(c1.port))).toBe('refused');
    await waitFor(() => log.some((l) => /TLS handshake failed.*BOWLINE_E_TLS_PEER_UNTRUSTED/.test(l)), { what: `untrusted peer logged:\n${log.join('\n')}` });
    const evil = await creds(evilCa, 'foo', 'sleep');
    evil.update({ ...evil.current()!, trustBundlePem: evilCa.trustBundlePem() + ca.trustBundlePem() });
    const c2 = await clientProxy('sleep', 'foo', evil, server.port);
    expect(statusOf(await call(c2.port))).toBe('refused');
    await waitFor(() => log.some((l) => l.includes('BOWLINE_E_TLS_PEER_TRUST_DOMAIN') && l.includes('evil.local')));
    expect(counters(server.proxy)).toMatchObject({ mtlsPeerUntrusted: 1, mtlsPeerTrustDomain: 1 });
    // A good client still gets through: nothing else was affected.
    const good = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port);
    expect(statusOf(await call(good.port))).toBe(200);
  });

  it('a client proxy whose server identity does not match the DestinationRule SANs fails (server impersonation)', async () => {
    const server = await serverProxy(await creds(ca, 'foo', 'impostor'), 'PERMISSIVE');
    const client = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port);
    expect(statusOf(await call(client.port))).toBe('refused');
  });

  it('renews both sides under a steady request loop with zero failed requests', async () => {
    const serverLive = await creds(ca, 'foo', 'httpbin');
    const clientLive = await creds(ca, 'foo', 'sleep');
    const server = await serverProxy(serverLive, 'STRICT');
    const client = await clientProxy('sleep', 'foo', clientLive, server.port);
    const serials = new Set<string>();
    let failures = 0;
    let ok = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const r = await call(client.port);
        if ('status' in r && r.status === 200) ok++;
        else failures++;
      }
    })();
    for (let i = 0; i < 4; i++) {
      const before = ok;
      await waitFor(() => ok >= before + 15);
      serverLive.update(await issue(ca, 'foo', 'httpbin'));
      clientLive.update(await issue(ca, 'foo', 'sleep'));
      serials.add(serverLive.current()!.chainPem);
    }
    const before = ok;
    await waitFor(() => ok >= before + 15);
    stop = true;
    await loop;
    expect(serials.size).toBe(4);
    expect(failures).toBe(0);
    expect(ok).toBeGreaterThanOrEqual(75);
  });
});

describe('authorization with real peer identities (three proxies)', () => {
  const policies: AuthorizationPolicy[] = [
    istio('foo/deny-other-admin', 'DENY', [{ from: [{ source: { principals: ['cluster.local/ns/bar/sa/other'] } }], to: [{ operation: { paths: ['/admin/*'] } }] }]),
    istio('foo/allow-foo', 'ALLOW', [{ from: [{ source: { namespaces: ['foo'] } }], to: [{ operation: { methods: ['GET', 'POST'], paths: ['/foo/*', '/admin/*'] } }] }]),
    istio('foo/allow-other-get', 'ALLOW', [{ from: [{ source: { principals: ['cluster.local/ns/bar/sa/other'] } }], to: [{ operation: { methods: ['GET'], paths: ['/public/*', '/admin/*'] } }] }]),
    istio('foo/allow-plaintext-health', 'ALLOW', [{ from: [{ source: { notPrincipals: ['*'] } }], to: [{ operation: { paths: ['/health'] } }] }]),
    istio('foo/allow-token', 'ALLOW', [{ from: [{ source: { principals: ['*'] } }], to: [{ operation: { paths: ['/secret'] } }], when: [{ key: 'request.headers[x-token]', values: ['letmein'] }] }]),
  ];
  let ports: { sleep: number; other: number; plain: number };
  let log: string[];

  beforeAll(async () => {
    log = [];
    const server = await serverProxy(await creds(ca, 'foo', 'httpbin'), 'PERMISSIVE', policies, log);
    const sleep = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port);
    const other = await clientProxy('other', 'bar', await creds(ca, 'bar', 'other'), server.port);
    ports = { sleep: sleep.port, other: other.port, plain: server.port };
  });

  const cases: Array<[from: 'sleep' | 'other' | 'plain', method: string, path: string, status: number, headers?: Record<string, string>]> = [
    ['sleep', 'GET', '/foo/a', 200], ['sleep', 'POST', '/foo/a', 200], ['sleep', 'DELETE', '/foo/a', 403],
    ['sleep', 'GET', '/admin/x', 200], ['sleep', 'GET', '/public/x', 403], ['sleep', 'GET', '/health', 403],
    ['sleep', 'GET', '/secret', 403], ['sleep', 'GET', '/secret', 200, { 'x-token': 'letmein' }], ['sleep', 'GET', '/secret', 403, { 'x-token': 'nope' }],
    ['other', 'GET', '/public/x', 200], ['other', 'POST', '/public/x', 403], ['other', 'GET', '/admin/x', 403],
    ['other', 'GET', '/foo/a', 403], ['other', 'GET', '/health', 403], ['other', 'GET', '/secret', 200, { 'x-token': 'letmein' }],
    ['other', 'GET', '/public/a?x=1', 200],
    ['plain', 'GET', '/health', 200], ['plain', 'GET', '/foo/a', 403], ['plain', 'GET', '/public/x', 403],
    ['plain', 'GET', '/secret', 403, { 'x-token': 'letmein' }], ['plain', 'GET', '/admin/x', 403], ['plain', 'POST', '/health', 200],
  ];
  it.each(cases)('%s %s %s -> %i', async (from, method, path, status, headers) => {
    const r = await call(ports[from], path, { method, ...(headers ? { headers } : {}) });
    expect(r).toMatchObject({ status, body: status === 403 ? 'RBAC: access denied' : `app ${method} ${path}` });
  });
  it('logs the denial with the deciding policy and the peer identity', async () => {
    await call(ports.other, '/admin/x');
    await waitFor(() => log.some((l) => l.includes('spiffe://cluster.local/ns/bar/sa/other') && l.includes('foo/deny-other-admin') && l.includes('BOWLINE_E_AUTHZ_DENIED')));
  });
});

describe('RequestAuthentication with real proxies', () => {
  it('valid JWT + mTLS peer allowed; no token 403; bad token 401; the token does not reach the app', async () => {
    const { generateKeyPairSync, sign } = await import('node:crypto');
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwks = JSON.stringify({ keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1' }] });
    const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const tok = (sub: string) => {
      const data = `${b({ alg: 'ES256', kid: 'k1' })}.${b({ iss: 'https://issuer.test', sub, exp: Math.floor(Date.now() / 1000) + 600 })}`;
      return `${data}.${sign('sha256', Buffer.from(data), { key: keys.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    const policies: AuthorizationPolicy[] = [istio('foo/jwt-from-sleep', 'ALLOW', [{ from: [{ source: { requestPrincipals: ['https://issuer.test/alice'], namespaces: ['foo'] } }] }])];
    const server = await serverProxy(await creds(ca, 'foo', 'httpbin'), 'PERMISSIVE', policies, undefined, undefined, [{ policy: 'foo/jwt', issuer: 'https://issuer.test', jwks }]);
    const client = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port);
    expect(await call(client.port, '/x', { headers: { authorization: `Bearer ${tok('alice')}` } })).toEqual({ status: 200, body: 'app GET /x' });
    expect(await call(client.port, '/x')).toMatchObject({ status: 403, body: 'RBAC: access denied' });
    expect(await call(client.port, '/x', { headers: { authorization: `Bearer ${tok('bob')}` } })).toMatchObject({ status: 403 });
    expect(await call(client.port, '/x', { headers: { authorization: `Bearer ${tok('alice')}x` } })).toMatchObject({ status: 401, body: 'Jwt verification fails' });
    // The right token over plaintext: no mTLS peer, so namespaces [foo] cannot match.
    expect(await call(server.port, '/x', { headers: { authorization: `Bearer ${tok('alice')}` } })).toMatchObject({ status: 403 });
  });
});

describe('authorization on TCP with real peer identities', () => {
  it('a DENY by principal closes the connection; other peers pass; the refusal is logged with flag RBAC', async () => {
    const log: string[] = [];
    const policies: AuthorizationPolicy[] = [istio('foo/deny-other', 'DENY', [{ from: [{ source: { principals: ['cluster.local/ns/bar/sa/other'] } }] }])];
    const server = await serverProxy(await creds(ca, 'foo', 'httpbin'), 'STRICT', policies, log, undefined, undefined, true);
    const sleep = await clientProxy('sleep', 'foo', await creds(ca, 'foo', 'sleep'), server.port);
    const other = await clientProxy('other', 'bar', await creds(ca, 'bar', 'other'), server.port);
    expect(await call(sleep.port, '/tcp')).toEqual({ status: 200, body: 'app GET /tcp' });
    expect(statusOf(await call(other.port, '/tcp'))).toBe('refused');
    await waitFor(() => log.some((l) => l.includes('authorization denied a TCP connection from spiffe://cluster.local/ns/bar/sa/other') && l.includes('foo/deny-other')));
  });
});
