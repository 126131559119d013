import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.js';
import { CA_ERRORS } from './errors.js';
import { parseKek } from './kek.js';
import { MemoryCaStorage } from './storage.js';
import { makeCsr } from './testing/csr.js';

const kek = parseKek(Buffer.alloc(32, 7), 'test kek');
const web = { namespace: 'default', serviceAccount: 'web' };
const WEB_ID = 'spiffe://cluster.local/ns/default/sa/web';

async function newCa(over: Partial<Parameters<typeof CertificateAuthority.open>[0]> = {}) {
  const storage = new MemoryCaStorage();
  return { storage, ca: await CertificateAuthority.open({ storage, kek, ...over }) };
}

describe('CertificateAuthority', () => {
  it('never mints a new root silently when the store lost the CA state but holds data (issue 12 item 4)', async () => {
    // The root's record is gone, the token key (written with it) is still there: the state was lost.
    const { storage } = await newCa();
    const lost = new MemoryCaStorage();
    await lost.putRaw('ca/token-key', (await storage.getRaw('ca/token-key'))!.value);
    await expect(CertificateAuthority.open({ storage: lost, kek })).rejects.toMatchObject({ code: CA_ERRORS.STATE_MISSING, message: expect.stringMatching(/--new-root/) });
    // Any other object in the store counts too.
    await expect(CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, storeHasData: async () => true })).rejects.toMatchObject({ code: CA_ERRORS.STATE_MISSING });
    // The operator's explicit choice: a new root.
    const fresh = await CertificateAuthority.open({ storage: lost, kek, allowNewRoot: true });
    expect(fresh.trustBundlePem()).toContain('BEGIN CERTIFICATE');
    // An empty store (first start) needs no flag.
    await expect(CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, storeHasData: async () => false })).resolves.toBeDefined();
  });

  it('creates a P-256 CA root with pathlen and a ten-year life on first start, and reuses it after a restart', async () => {
    const { storage, ca } = await newCa();
    const root = new X509Certificate(ca.trustBundlePem());
    expect(root.ca).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(root.checkIssued(root)).toBe(true);
    const years = (Date.parse(root.validTo) - Date.now()) / (365 * 24 * 3600_000);
    expect(years).toBeGreaterThan(9.9);
    expect(root.toLegacyObject().ext_key_usage).toBeUndefined();
    const stored = await storage.getRaw('ca/state');
    expect(stored!.value).not.toContain('PRIVATE KEY'); // the key is sealed
    const again = await CertificateAuthority.open({ storage, kek });
    expect(again.trustBundlePem()).toBe(ca.trustBundlePem());
  });

  it('stops start-up with a clear message when the key-encryption key cannot decrypt the CA key', async () => {
    const { storage } = await newCa();
    const wrong = parseKek(Buffer.alloc(32, 9), 'file /etc/bowline/other-kek');
    const err = (await CertificateAuthority.open({ storage, kek: wrong }).then(() => undefined, (e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe(CA_ERRORS.KEK_MISMATCH);
    expect(err.message).toContain('file /etc/bowline/other-kek');
    expect(err.message).toMatch(/--ca-kek-file or BOWLINE_CA_KEK/);
  });

  it('signs a CSR for the allowed identity: SPIFFE URI as the only SAN, 24 h default, backdated, chain and bundle included', async () => {
    const now = Date.parse('2030-05-01T12:00:00Z');
    const { ca } = await newCa({ now: () => now });
    const { csrPem } = await makeCsr({ uris: [WEB_ID] });
    const out = ca.signCsr(csrPem, web);
    const leaf = new X509Certificate(out.certificatePem);
    expect(leaf.subjectAltName).toBe(`URI:${WEB_ID}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(new X509Certificate(ca.trustBundlePem()).publicKey)).toBe(true);
    expect(Date.parse(leaf.validTo)).toBe(now + 24 * 3600_000);
    expect(Date.parse(leaf.validFrom)).toBe(now - 5 * 60_000);
    expect(leaf.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(out.chainPem).toBe(out.certificatePem);
    expect(out.spiffeId).toBe(WEB_ID);
    expect(ca.counters.issued).toBe(1);
  });

  it('honours a configured trust domain and lifetime', async () => {
    const { ca } = await newCa({ trustDomain: 'prod.example', workloadLifetimeMs: 3600_000 });
    const id = 'spiffe://prod.example/ns/default/sa/web';
    const out = ca.signCsr((await makeCsr({ uris: [id] })).csrPem, id);
    const leaf = new X509Certificate(out.certificatePem);
    expect(leaf.subjectAltName).toBe(`URI:${id}`);
    expect(out.notAfter - out.notBefore).toBe(3600_000 + 5 * 60_000);
  });

  it('refuses a CSR asking for another identity, extra names, or no identity', async () => {
    const { ca } = await newCa();
    const other = await makeCsr({ uris: ['spiffe://cluster.local/ns/default/sa/admin'] });
    expect(() => ca.signCsr(other.csrPem, web)).toThrow(expect.objectContaining({ code: CA_ERRORS.CSR_IDENTITY, message: expect.stringContaining('allows only ' + WEB_ID) }));
    const extra = await makeCsr({ uris: [WEB_ID], dnsNames: ['bank.example.com'] });
    expect(() => ca.signCsr(extra.csrPem, web)).toThrow(expect.objectContaining({ code: CA_ERRORS.CSR_IDENTITY }));
    const none = await makeCsr({});
    expect(() => ca.signCsr(none.csrPem, web)).toThrow(expect.objectContaining({ code: CA_ERRORS.CSR_IDENTITY }));
    expect(() => ca.signCsr(other.csrPem, 'spiffe://evil.example/ns/default/sa/admin')).toThrow(expect.objectContaining({ code: CA_ERRORS.CSR_IDENTITY }));
    expect(ca.counters.refused.get(CA_ERRORS.CSR_IDENTITY)).toBe(4);
  });

  it('refuses a tampered CSR and garbage', async () => {
    const { ca } = await newCa();
    const { csrPem } = await makeCsr({ uris: [WEB_ID] });
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('sa/web'));
    der.write('sa/adm', at); // ask for another identity without re-signing
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(() => ca.signCsr(tampered, { namespace: 'default', serviceAccount: 'adm' })).toThrow(expect.objectContaining({ code: CA_ERRORS.CSR_INVALID, message: expect.stringContaining('signature does not verify') }));
    expect(() => ca.signCsr('hello', web)).toThrow(expect.objectContaining({ code: CA_ERRORS.CSR_INVALID }));
    expect(() => ca.signCsr(Buffer.from([0x30, 0x82, 0xff]), web)).toThrow(expect.objectContaining({ code: CA_ERRORS.CSR_INVALID }));
  });

  it('issues the control plane serving certificate with DNS and IP SANs from the same root', async () => {
    const { ca } = await newCa();
    const s = ca.issueServingCertificate({ dnsNames: ['bowline.bowline-system.svc', 'localhost'], ips: ['127.0.0.1', '::1'] });
    const leaf = new X509Certificate(s.certificatePem);
    expect(leaf.subjectAltName).toBe('DNS:bowline.bowline-system.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leaf.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(s.keyPem)))).toBe(true);
    expect(leaf.verify(new X509Certificate(ca.trustBundlePem()).publicKey)).toBe(true);
  });

  it('tells the identity a current certificate proves (renewal), and nothing for foreign or expired ones', async () => {
    let now = Date.now();
    const { ca } = await newCa({ now: () => now, workloadLifetimeMs: 3600_000 });
    const { ca: other } = await newCa();
    const csr = (await makeCsr({ uris: [WEB_ID] })).csrPem;
    expect(ca.identityFromCertificate(ca.signCsr(csr, web).chainPem)).toBe(WEB_ID);
    expect(ca.identityFromCertificate(other.signCsr(csr, web).chainPem)).toBeUndefined();
    const cert = ca.signCsr(csr, web).chainPem;
    now += 2 * 3600_000;
    expect(ca.identityFromCertificate(cert)).toBeUndefined();
  });
});
