import { webcrypto } from 'node:crypto';
import { derToPem } from '../der.js';
import { x509 } from '../x509-provider.js';

/** Test support: a P-256 key and a CSR asking for the given SAN URIs / DNS names (PEM). */
export async function makeCsr(opts: { uris?: string[]; dnsNames?: string[] }): Promise<{ csrPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names = [...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })), ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value }))];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: '',
    keys,
    signingAlgorithm: alg,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { csrPem: csr.toString('pem'), keyPem: derToPem(pkcs8, 'PRIVATE KEY') };
}
