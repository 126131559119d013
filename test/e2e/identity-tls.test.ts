import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type Server } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, MemoryCaStorage, parseKek, rootCertificateHash } from '../../src/ca/index.js';
import { LiveCredentials } from '../../src/proxy/identity/credentials.js';
import { IDENTITY_ERRORS } from '../../src/proxy/identity/errors.js';
import { describeTlsError, verifyRootPin } from '../../src/proxy/identity/verify.js';
import { waitFor } from '../support/wait.js';
import { issue, mtlsCall, mtlsServer, workload } from './identity-harness.js';

// Real TLS on loopback between workloads whose certificates come from Bowline's CA.
const kek = parseKek(Buffer.alloc(32, 2), 'test');
const TD = { trustDomain: 'cluster.local' };
const WEB = 'spiffe://cluster.local/ns/default/sa/web';
let now = Date.now();
let storage: MemoryCaStorage;
let ca: CertificateAuthority;
let web: LiveCredentials;
const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

beforeAll(async () => {
  storage = new MemoryCaStorage();
  const start = Date.now() - 2 * 24 * 3600_000; // the root predates the backdated test certificates
  now = start;
  ca = await CertificateAuthority.open({ storage, kek, now: () => now, workloadLifetimeMs: 3600_000 });
  now = Date.now();
  web = await workload(ca, 'default', 'web');
});

async function serve(expect = TD) {
  const s = await mtlsServer(web, expect);
  servers.push(s.server);
  return s;
}

describe('mTLS with SPIFFE identities from the CA', () => {
  it('accepts a SPIFFE-only certificate on both sides and tells the server who called', async () => {
    const s = await serve();
    const client = await workload(ca, 'shop', 'cart');
    expect(await mtlsCall(s.port, client, { ...TD, allowedIds: [WEB] })).toBe('hello cluster.local/ns/shop/sa/cart\n');
    expect(s.verdicts).toEqual([{ ok: true, spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart', principal: 'cluster.local/ns/shop/sa/cart' }]);
  });

  it('refuses a certificate from another CA, on either side, with the reason', async () => {
    const s = await serve();
    const otherCa = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
    const stranger = await workload(otherCa, 'shop', 'cart');
    expect(await mtlsCall(s.port, new LiveCredentials({ ...(await issue(otherCa, 'shop', 'cart')), trustBundlePem: ca.trustBundlePem() }), TD)).toBe('');
    expect(s.verdicts[0]).toMatchObject({ ok: false, code: IDENTITY_ERRORS.PEER_UNTRUSTED });
    // The stranger, trusting only its own root, refuses our server.
    const err = await mtlsCall(s.port, stranger, TD).then(() => undefined, (e: unknown) => e);
    expect(describeTlsError(err).code).toBe(IDENTITY_ERRORS.PEER_UNTRUSTED);
  });

  it('refuses the wrong trust domain even when the root is shared', async () => {
    const s = await serve();
    const sameRootOtherDomain = await CertificateAuthority.open({ storage, kek, trustDomain: 'evil.example' });
    const client = await workload(sameRootOtherDomain, 'default', 'web');
    expect(await mtlsCall(s.port, client, TD)).toBe('');
    expect(s.verdicts[0]).toMatchObject({ ok: false, code: IDENTITY_ERRORS.PEER_TRUST_DOMAIN, reason: expect.stringContaining('evil.example') });
    // And the client refuses a server in another trust domain.
    const err = await mtlsCall(s.port, client, { trustDomain: 'evil.example' }).then(() => undefined, (e: unknown) => e);
    expect((err as { code?: string }).code).toBe(IDENTITY_ERRORS.PEER_TRUST_DOMAIN);
  });

  it('refuses a server that is not the identity the destination runs as', async () => {
    const s = await serve();
    const client = await workload(ca, 'shop', 'cart');
    const err = await mtlsCall(s.port, client, { ...TD, allowedIds: ['spiffe://cluster.local/ns/default/sa/db'] }).then(() => undefined, (e: unknown) => e);
    expect((err as { code?: string }).code).toBe(IDENTITY_ERRORS.PEER_IDENTITY);
  });

  it('refuses expired and not-yet-valid certificates', async () => {
    const s = await serve();
    now = Date.now() - 3 * 3600_000;
    const expired = await workload(ca, 'shop', 'old');
    now = Date.now() + 3 * 3600_000;
    const future = await workload(ca, 'shop', 'early');
    now = Date.now();
    expect(await mtlsCall(s.port, expired, TD)).toBe('');
    expect(await mtlsCall(s.port, future, TD)).toBe('');
    expect(s.verdicts.map((v) => !v.ok && v.code)).toEqual([IDENTITY_ERRORS.PEER_EXPIRED, IDENTITY_ERRORS.PEER_NOT_YET_VALID]);
  });

  it('refuses a client without a certificate and survives a garbage handshake; other connections are unaffected', async () => {
    const s = await serve();
    await new Promise<void>((resolve) => {
      const c = tlsConnect({ host: '127.0.0.1', port: s.port, ca: ca.trustBundlePem(), checkServerIdentity: () => undefined });
      c.on('error', () => resolve());
      c.on('close', () => resolve());
      c.resume();
    });
    expect(s.verdicts[0]).toMatchObject({ ok: false, code: IDENTITY_ERRORS.PEER_NO_CERTIFICATE });
    const raw = netConnect(s.port, '127.0.0.1', () => raw.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    raw.on('error', () => {});
    await waitFor(() => s.handshakeErrors.length > 0, { what: 'tlsClientError' });
    expect(s.handshakeErrors[0]).toBe(IDENTITY_ERRORS.HANDSHAKE);
    const client = await workload(ca, 'shop', 'cart');
    expect(await mtlsCall(s.port, client, TD)).toBe('hello cluster.local/ns/shop/sa/cart\n');
  });

  it('pins the root on first contact: the token hash matches, another root does not', async () => {
    const { claims } = ca.createToken({ ns: 'shop', sa: 'cart', ttlMs: 60_000 });
    expect(verifyRootPin(ca.trustBundlePem(), claims.root)).toHaveLength(1);
    expect(rootCertificateHash(ca.trustBundlePem())).toBe(claims.root);
    const otherCa = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
    expect(() => verifyRootPin(otherCa.trustBundlePem(), claims.root)).toThrow(expect.objectContaining({ code: IDENTITY_ERRORS.ROOT_PIN_MISMATCH }));
  });
});
