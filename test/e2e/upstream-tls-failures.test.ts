// The client side of a refused server certificate: a proxy originating MUTUAL TLS toward upstreams
// whose certificates (from Bowline's CA) have expired or come from another mesh's root. The request
// gets 503 UF as before; the proxy's log names the reason with its BOWLINE_E_ code, and /stats counts
// it by reason, over HTTP/1.1 and HTTP/2 upstreams.
import { createServer as netServer } from 'node:net';
import { createServer as tlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, MemoryCaStorage, parseKek } from '../../src/ca/index.js';
import type { Cluster, Secret } from '../../src/proxy-config/types.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { httpGet } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { issue } from './identity-harness.js';
import { cluster, config, listener, onStop, proxy, stopAll } from './protocols-harness.js';

const kek = parseKek(Buffer.alloc(32, 3), 'test');
let now = Date.now();
let ca: CertificateAuthority;
let p: RunningProxy;
const lines: string[] = [];
/** Upstream ports by what their certificate is. */
const upstreams: Record<string, number> = {};

/**
 * A TLS upstream that asks for a client certificate and trusts only `clientRoots` (not the client's
 * CA): node refuses the client's certificate by closing, without an alert, as a Bowline server does.
 */
async function refusingUpstream(cred: { keyPem: string; chainPem: string }, clientRoots: string, maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<number> {
  const server = tlsServer({ cert: cred.chainPem, key: cred.keyPem, requestCert: true, rejectUnauthorized: true, ca: clientRoots, maxVersion }, (s) => {
    s.on('error', () => {});
    s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onStop({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return (server.address() as { port: number }).port;
}

/** A TCP server that closes every connection on its first bytes (the client's hello): not a TLS server at all. */
async function dropper(): Promise<number> {
  const server = netServer((s) => { s.on('error', () => {}); s.once('data', () => s.destroy()); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onStop({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return (server.address() as { port: number }).port;
}

/** A TLS upstream presenting `cred`'s chain; it never gets to answer (the client refuses it). */
async function upstream(cred: { keyPem: string; chainPem: string }): Promise<number> {
  const server = tlsServer({ cert: cred.chainPem, key: cred.keyPem }, (s) => { s.on('error', () => {}); s.end(); });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onStop({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  now = Date.now() - 2 * 24 * 3600_000; // the root predates the backdated certificate
  ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, now: () => now, workloadLifetimeMs: 3600_000 });
  now = Date.now() - 3 * 3600_000;
  const expired = await issue(ca, 'default', 'reviews');
  now = Date.now();
  const client = await issue(ca, 'default', 'productpage');
  const otherMesh = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
  upstreams.expired = await upstream(expired);
  upstreams.stranger = await upstream(await issue(otherMesh, 'default', 'reviews'));
  const reviews = await issue(ca, 'default', 'reviews');
  upstreams.refuser = await refusingUpstream(reviews, otherMesh.trustBundlePem(), 'TLSv1.3');
  upstreams.refuser12 = await refusingUpstream(reviews, otherMesh.trustBundlePem(), 'TLSv1.2');
  upstreams.dropper = await dropper();
  const secrets: Secret[] = [
    { name: 'default', kind: 'tls-certificate', certificateChain: client.chainPem, privateKey: client.keyPem },
    { name: 'ROOTCA', kind: 'validation', trustedCa: client.trustBundlePem },
  ];
  const tls: Cluster['tls'] = { mode: 'MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA' };
  const refusing = ['refuser', 'refuser-h2', 'refuser12', 'dropper'];
  const routes = ['expired', 'stranger', 'expired-h2', 'authz', ...refusing].map((name) => ({ name, virtualHosts: [{ name, domains: ['*'], routes: [{ route: { destinations: [{ cluster: name, weight: 1 }] } }] }] }));
  p = await proxy(config([
    listener('expired', [{ name: 'h', http: { routeConfig: 'expired', codec: 'http1' } }]),
    listener('stranger', [{ name: 'h', http: { routeConfig: 'stranger', codec: 'http1' } }]),
    listener('expired-h2', [{ name: 'h', http: { routeConfig: 'expired-h2', codec: 'http1' } }]),
    // An inbound listener whose requests an external authorizer checks first (AuthorizationPolicy CUSTOM):
    // /http through an HTTP provider, /grpc through a gRPC one, both reached over MUTUAL TLS to the expired upstream.
    listener('authz', [{ name: 'h', http: { routeConfig: 'authz', codec: 'http1' } }], { direction: 'inbound' }),
    ...refusing.map((name) => listener(name, [{ name: 'h', http: { routeConfig: name, codec: 'http1' } }])),
  ], [
    cluster('expired', [upstreams.expired], { protocol: 'http1', tls }),
    cluster('stranger', [upstreams.stranger], { protocol: 'http1', tls }),
    cluster('expired-h2', [upstreams.expired], { protocol: 'http2', tls }),
    cluster('authz', [upstreams.expired], { protocol: 'http1' }),
    cluster('refuser', [upstreams.refuser], { protocol: 'http1', tls }),
    cluster('refuser-h2', [upstreams.refuser], { protocol: 'http2', tls }),
    cluster('refuser12', [upstreams.refuser12], { protocol: 'http1', tls }),
    cluster('dropper', [upstreams.dropper], { protocol: 'http1', tls }),
    cluster('ext-http', [upstreams.expired], { protocol: 'http1', tls }),
    cluster('ext-grpc', [upstreams.expired], { protocol: 'http2', tls }),
  ], { routes, secrets, authorization: { policies: [], custom: [
    { name: 'default/ext-http', rules: [{ to: [[{ attribute: 'request.path', values: ['/http'] }]] }], provider: { name: 'ext-http', cluster: 'ext-http', authority: 'ext-http:9000', timeoutMs: 5000 } },
    { name: 'default/ext-grpc', rules: [{ to: [[{ attribute: 'request.path', values: ['/grpc'] }]] }], provider: { name: 'ext-grpc', protocol: 'grpc', cluster: 'ext-grpc', authority: 'ext-grpc:9000', timeoutMs: 5000 } },
  ] } }), { admin: true, log: (l) => lines.push(l) });
}, 30_000);
afterAll(stopAll);

async function stats(): Promise<Record<string, number>> {
  return JSON.parse((await httpGet(p.ports.admin!, '/stats')).body) as Record<string, number>;
}

describe('a server certificate the client refuses', () => {
  it('expired: 503 UF, the connect failure logged with BOWLINE_E_TLS_PEER_EXPIRED, counted in upstreamTlsPeerExpired', async () => {
    const res = await httpGet(p.ports.listeners.expired!, '/');
    expect(res.status).toBe(503);
    expect(res.body).toContain('connection failure');
    await waitFor(() => lines.some((l) => l.includes('(cluster expired)')), { what: 'the connect failure log line' });
    expect(lines.find((l) => l.includes('(cluster expired)'))).toMatch(/upstream connect failure to 127\.0\.0\.1:\d+ \(cluster expired\): TLS: peer certificate has expired \(BOWLINE_E_TLS_PEER_EXPIRED\)$/);
    expect(await stats()).toMatchObject({ upstreamTlsPeerExpired: 1, flag_UF: 1, upstreamConnectFailures: 1, responses5xx: 1 });
  });

  it('from another mesh\'s root: BOWLINE_E_TLS_PEER_UNTRUSTED, counted in upstreamTlsPeerUntrusted', async () => {
    const res = await httpGet(p.ports.listeners.stranger!, '/');
    expect(res.status).toBe(503);
    await waitFor(() => lines.some((l) => l.includes('(cluster stranger)')), { what: 'the connect failure log line' });
    expect(lines.find((l) => l.includes('(cluster stranger)'))).toMatch(/\(cluster stranger\): TLS: peer certificate is not signed by a trusted root \(.+\): another CA or another mesh \(BOWLINE_E_TLS_PEER_UNTRUSTED\)$/);
    expect(await stats()).toMatchObject({ upstreamTlsPeerUntrusted: 1, upstreamTlsPeerExpired: 1, flag_UF: 2 });
  });

  it('over an HTTP/2 upstream too: the stream\'s connect failure carries the code', async () => {
    const res = await httpGet(p.ports.listeners['expired-h2']!, '/');
    expect(res.status).toBe(503);
    await waitFor(() => lines.some((l) => l.includes('upstream connect failure') && l.includes('(cluster expired-h2)')), { what: () => 'the connect failure log line in ' + JSON.stringify(lines), timeoutMs: 5000 });
    expect(lines.find((l) => l.includes('upstream connect failure') && l.includes('(cluster expired-h2)'))).toMatch(/\(cluster expired-h2\): TLS: peer certificate has expired \(BOWLINE_E_TLS_PEER_EXPIRED\)$/);
    expect(await stats()).toMatchObject({ upstreamTlsPeerExpired: 2, flag_UF: 3 });
  });

  it('an external authorizer\'s expired certificate: the request is refused (fail closed), the reason named and counted', async () => {
    const before = await stats();
    for (const path of ['/http', '/grpc']) {
      const res = await httpGet(p.ports.listeners.authz!, path);
      expect(res.status).toBe(403);
      const provider = path === '/http' ? 'ext-http' : 'ext-grpc';
      await waitFor(() => lines.some((l) => l.includes(`external authorization of GET ${path} failed`)), { what: () => 'the ext-authz log line in ' + JSON.stringify(lines), timeoutMs: 5000 });
      expect(lines.find((l) => l.includes(`external authorization of GET ${path} failed`))).toMatch(new RegExp(`provider ${provider} at 127\\.0\\.0\\.1:\\d+.*TLS: peer certificate has expired \\(BOWLINE_E_TLS_PEER_EXPIRED\\); refused \\(fail closed\\)`));
    }
    const after = await stats();
    expect(after.upstreamTlsPeerExpired! - before.upstreamTlsPeerExpired!).toBe(2);
  });
});

describe('a server that refuses this proxy\'s client certificate (closing without an alert, as node and Bowline servers do)', () => {
  const failureLine = (cluster: string): string | undefined => lines.find((l) => l.includes(`(cluster ${cluster})`) && l.includes('BOWLINE_E_TLS_CLIENT_REFUSED'));

  it('TLS 1.3, HTTP/1.1 and HTTP/2 upstreams: 503 UC, the reset named BOWLINE_E_TLS_CLIENT_REFUSED, counted in upstreamTlsClientRefused', async () => {
    const before = await stats();
    for (const name of ['refuser', 'refuser-h2']) {
      const res = await httpGet(p.ports.listeners[name]!, '/');
      expect(res.status).toBe(503);
      expect(res.body).toContain('connection termination');
      await waitFor(() => failureLine(name) !== undefined, { what: () => `the ${name} failure line in ` + JSON.stringify(lines), timeoutMs: 5000 });
      expect(failureLine(name)).toMatch(new RegExp(`\\(cluster ${name}\\): TLS: the server closed the connection right after the handshake, before answering: it most likely refused this proxy's client certificate \\(the server's log says why\\) \\(BOWLINE_E_TLS_CLIENT_REFUSED\\)$`));
    }
    const after = await stats();
    expect(after.upstreamTlsClientRefused! - before.upstreamTlsClientRefused!).toBe(2);
    expect(after.flag_UC! - before.flag_UC!).toBe(2);
  });

  it('TLS 1.2: the handshake ends in a connect failure (503 UF) named BOWLINE_E_TLS_CLIENT_REFUSED', async () => {
    const before = await stats();
    const res = await httpGet(p.ports.listeners.refuser12!, '/');
    expect(res.status).toBe(503);
    await waitFor(() => failureLine('refuser12') !== undefined, { what: () => 'the refuser12 failure line in ' + JSON.stringify(lines), timeoutMs: 5000 });
    expect(failureLine('refuser12')).toMatch(/upstream connect failure to 127\.0\.0\.1:\d+ \(cluster refuser12\): TLS: the server closed the connection during the handshake, after this proxy sent its client certificate: it most likely refused the certificate \(the server's log says why\) \(BOWLINE_E_TLS_CLIENT_REFUSED\)$/);
    const after = await stats();
    expect(after.upstreamTlsClientRefused! - before.upstreamTlsClientRefused!).toBe(1);
    expect(after.flag_UF! - before.flag_UF!).toBe(1);
  });

  it('a server that drops the client\'s hello is not taken for a refusal', async () => {
    const before = await stats();
    const res = await httpGet(p.ports.listeners.dropper!, '/');
    expect(res.status).toBe(503);
    await waitFor(() => lines.some((l) => l.includes('(cluster dropper)')), { what: () => 'the dropper failure line in ' + JSON.stringify(lines), timeoutMs: 5000 });
    expect(failureLine('dropper')).toBeUndefined();
    expect((await stats()).upstreamTlsClientRefused).toBe(before.upstreamTlsClientRefused);
  });
});
