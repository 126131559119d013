import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { derToPem } from './der.js';
import { CA_ERRORS, CaError } from './errors.js';
import { keyMatchesCertificate } from './issue.js';
import type { CaKeyPair } from './root.js';
import { x509 } from './x509-provider.js';

/**
 * Per-cluster intermediates under one offline root (Istio's "plug in CA certificates"): every
 * cluster's control plane signs workloads with its own intermediate, and every proxy trusts the
 * shared root, so a workload of one cluster verifies a workload of another.
 */

/** Default life of a cluster intermediate: one year. */
export const INTERMEDIATE_LIFETIME_MS = 365 * 24 * 3600_000;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** Istio's four `cacerts` files, as text. */
export interface CacertsFiles {
  'ca-cert.pem': string;
  'ca-key.pem': string;
  'root-cert.pem': string;
  'cert-chain.pem': string;
}

/** How a root is named in messages: its subject and the start of its SHA-256 fingerprint. */
export function describeRoot(pem: string): string {
  const c = new X509Certificate(pem);
  return `"${c.subject.replace(/\n/g, ', ')}" (SHA-256 ${c.fingerprint256.slice(0, 23)})`;
}

/**
 * Creates a CA intermediate for `cluster`, signed by `root` (CA:true, pathlen 0, keyCertSign+cRLSign),
 * valid for `lifetimeMs` but never past the root. Returns the four `cacerts` files; `cert-chain.pem`
 * is the intermediate then the root, as Istio's tooling writes it.
 */
export async function createIntermediateCa(opts: { root: CaKeyPair; cluster: string; trustDomain?: string; now?: number; lifetimeMs?: number }): Promise<CacertsFiles> {
  const rootCert = new X509Certificate(opts.root.certPem);
  if (!rootCert.ca) throw new CaError(CA_ERRORS.CACERTS_INVALID, `the root certificate is not a CA (basicConstraints CA:true is required)`);
  if (!keyMatchesCertificate(opts.root.certPem, createPrivateKey(opts.root.keyPem))) throw new CaError(CA_ERRORS.CACERTS_INVALID, 'the root key does not belong to the root certificate');
  const now = opts.now ?? Date.now();
  const rootEnd = Date.parse(rootCert.validTo);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const rootKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(opts.root.keyPem).export({ format: 'der', type: 'pkcs8' }), ALG, false, ['sign']);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const issuer = new x509.X509Certificate(opts.root.certPem);
  const org = opts.trustDomain ?? 'cluster.local';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: new x509.Name([{ O: [org] }, { L: [opts.cluster] }, { CN: [`Bowline Intermediate CA ${opts.cluster}`] }]).toString(),
    issuer: issuer.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(Math.min(now + (opts.lifetimeMs ?? INTERMEDIATE_LIFETIME_MS), rootEnd)),
    publicKey: keys.publicKey,
    signingKey: rootKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  const keyPem = derToPem(Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
  const rootPem = rootCert.toString();
  return { 'ca-cert.pem': certPem, 'ca-key.pem': keyPem, 'root-cert.pem': rootPem, 'cert-chain.pem': certPem + rootPem };
}
