import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretResolver } from './secrets.js';
import { DEFAULT_CIPHERS } from 'node:tls';
import { compileUpstreamTls, connectUpstreamTls, meshCiphers, MESH_TLS13_FIRST, type CompiledUpstreamTls } from './upstream.js';

x509.cryptoProvider.set(webcrypto as any); // node's webcrypto is the Crypto the library expects

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';
const PAGE = 'spiffe://cluster.local/ns/default/sa/productpage';

const pemKey = async (k: webcrypto.CryptoKey): Promise<string> =>
  `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', k)).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;

/** A mesh root and workload certificates it signs, each with one SPIFFE URI SAN (as the CA issues them). */
async function meshPki(): Promise<{ rootPem: string; issue(id: string): Promise<{ cert: string; key: string }> }> {
  const rootKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'O=cluster.local', keys: rootKeys, signingAlgorithm: ALG,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + 3600_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  let serial = 1;
  return {
    rootPem: root.toString('pem'),
    async issue(id: string) {
      const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: (++serial).toString(16).padStart(2, '0'), subject: '', issuer: root.subject, publicKey: keys.publicKey, signingKey: rootKeys.privateKey, signingAlgorithm: ALG,
        notBefore: new Date(now - 60_000), notAfter: new Date(now + 3600_000),
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id }], true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
      });
      return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
    },
  };
}

let server: Server;
let port = 0;
let client: CompiledUpstreamTls;
/** The same credentials as a MUTUAL cluster (user-set TLS): node's cipher order. */
let mutual: CompiledUpstreamTls;
/** What the server saw: the client's verified SPIFFE SAN per connection. */
const peers: string[] = [];

beforeAll(async () => {
  const pki = await meshPki();
  const own = await pki.issue(REVIEWS);
  // The server answers every read with "pong:" and the bytes, over mTLS.
  // honorCipherOrder false: the client's order decides, as on the proxy's inbound (tls/downstream.ts terminate); tls.createServer's default is the server's order.
  server = createServer({ cert: own.cert, key: own.key, ca: pki.rootPem, requestCert: true, rejectUnauthorized: true, honorCipherOrder: false }, (s) => {
    peers.push(s.getPeerCertificate().subjectaltname ?? '');
    s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('pong:'), d])));
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  const mine = await pki.issue(PAGE);
  const secrets = new SecretResolver([
    { name: 'default', kind: 'tls-certificate', certificateChain: mine.cert, privateKey: mine.key },
    { name: 'ROOTCA', kind: 'validation', trustedCa: pki.rootPem },
  ] as ConstructorParameters<typeof SecretResolver>[0]);
  client = compileUpstreamTls('outbound|9080||reviews', { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA' }, secrets, () => {}, new Set());
  mutual = compileUpstreamTls('outbound|9080||reviews-mutual', { mode: 'MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', subjectAltNames: [REVIEWS] }, secrets, () => {}, new Set());
});

afterAll(() => {
  server.close();
});

describe('connectUpstreamTls', () => {
  it('hands decrypted bytes to `onread` in its one buffer, with no data events, after verifying the server (mTLS, SPIFFE SAN)', async () => {
    const buffer = Buffer.alloc(64 * 1024);
    const got: string[] = [];
    let dataEvents = 0;
    const s = connectUpstreamTls(client, '127.0.0.1', port, REVIEWS, undefined, {
      buffer,
      callback: (n, b) => { expect(b).toBe(buffer); got.push(Buffer.from(b.subarray(0, n)).toString()); return true; },
    });
    s.on('data', () => { dataEvents++; });
    await once(s, 'secureConnect');
    expect(s.authorized).toBe(true);
    s.write('one');
    await expect.poll(() => got.join('')).toBe('pong:one');
    s.write('two');
    await expect.poll(() => got.join('')).toBe('pong:onepong:two');
    expect(dataEvents).toBe(0);
    expect(peers.at(-1)).toBe(`URI:${PAGE}`);
    s.destroy();
  });

  it('still refuses a server whose SPIFFE id is not the endpoint\'s when reading through `onread` (BOWLINE_E_TLS_SAN_MISMATCH): no byte reaches the callback', async () => {
    let called = 0;
    const s = connectUpstreamTls(client, '127.0.0.1', port, 'spiffe://cluster.local/ns/default/sa/ratings', undefined, {
      buffer: Buffer.alloc(1024),
      callback: () => { called++; return true; },
    });
    const [err] = (await once(s, 'error')) as [Error];
    expect(err.message).toMatch(/BOWLINE_E_TLS_SAN_MISMATCH/);
    expect(called).toBe(0);
  });
});

describe('mesh cipher order (ISTIO_MUTUAL)', () => {
  it('is node\'s cipher list with TLS_AES_128_GCM_SHA256 first among the TLS 1.3 suites, nothing added or removed', () => {
    const mine = meshCiphers().split(':');
    expect(mine[0]).toBe(MESH_TLS13_FIRST);
    expect([...mine].sort()).toEqual(DEFAULT_CIPHERS.split(':').sort());
    // The TLS 1.2 part keeps node's order exactly.
    expect(mine.filter((c) => !c.startsWith('TLS_'))).toEqual(DEFAULT_CIPHERS.split(':').filter((c) => !c.startsWith('TLS_')));
  });

  it('negotiates TLS_AES_128_GCM_SHA256 (Envoy\'s choice) with a server that follows the client\'s order (as the proxy\'s inbound does); a MUTUAL cluster keeps node\'s own order', async () => {
    const cipherOf = async (t: CompiledUpstreamTls): Promise<{ name: string; version: string }> => {
      const s = connectUpstreamTls(t, '127.0.0.1', port, REVIEWS);
      await once(s, 'secureConnect');
      const c = s.getCipher();
      s.destroy();
      return { name: c.name, version: c.version };
    };
    expect(await cipherOf(client)).toEqual({ name: 'TLS_AES_128_GCM_SHA256', version: 'TLSv1.3' });
    expect(await cipherOf(mutual)).toEqual({ name: DEFAULT_CIPHERS.split(':')[0], version: 'TLSv1.3' });
  });
});
