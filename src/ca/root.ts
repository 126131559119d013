import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { derToPem } from './der.js';
import { CA_ERRORS, CaError } from './errors.js';
import { describeRoot } from './intermediate.js';
import { keyMatchesCertificate } from './issue.js';
import { x509 } from './x509-provider.js';

/** Ten years, the default life of a generated root. */
export const ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600_000;

/** A CA certificate with its key, both PEM. */
export interface CaKeyPair {
  certPem: string;
  keyPem: string;
}

/** Creates a self-signed ECDSA P-256 root: CA:true with pathlen 1, keyCertSign+cRLSign, 10 years by default. */
export async function createRootCa(opts: { trustDomain: string; now?: number; lifetimeMs?: number }): Promise<CaKeyPair> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = opts.now ?? Date.now();
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: [{ O: [opts.trustDomain] }, { CN: [`Bowline Root CA ${new Date(now).toISOString().slice(0, 10)}`] }],
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + (opts.lifetimeMs ?? ROOT_LIFETIME_MS)),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem') + '\n', keyPem: derToPem(pkcs8, 'PRIVATE KEY') };
}

/** Splits PEM text into its CERTIFICATE blocks. */
export function splitPemCertificates(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((b) => b + '\n');
}

/** A user-supplied signing CA loaded from Istio-style `cacerts` files. */
export interface Cacerts {
  /** The signing CA (root or intermediate). */
  signing: CaKeyPair;
  /** Certificates between the signing CA and the root, signing CA first, root excluded (sent with every leaf). */
  intermediatesPem: string[];
  /** The trusted root(s). */
  rootsPem: string[];
}

function bad(msg: string, cause?: unknown): CaError {
  return new CaError(CA_ERRORS.CACERTS_INVALID, msg, { cause });
}

/** The text of Istio's `cacerts` files (`cert-chain.pem` optional), e.g. from a directory or the `cacerts` Secret. */
export interface CacertsText {
  'ca-cert.pem'?: string | undefined;
  'ca-key.pem'?: string | undefined;
  'root-cert.pem'?: string | undefined;
  'cert-chain.pem'?: string | undefined;
}

/**
 * Loads `ca-cert.pem`, `ca-key.pem`, `root-cert.pem` and optional `cert-chain.pem` from `dir`
 * (the layout of Istio's `cacerts` secret) and checks they fit together (see parseCacerts).
 */
export function loadCacerts(dir: string): Cacerts {
  const read = (name: string, optional = false): string | undefined => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw bad(`cannot read ${join(dir, name)}: ${(err as Error).message}`, err);
    }
  };
  return parseCacerts({ 'ca-cert.pem': read('ca-cert.pem'), 'ca-key.pem': read('ca-key.pem'), 'root-cert.pem': read('root-cert.pem'), 'cert-chain.pem': read('cert-chain.pem', true) }, dir);
}

/**
 * Checks `cacerts` files fit together: the key matches the certificate, the certificate is a CA,
 * and the chain leads to the root (else CaError ROOT_MISMATCH naming both roots). `dir` names
 * where they came from in messages (a directory, or `Secret istio-system/cacerts`).
 */
export function parseCacerts(files: CacertsText, dir: string): Cacerts {
  for (const name of ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem'] as const) if (files[name] === undefined) throw bad(`${name} is missing in ${dir}`);
  const certPem = files['ca-cert.pem']!;
  const keyPem = files['ca-key.pem']!;
  const rootsPem = splitPemCertificates(files['root-cert.pem']!);
  const chainPem = splitPemCertificates(files['cert-chain.pem'] ?? '');
  if (rootsPem.length === 0) throw bad(`root-cert.pem in ${dir} holds no certificate`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!keyMatchesCertificate(certPem, createPrivateKey(keyPem))) throw bad(`ca-key.pem does not belong to ca-cert.pem in ${dir}`);
  } catch (err) {
    if (err instanceof CaError) throw err;
    throw bad(`ca-cert.pem / ca-key.pem in ${dir} cannot be read: ${(err as Error).message}`, err);
  }
  if (!cert.ca) throw bad(`ca-cert.pem in ${dir} is not a CA certificate (basicConstraints CA:true is required)`);
  const roots = rootsPem.map((p) => new X509Certificate(p));
  // The chain the leaf needs: ca-cert, then cert-chain's entries after it, stopping at a root.
  const chain = [cert];
  for (const p of chainPem) {
    const c = new X509Certificate(p);
    if (c.fingerprint256 === cert.fingerprint256 || roots.some((r) => r.fingerprint256 === c.fingerprint256)) continue;
    chain.push(c);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      throw bad(`cert-chain.pem in ${dir} is not a chain: "${chain[i]!.subject}" is not signed by "${chain[i + 1]!.subject}"`);
    }
  }
  const top = chain[chain.length - 1]!;
  const anchored = roots.some((r) => r.fingerprint256 === top.fingerprint256 || (top.checkIssued(r) && top.verify(r.publicKey)));
  if (!anchored) {
    throw new CaError(CA_ERRORS.ROOT_MISMATCH, `ca-cert.pem in ${dir} does not chain to root-cert.pem: it was issued under the root "${top.issuer.replace(/\n/g, ', ')}", but root-cert.pem holds ${rootsPem.map(describeRoot).join(', ')}; every cluster of one mesh needs an intermediate from the same root (bowline ca intermediate --root DIR)`);
  }
  const isRoot = (c: X509Certificate) => roots.some((r) => r.fingerprint256 === c.fingerprint256);
  return {
    signing: { certPem, keyPem },
    intermediatesPem: chain.filter((c) => !isRoot(c)).map((c) => c.toString()),
    rootsPem,
  };
}
