// RequestAuthentication and AuthorizationPolicy requestPrincipals proven end to end: Istio YAML ->
// the control plane's generators -> a real Bowline sidecar's inbound listener on real sockets ->
// what the caller gets and what the app sees. Tokens are ES256 JWTs signed in the test; one
// issuer's keys are inline (jwks), the other's are served over HTTP (jwksUri).
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyInfo } from '../../src/push/generators/index.js';
import { waitFor } from '../support/wait.js';
import { send, Sidecar, stopWorkloads, workload, type Instance, type Workload } from './fields-harness.js';

let reviews: Workload;
let mesh: Instance[];
let jwksServer: Server;
let jwksPort = 0;
const sidecars: Sidecar[] = [];

const key1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwks = (k: { publicKey: KeyObject }, kid: string) => JSON.stringify({ keys: [{ ...k.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] });

/** An ES256 token from `iss` for `sub`, signed with `key` (kid `kid`). */
function token(iss: string, sub: string, opts: { key?: { privateKey: KeyObject }; kid?: string; aud?: string } = {}): string {
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const data = `${b({ alg: 'ES256', kid: opts.kid ?? 'k1', typ: 'JWT' })}.${b({ iss, sub, aud: opts.aud ?? 'books', exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${data}.${sign('sha256', Buffer.from(data), { key: (opts.key ?? key1).privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** The reviews workload's own sidecar: one inbound listener for 9080 in front of the app. */
const reviewsProxy = (appPort: number): ProxyInfo => ({
  node: { id: 'reviews-v1.default', role: 'sidecar', workload: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' } },
  workload: { name: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' }, address: '127.0.0.1', services: [{ service: 'reviews', port: 9080, protocol: 'HTTP', targetPort: appPort }], outboundPort: 0, tlsMode: 'disabled' },
});

beforeAll(async () => {
  reviews = await workload('reviews-v1');
  mesh = [{ w: reviews, service: 'reviews' }];
  jwksServer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/keys' ? jwks(key2, 'k2') : '{}');
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  jwksPort = (jwksServer.address() as { port: number }).port;
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
  reviews.seen.length = 0;
});

afterAll(async () => {
  await stopWorkloads([reviews]);
  jwksServer.closeAllConnections();
  await new Promise((r) => jwksServer.close(r));
});

const PLAINTEXT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: DISABLE}}
`;

describe('RequestAuthentication and requestPrincipals through a real inbound sidecar', () => {
  it('jwtRules (issuer, audiences, jwks, jwksUri, fromHeaders, fromParams, forwardOriginalToken, outputPayloadToHeader) with the selector; requestPrincipals and notRequestPrincipals decide', async () => {
    const s = new Sidecar();
    sidecars.push(s);
    await s.start(mesh, `${PLAINTEXT}---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: reviews-jwt, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  jwtRules:
  - issuer: https://id.test
    audiences: [books]
    jwks: '${jwks(key1, 'k1')}'
    fromHeaders: [{name: x-jwt, prefix: "Token "}]
    fromParams: [access_token]
    forwardOriginalToken: true
    outputPayloadToHeader: x-jwt-payload
  - issuer: https://keys.test
    jwksUri: http://127.0.0.1:${jwksPort}/keys
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ratings-jwt, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  jwtRules:
  - issuer: https://other.test
    jwks: '${jwks(stranger, 'k9')}'
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-allow, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  rules:
  - from:
    - source: {requestPrincipals: ["https://id.test/alice", "https://id.test/bob", "https://keys.test/*"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-deny, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules:
  - from:
    - source: {notRequestPrincipals: ["https://id.test/alice"]}
    to:
    - operation: {paths: [/alice-only]}
`, { proxy: reviewsProxy(reviews.port) });
    const port = s.proxy.ports.listeners['inbound|9080']!;
    const get = (path: string, headers: Record<string, string> = {}) => send(port, `inbound:reviews:9080${path}`, { headers });

    const alice = token('https://id.test', 'alice');
    const ok = await get('/r', { 'x-jwt': `Token ${alice}` });
    expect(ok.status).toBe(200);
    const seen = reviews.seen.at(-1)!.headers;
    expect(seen['x-jwt']).toBe(`Token ${alice}`);
    expect(JSON.parse(Buffer.from(String(seen['x-jwt-payload']), 'base64url').toString())).toMatchObject({ iss: 'https://id.test', sub: 'alice' });
    expect((await get(`/r?access_token=${token('https://id.test', 'bob')}`)).status).toBe(200);
    // keys.test's keys come from its jwksUri, fetched by the proxy in the background once the config arrives
    // (as Envoy's remote JWKS): its tokens pass once the fetch has landed (a busy machine took longer than the requests above).
    await waitFor(async () => (await get('/r', { authorization: `Bearer ${token('https://keys.test', 'dan', { key: key2, kid: 'k2' })}` })).status === 200, { timeoutMs: 15_000, what: 'a keys.test token accepted once its jwksUri keys are fetched' });
    // Each issuer reads its own locations: id.test's token in the Authorization header (where only keys.test reads) is refused.
    expect((await get('/r', { authorization: `Bearer ${alice}` })).status).toBe(401);
    expect((await get('/r')).status).toBe(403);
    // Verified, but not who the ALLOW names.
    expect((await get('/r', { 'x-jwt': `Token ${token('https://id.test', 'carol')}` })).status).toBe(403);
    // Refused tokens: another audience, a bad signature, an issuer whose rule selects another workload.
    expect((await get('/r', { 'x-jwt': `Token ${token('https://id.test', 'alice', { aud: 'music' })}` })).status).toBe(401);
    expect((await get('/r', { 'x-jwt': `Token ${token('https://id.test', 'alice', { key: stranger })}` })).status).toBe(401);
    expect((await get('/r', { authorization: `Bearer ${token('https://other.test', 'erin', { key: stranger, kid: 'k9' })}` })).status).toBe(401);
    // notRequestPrincipals in a DENY: only alice reaches /alice-only.
    expect((await get('/alice-only', { 'x-jwt': `Token ${alice}` })).status).toBe(200);
    expect((await get(`/alice-only?access_token=${token('https://id.test', 'bob')}`)).status).toBe(403);
  });
});
