import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretResolver } from './secrets.js';
import { DEFAULT_CIPHERS } from 'node:tls';
import { compileUpstreamTls, connectUpstreamTls, meshCiphers, MESH_TLS13_FIRST, upstreamPeerIdentity, upstreamTlsFailure, type CompiledUpstreamTls } from './upstream.js';
import { ProxyStats } from '../stats.js';

x509.cryptoProvider.set(webcrypto as any); // node's webcrypto is the Crypto the library expects

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';
const PAGE = 'spiffe://cluster.local/ns/default/sa/productpage';

const pemKey = async (k: webcrypto.CryptoKey): Promise<string> =>
  `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', k)).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;

/** A mesh root and workload certificates it signs, each with one SPIFFE URI SAN (as the CA issues them). */
async function meshPki(): Promise<{ rootPem: string; issue(id: string, validity?: { notBefore: number; notAfter: number }): Promise<{ cert: string; key: string }> }> {
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
    async issue(id: string, validity = { notBefore: now - 60_000, notAfter: now + 3600_000 }) {
      const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: (++serial).toString(16).padStart(2, '0'), subject: '', issuer: root.subject, publicKey: keys.publicKey, signingKey: rootKeys.privateKey, signingAlgorithm: ALG,
        notBefore: new Date(validity.notBefore), notAfter: new Date(validity.notAfter),
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id }], true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
      });
      return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
    },
  };
}

let server: Server;
let port = 0;
let pki: Awaited<ReturnType<typeof meshPki>>;
let client: CompiledUpstreamTls;
/** The same credentials as a MUTUAL cluster (user-set TLS): node's cipher order. */
let mutual: CompiledUpstreamTls;
/** SIMPLE TLS (no client certificate) and insecureSkipVerify toward the same roots. */
let simple: CompiledUpstreamTls;
let insecure: CompiledUpstreamTls;
/** What the server saw: the client's verified SPIFFE SAN per connection. */
const peers: string[] = [];

beforeAll(async () => {
  pki = await meshPki();
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
  simple = compileUpstreamTls('outbound|9080||reviews-simple', { mode: 'SIMPLE', validationSecret: 'ROOTCA' }, secrets, () => {}, new Set());
  insecure = compileUpstreamTls('outbound|9080||reviews-insecure', { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', insecureSkipVerify: true }, secrets, () => {}, new Set());
});

const others: Server[] = [];
afterAll(() => {
  server.close();
  for (const o of others) o.close();
});

/** A TLS server presenting `cert` (no client certificate asked): what the client's checks see. */
async function serverWith(cert: { cert: string; key: string }): Promise<number> {
  const s = createServer({ cert: cert.cert, key: cert.key }, (c) => { c.on('error', () => {}); c.end(); });
  s.on('tlsClientError', () => {});
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  others.push(s);
  return (s.address() as AddressInfo).port;
}

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

describe('upstreamPeerIdentity', () => {
  const identityOf = async (t: CompiledUpstreamTls, p: number): Promise<string> => {
    const s = connectUpstreamTls(t, '127.0.0.1', p, REVIEWS);
    await once(s, 'secureConnect');
    const id = upstreamPeerIdentity(s);
    s.destroy();
    return id;
  };

  it('is the verified server certificate\'s SPIFFE id in every TLS mode (SIMPLE too, as Envoy); \'\' on a chain nobody verified', async () => {
    expect(await identityOf(client, port)).toBe(REVIEWS);
    expect(await identityOf(mutual, port)).toBe(REVIEWS);
    const noClientCert = await serverWith(await pki.issue(REVIEWS));
    expect(await identityOf(simple, noClientCert)).toBe(REVIEWS);
    // insecureSkipVerify toward another root's certificate: it connects, but the identity it shows proves nothing.
    const stranger = await serverWith(await (await meshPki()).issue(REVIEWS));
    expect(await identityOf(insecure, stranger)).toBe('');
  });
});

describe('upstream TLS failures', () => {
  const tlsError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

  it('names the server certificate\'s problem with a code; TCP failures are not TLS\'s', () => {
    expect(upstreamTlsFailure(tlsError('CERT_HAS_EXPIRED', 'certificate has expired'))).toEqual({ code: 'BOWLINE_E_TLS_PEER_EXPIRED', reason: 'peer certificate has expired' });
    expect(upstreamTlsFailure(tlsError('CERT_NOT_YET_VALID', 'certificate is not yet valid'))?.code).toBe('BOWLINE_E_TLS_PEER_NOT_YET_VALID');
    expect(upstreamTlsFailure(tlsError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'))?.code).toBe('BOWLINE_E_TLS_PEER_UNTRUSTED');
    // Our checkServerIdentity's Error has no `code`: the one in its message is kept, and not repeated in the reason.
    const san = upstreamTlsFailure(new Error(`upstream certificate SANs (URI:${PAGE}) match none of ${REVIEWS} (BOWLINE_E_TLS_SAN_MISMATCH)`));
    expect(san).toEqual({ code: 'BOWLINE_E_TLS_SAN_MISMATCH', reason: `upstream certificate SANs (URI:${PAGE}) match none of ${REVIEWS}` });
    expect(upstreamTlsFailure(new Error('workload certificate not issued yet (BOWLINE_E_TLS_SECRET)'))?.code).toBe('BOWLINE_E_TLS_SECRET');
    expect(upstreamTlsFailure(tlsError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"))?.code).toBe('BOWLINE_E_TLS_SAN_MISMATCH');
    expect(upstreamTlsFailure(tlsError('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'))).toEqual({ code: 'BOWLINE_E_TLS_HANDSHAKE', reason: 'handshake failed (ERR_SSL_WRONG_VERSION_NUMBER): wrong version number' });
    expect(upstreamTlsFailure(tlsError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'))).toBeUndefined();
    expect(upstreamTlsFailure(tlsError('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'))).toBeUndefined();
    expect(upstreamTlsFailure(new Error('connect timeout after 10 ms'))).toBeUndefined();
  });

  it('on real sockets: an expired, a not yet valid, another root\'s and a wrong-SAN server certificate fail with their code, each counted once; ECONNREFUSED keeps node\'s message', async () => {
    const stats = new ProxyStats();
    const failure = async (p: number, identity = REVIEWS): Promise<string> => {
      const s = connectUpstreamTls(client, '127.0.0.1', p, identity, undefined, undefined, stats);
      const [err] = (await once(s, 'error')) as [Error];
      return err.message;
    };
    const now = Date.now();
    const expired = await serverWith(await pki.issue(REVIEWS, { notBefore: now - 7200_000, notAfter: now - 3600_000 }));
    expect(await failure(expired)).toBe('TLS: peer certificate has expired (BOWLINE_E_TLS_PEER_EXPIRED)');
    const early = await serverWith(await pki.issue(REVIEWS, { notBefore: now + 3600_000, notAfter: now + 7200_000 }));
    expect(await failure(early)).toMatch(/^TLS: peer certificate is not valid yet .*\(BOWLINE_E_TLS_PEER_NOT_YET_VALID\)$/);
    const stranger = await serverWith(await (await meshPki()).issue(REVIEWS));
    expect(await failure(stranger)).toMatch(/^TLS: peer certificate is not signed by a trusted root .*\(BOWLINE_E_TLS_PEER_UNTRUSTED\)$/);
    expect(await failure(port, 'spiffe://cluster.local/ns/default/sa/ratings')).toBe(`TLS: upstream certificate SANs (URI:${REVIEWS}) match none of spiffe://cluster.local/ns/default/sa/ratings (BOWLINE_E_TLS_SAN_MISMATCH)`);
    const closed = await serverWith(await pki.issue(REVIEWS));
    others.at(-1)!.close();
    await once(others.at(-1)!, 'close');
    expect(await failure(closed)).toMatch(/^connect ECONNREFUSED/);
    expect(stats).toMatchObject({ upstreamTlsPeerExpired: 1, upstreamTlsPeerNotYetValid: 1, upstreamTlsPeerUntrusted: 1, upstreamTlsSanMismatch: 1, upstreamTlsHandshakeFailed: 0, upstreamTlsNoCredential: 0 });
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
