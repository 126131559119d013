import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.js';
import { derToPem } from './der.js';
import { CA_ERRORS } from './errors.js';
import { parseKek } from './kek.js';
import { createRootCa, type CaKeyPair } from './root.js';
import { MemoryCaStorage } from './storage.js';
import { makeCsr } from './testing/csr.js';
import { x509 } from './x509-provider.js';
import { tempDir } from '../../test/support/temp.js';

const kek = parseKek(Buffer.alloc(32, 7), 'test');
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** An intermediate CA signed by `root` (what a multi-cluster operator hands each cluster). */
async function intermediate(root: CaKeyPair): Promise<CaKeyPair> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const rootKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(root.keyPem).export({ format: 'der', type: 'pkcs8' }), alg, false, ['sign']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a01', subject: 'O=cluster.local, CN=cluster-east intermediate', issuer: new x509.X509Certificate(root.certPem).subject,
    notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 365 * 24 * 3600_000),
    publicKey: keys.publicKey, signingKey: rootKey, signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: derToPem(Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY') };
}

function cacertsDir(files: Record<string, string>): string {
  const dir = tempDir('bowline-cacerts-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('cacerts (user-supplied CA)', () => {
  it('signs from an intermediate: leaf chain includes it, two clusters share the root', async () => {
    const root = await createRootCa({ trustDomain: 'cluster.local' });
    const east = await intermediate(root);
    const west = await intermediate(root);
    const open = (ic: CaKeyPair) => CertificateAuthority.open({
      storage: new MemoryCaStorage(), kek,
      cacertsDir: cacertsDir({ 'ca-cert.pem': ic.certPem, 'ca-key.pem': ic.keyPem, 'root-cert.pem': root.certPem, 'cert-chain.pem': ic.certPem + root.certPem }),
    });
    const [a, b] = [await open(east), await open(west)];
    expect(a.mode).toBe('cacerts');
    expect(a.trustBundlePem()).toBe(b.trustBundlePem());
    expect(a.signingRootPem()).toBe(root.certPem);
    const id = 'spiffe://cluster.local/ns/default/sa/web';
    const issued = a.signCsr((await makeCsr({ uris: [id] })).csrPem, id);
    expect(issued.chainPem).toBe(issued.certificatePem + east.certPem);
    const leaf = new X509Certificate(issued.certificatePem);
    expect(leaf.verify(new X509Certificate(east.certPem).publicKey)).toBe(true);
    // Cluster west accepts east's workload as one of its own.
    expect(b.identityFromCertificate(issued.chainPem)).toBe(id);
  });

  it('accepts a root used directly as ca-cert', async () => {
    const root = await createRootCa({ trustDomain: 'cluster.local' });
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, cacertsDir: cacertsDir({ 'ca-cert.pem': root.certPem, 'ca-key.pem': root.keyPem, 'root-cert.pem': root.certPem }) });
    const id = 'spiffe://cluster.local/ns/a/sa/b';
    expect(ca.signCsr((await makeCsr({ uris: [id] })).csrPem, id).chainPem).not.toContain(root.certPem);
  });

  it('refuses files that do not fit together, naming the problem', async () => {
    const root = await createRootCa({ trustDomain: 'cluster.local' });
    const other = await createRootCa({ trustDomain: 'cluster.local' });
    const ic = await intermediate(root);
    const openDir = (files: Record<string, string>) => CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, cacertsDir: cacertsDir(files) });
    await expect(openDir({ 'ca-cert.pem': ic.certPem, 'ca-key.pem': other.keyPem, 'root-cert.pem': root.certPem })).rejects.toMatchObject({ code: CA_ERRORS.CACERTS_INVALID, message: expect.stringContaining('does not belong') });
    await expect(openDir({ 'ca-cert.pem': ic.certPem, 'ca-key.pem': ic.keyPem, 'root-cert.pem': other.certPem })).rejects.toMatchObject({ code: CA_ERRORS.ROOT_MISMATCH, message: expect.stringContaining('does not chain') });
    await expect(openDir({ 'ca-cert.pem': ic.certPem, 'ca-key.pem': ic.keyPem })).rejects.toMatchObject({ code: CA_ERRORS.CACERTS_INVALID, message: expect.stringContaining('root-cert.pem') });
  });
});
