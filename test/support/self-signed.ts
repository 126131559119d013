/**
 * Test support: a self-signed ECDSA P-256 certificate for `CN=localhost` (valid from a minute ago for an hour) and its
 * key, PEM: the server side of tests that run TLS on real sockets (a client trusts it with rejectUnauthorized: false).
 */
import { webcrypto } from 'node:crypto';
import { derToPem } from '../../src/ca/der.js';
import { x509 } from '../../src/ca/x509-provider.js';

/** A fresh self-signed certificate and its private key (PKCS#8), PEM. */
export async function selfSigned(): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const c = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=localhost', keys, signingAlgorithm: alg, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3600_000) });
  return { cert: c.toString('pem'), key: derToPem(Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY') };
}
