import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as any); // node's webcrypto is the Crypto the library expects

/** A fresh private key and the CSR that asks the CA to certify it for one SPIFFE id. */
export interface KeyAndCsr {
  /** PKCS#8 PEM; never leaves the proxy. */
  keyPem: string;
  /** PKCS#10 PEM, sent to the CA. */
  csrPem: string;
}

/** Generates an ECDSA P-256 key and a CSR whose only SAN is `spiffeId` (empty subject). ~2-5 ms. */
export async function createKeyAndCsr(spiffeId: string): Promise<KeyAndCsr> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: '',
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
  return { keyPem, csrPem: csr.toString('pem') + '\n' };
}
