import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.js';
import { cacertsFromSecret } from './cacerts-secret.js';
import { CA_ERRORS } from './errors.js';
import { createIntermediateCa } from './intermediate.js';
import { parseKek } from './kek.js';
import { createRootCa, parseCacerts } from './root.js';
import { sealSecretData } from './secrets.js';
import { MemoryCaStorage } from './storage.js';
import { makeCsr } from './testing/csr.js';
import { tempDir } from '../../test/support/temp.js';

const kek = parseKek(Buffer.alloc(32, 9), 'test');

function dirOf(files: Record<string, string>): string {
  const dir = tempDir('bowline-ic-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function sign(ca: CertificateAuthority, id: string): Promise<string> {
  return ca.signCsr((await makeCsr({ uris: [id] })).csrPem, id).chainPem;
}

describe('per-cluster intermediates under one root', () => {
  it('writes the four cacerts files; two clusters sign chains the other verifies', async () => {
    const root = await createRootCa({ trustDomain: 'cluster.local' });
    const east = await createIntermediateCa({ root, cluster: 'east' });
    const west = await createIntermediateCa({ root, cluster: 'west' });
    const ic = new X509Certificate(east['ca-cert.pem']);
    expect(ic.ca).toBe(true);
    expect(ic.subject).toContain('east');
    expect(ic.checkIssued(new X509Certificate(root.certPem))).toBe(true);
    expect(east['cert-chain.pem']).toBe(east['ca-cert.pem'] + east['root-cert.pem']);
    const a = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, cacertsDir: dirOf({ ...east }) });
    const b = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, cacertsDir: dirOf({ ...west }) });
    const chain = await sign(a, 'spiffe://cluster.local/ns/default/sa/greeter');
    expect(chain).toContain(east['ca-cert.pem'].trim());
    expect(b.identityFromCertificate(chain)).toBe('spiffe://cluster.local/ns/default/sa/greeter');
    expect(a.trustBundlePem()).toBe(b.trustBundlePem());
  });

  it('refuses an intermediate under another root, naming both roots', async () => {
    const root = await createRootCa({ trustDomain: 'cluster.local' });
    const other = await createRootCa({ trustDomain: 'cluster.local' });
    const east = await createIntermediateCa({ root: other, cluster: 'east' });
    let err: unknown;
    try {
      parseCacerts({ ...east, 'root-cert.pem': root.certPem, 'cert-chain.pem': east['ca-cert.pem'] }, 'DIR');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: CA_ERRORS.ROOT_MISMATCH });
    const msg = (err as Error).message;
    expect(msg).toContain(new X509Certificate(other.certPem).subject.replace(/\n/g, ', '));
    expect(msg).toContain(new X509Certificate(root.certPem).fingerprint256.slice(0, 23));
  });
});

describe('the cacerts Secret', () => {
  it('plugs in without a restart: old and new roots trusted for one certificate lifetime, then the old one leaves', async () => {
    let now = Date.now();
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(() => now), kek, now: () => now, workloadLifetimeMs: 3600_000, skewMs: 0 });
    const oldRoot = ca.trustBundlePem();
    const before = await sign(ca, 'spiffe://cluster.local/ns/a/sa/b');
    const root = await createRootCa({ trustDomain: 'cluster.local' });
    const files = await createIntermediateCa({ root, cluster: 'c1' });
    const b64 = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    const secret = sealSecretData(kek, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' } }, b64);
    let changes = 0;
    ca.onChange(() => changes++);
    ca.plugIn(cacertsFromSecret(kek, secret as never));
    expect(ca.source).toBe('cacerts-secret');
    expect(changes).toBe(1);
    expect(ca.trustBundlePem()).toBe(root.certPem + oldRoot);
    const after = await sign(ca, 'spiffe://cluster.local/ns/a/sa/b');
    expect(after).toContain(files['ca-cert.pem'].trim());
    expect(ca.identityFromCertificate(before)).toBe('spiffe://cluster.local/ns/a/sa/b');
    now += 3600_000 + 1;
    expect(ca.trustBundlePem()).toBe(root.certPem);
    expect(ca.identityFromCertificate(await sign(ca, 'spiffe://cluster.local/ns/a/sa/b'))).toBe('spiffe://cluster.local/ns/a/sa/b');
    expect(ca.identityFromCertificate(before)).toBeUndefined();
    ca.plugIn(undefined);
    expect(ca.source).toBe('generated');
    expect(ca.trustBundlePem()).toBe(oldRoot + root.certPem);
  });

  it('a Secret missing a file is refused with its name', async () => {
    const root = await createRootCa({ trustDomain: 'cluster.local' });
    const secret = sealSecretData(kek, { metadata: { name: 'cacerts', namespace: 'istio-system' } }, { 'ca-cert.pem': Buffer.from(root.certPem).toString('base64') });
    expect(() => cacertsFromSecret(kek, secret as never)).toThrow(/ca-key.pem is missing in Secret istio-system\/cacerts/);
  });
});
