// The client side of a refused server certificate: a proxy originating MUTUAL TLS toward upstreams
// whose certificates (from Bowline's CA) have expired or come from another mesh's root. The request
// gets 503 UF as before; the proxy's log names the reason with its BOWLINE_E_ code, and /stats counts
// it by reason, over HTTP/1.1 and HTTP/2 upstreams.
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
  const secrets: Secret[] = [
    { name: 'default', kind: 'tls-certificate', certificateChain: client.chainPem, privateKey: client.keyPem },
    { name: 'ROOTCA', kind: 'validation', trustedCa: client.trustBundlePem },
  ];
  const tls: Cluster['tls'] = { mode: 'MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA' };
  const routes = ['expired', 'stranger', 'expired-h2', 'authz'].map((name) => ({ name, virtualHosts: [{ name, domains: ['*'], routes: [{ route: { destinations: [{ cluster: name, weight: 1 }] } }] }] }));
  p = await proxy(config([
    listener('expired', [{ name: 'h', http: { routeConfig: 'expired', codec: 'http1' } }]),
    listener('stranger', [{ name: 'h', http: { routeConfig: 'stranger', codec: 'http1' } }]),
    listener('expired-h2', [{ name: 'h', http: { routeConfig: 'expired-h2', codec: 'http1' } }]),
    // An inbound listener whose requests an external authorizer checks first (AuthorizationPolicy CUSTOM):
    // /http through an HTTP provider, /grpc through a gRPC one, both reached over MUTUAL TLS to the expired upstream.
    listener('authz', [{ name: 'h', http: { routeConfig: 'authz', codec: 'http1' } }], { direction: 'inbound' }),
  ], [
    cluster('expired', [upstreams.expired], { protocol: 'http1', tls }),
    cluster('stranger', [upstreams.stranger], { protocol: 'http1', tls }),
    cluster('expired-h2', [upstreams.expired], { protocol: 'http2', tls }),
    cluster('authz', [upstreams.expired], { protocol: 'http1' }),
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
