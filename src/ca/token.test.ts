import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.js';
import { CA_ERRORS } from './errors.js';
import { parseKek } from './kek.js';
import { MemoryCaStorage } from './storage.js';
import { createBootstrapToken, rootCertificateHash, verifyBootstrapToken } from './token.js';
import { createHash } from 'node:crypto';

const key = Buffer.alloc(32, 3);
let rootPem = '';

describe('bootstrap tokens', () => {
  it('carry the identity, expiry, a unique id and the root hash, and verify under the same key', async () => {
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 1), 't') });
    rootPem = ca.trustBundlePem();
    const now = Date.parse('2030-01-01T00:00:00Z');
    const a = createBootstrapToken({ ns: 'shop', sa: 'cart', workload: 'cart-vm-1', ttlMs: 3600_000 }, key, rootPem, now);
    const b = createBootstrapToken({ ns: 'shop', sa: 'cart', ttlMs: 3600_000 }, key, rootPem, now);
    expect(a.claims.jti).not.toBe(b.claims.jti);
    expect(a.claims.root).toBe('sha256:' + createHash('sha256').update(new X509Certificate(rootPem).raw).digest('hex'));
    expect(rootCertificateHash(rootPem)).toBe(a.claims.root);
    const c = verifyBootstrapToken(a.token, key, now + 1000);
    expect(c).toMatchObject({ ns: 'shop', sa: 'cart', wl: 'cart-vm-1', exp: now / 1000 + 3600 });
  });

  it('refuses an expired token', () => {
    const t = createBootstrapToken({ ns: 'shop', sa: 'cart', ttlMs: 60_000 }, key, rootPem, 1_000_000);
    expect(() => verifyBootstrapToken(t.token, key, 1_000_000 + 60_000)).toThrow(expect.objectContaining({ code: CA_ERRORS.TOKEN_EXPIRED }));
  });

  it('refuses a tampered token, one from another key, and garbage', () => {
    const t = createBootstrapToken({ ns: 'shop', sa: 'cart', ttlMs: 60_000 }, key, rootPem, 0);
    const [h, p, s] = t.token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sa: 'admin' })).toString('base64url')}.${s}`;
    expect(() => verifyBootstrapToken(forged, key, 0)).toThrow(expect.objectContaining({ code: CA_ERRORS.TOKEN_INVALID }));
    expect(() => verifyBootstrapToken(t.token, Buffer.alloc(32, 4), 0)).toThrow(expect.objectContaining({ code: CA_ERRORS.TOKEN_INVALID }));
    expect(() => verifyBootstrapToken('a.b', key, 0)).toThrow(expect.objectContaining({ code: CA_ERRORS.TOKEN_INVALID }));
    const noneAlg = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    expect(() => verifyBootstrapToken(noneAlg, key, 0)).toThrow(expect.objectContaining({ code: CA_ERRORS.TOKEN_INVALID }));
  });

  it('are single-use at the CA: a replayed token is refused, an expired one too', async () => {
    let now = Date.now();
    const storage = new MemoryCaStorage(() => now);
    const ca = await CertificateAuthority.open({ storage, kek: parseKek(Buffer.alloc(32, 1), 't'), now: () => now });
    const { token } = ca.createToken({ ns: 'shop', sa: 'cart', workload: 'vm1', ttlMs: 3600_000 });
    await expect(ca.redeemToken(token)).resolves.toEqual({ namespace: 'shop', serviceAccount: 'cart', workload: 'vm1' });
    await expect(ca.redeemToken(token)).rejects.toMatchObject({ code: CA_ERRORS.TOKEN_REPLAYED });
    // A restarted control plane on the same store still remembers the id.
    const again = await CertificateAuthority.open({ storage, kek: parseKek(Buffer.alloc(32, 1), 't'), now: () => now });
    await expect(again.redeemToken(token)).rejects.toMatchObject({ code: CA_ERRORS.TOKEN_REPLAYED });
    const late = ca.createToken({ ns: 'shop', sa: 'cart', ttlMs: 1000 }).token;
    now += 2000;
    await expect(ca.redeemToken(late)).rejects.toMatchObject({ code: CA_ERRORS.TOKEN_EXPIRED });
    expect(ca.counters.refused.get(CA_ERRORS.TOKEN_REPLAYED)).toBe(1);
  });

  it('a join token with --max-uses N bootstraps N workloads, even when they arrive at once, and refuses the next', async () => {
    let now = Date.now();
    const storage = new MemoryCaStorage(() => now);
    const ca = await CertificateAuthority.open({ storage, kek: parseKek(Buffer.alloc(32, 1), 't'), now: () => now });
    const { token, claims } = ca.createToken({ ns: 'bookinfo', sa: 'reviews', ttlMs: 3600_000, maxUses: 3 });
    expect(claims.max).toBe(3);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => ca.redeemToken(token)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as { code: string }).code);
    expect(refused).toEqual([CA_ERRORS.TOKEN_EXHAUSTED, CA_ERRORS.TOKEN_EXHAUSTED]);
    // A restarted control plane on the same store keeps the count.
    const again = await CertificateAuthority.open({ storage, kek: parseKek(Buffer.alloc(32, 1), 't'), now: () => now });
    await expect(again.redeemToken(token)).rejects.toMatchObject({ code: CA_ERRORS.TOKEN_EXHAUSTED, message: expect.stringContaining('--max-uses') });
    expect(() => ca.createToken({ ns: 'bookinfo', sa: 'reviews', ttlMs: 1000, maxUses: 0 })).toThrow(expect.objectContaining({ code: CA_ERRORS.TOKEN_INVALID }));
    // Still bounded in time.
    const late = ca.createToken({ ns: 'bookinfo', sa: 'reviews', ttlMs: 1000, maxUses: 5 }).token;
    now += 2000;
    await expect(ca.redeemToken(late)).rejects.toMatchObject({ code: CA_ERRORS.TOKEN_EXPIRED });
  });
});
