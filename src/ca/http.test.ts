import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.js';
import { caHttpHandlers } from './http.js';
import { parseKek } from './kek.js';
import { MemoryCaStorage } from './storage.js';
import { makeCsr } from './testing/csr.js';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function setup(isAdmin?: () => boolean) {
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 1), 't') });
  const api = caHttpHandlers(ca, isAdmin ? { isAdmin } : {});
  const handler = (req: IncomingMessage, res: ServerResponse) => void api.handle(req, res).then((done) => { if (!done) res.writeHead(404).end(); });
  const http = createHttpServer(handler).listen(0, '127.0.0.1');
  const serving = ca.issueServingCertificate({ dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const https = createHttpsServer({ key: serving.keyPem, cert: serving.chainPem, ca: ca.trustBundlePem(), requestCert: true, rejectUnauthorized: false }, handler).listen(0, '127.0.0.1');
  await Promise.all([once(http, 'listening'), once(https, 'listening')]);
  closers.push(() => http.close(), () => https.close());
  return { ca, httpUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, httpsPort: (https.address() as AddressInfo).port };
}

async function post(url: string, body: unknown) {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

function httpsPost(port: string | number, path: string, body: unknown, tls: { ca: string; key?: string; cert?: string }): Promise<{ status: number; body: Record<string, any> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, method: 'POST', ...tls, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('CA HTTP API', () => {
  it('mints a token (admin), signs the first certificate with it once, then renews with the certificate over TLS', async () => {
    const { ca, httpUrl, httpsPort } = await setup();
    const t = await post(`${httpUrl}/v1/tokens`, { namespace: 'shop', serviceAccount: 'cart', workload: 'vm-1', ttl: '1h' });
    expect(t.status).toBe(201);
    expect(t.body.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    const bundle = await (await fetch(`${httpUrl}/v1/ca/trust-bundle`)).json() as Record<string, string>;
    expect(bundle.rootHash).toBe(t.body.rootHash);

    const first = await makeCsr({ uris: [t.body.spiffeId] });
    const c1 = await post(`${httpUrl}/v1/ca/certificates`, { csr: first.csrPem, token: t.body.token });
    expect(c1.status).toBe(200);
    expect(c1.body.spiffeId).toBe(t.body.spiffeId);
    const replay = await post(`${httpUrl}/v1/ca/certificates`, { csr: first.csrPem, token: t.body.token });
    expect(replay).toMatchObject({ status: 401, body: { error: { code: 'BOWLINE_E_TOKEN_REPLAYED' } } });

    const next = await makeCsr({ uris: [t.body.spiffeId] });
    const renewed = await httpsPost(httpsPort, '/v1/ca/certificates', { csr: next.csrPem }, { ca: ca.trustBundlePem(), key: first.keyPem, cert: c1.body.certificateChain });
    expect(renewed.status).toBe(200);
    expect(renewed.body.serial).not.toBe(c1.body.serial);
    // The current certificate only proves its own identity.
    const grab = await makeCsr({ uris: ['spiffe://cluster.local/ns/shop/sa/admin'] });
    const refused = await httpsPost(httpsPort, '/v1/ca/certificates', { csr: grab.csrPem }, { ca: ca.trustBundlePem(), key: first.keyPem, cert: c1.body.certificateChain });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'BOWLINE_E_CA_CSR_IDENTITY' } } });
  });

  it('refuses tokens to non-admins, requests without credentials, and bad bodies', async () => {
    const { httpUrl } = await setup(() => false);
    expect(await post(`${httpUrl}/v1/tokens`, { namespace: 'a', serviceAccount: 'b' })).toMatchObject({ status: 403, body: { error: { code: 'BOWLINE_E_CA_FORBIDDEN' } } });
    const csr = await makeCsr({ uris: ['spiffe://cluster.local/ns/a/sa/b'] });
    expect(await post(`${httpUrl}/v1/ca/certificates`, { csr: csr.csrPem })).toMatchObject({ status: 401, body: { error: { code: 'BOWLINE_E_CA_UNAUTHENTICATED' } } });
    expect(await post(`${httpUrl}/v1/ca/certificates`, { csr: csr.csrPem, token: 'x.y.z' })).toMatchObject({ status: 401, body: { error: { code: 'BOWLINE_E_TOKEN_INVALID' } } });
    const r = await fetch(`${httpUrl}/v1/ca/certificates`, { method: 'POST', body: 'not json' });
    expect(r.status).toBe(400);
  });
});
