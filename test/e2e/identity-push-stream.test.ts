// The real push stream on TLS (PushServer + the CA's 15012 listener) and the real proxy side
// (ControlClient, WorkloadIdentity): first certificate with a bootstrap token, renewal with the
// certificate, a hello that speaks for another identity refused, and a root rotation's trust
// bundle pushed to the proxy at once.
import { once } from 'node:events';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../src/api/index.js';
import { CertificateAuthority, createTlsStreamServer, MemoryCaStorage, parseKek } from '../../src/ca/index.js';
import { buildSnapshot } from '../../src/model/snapshot.js';
import { ControlClient, type ControlClientEvent } from '../../src/proxy/control-client/client.js';
import { prepareIdentity } from '../../src/proxy/identity/join.js';
import { caCsrAnswer, caStreamAuth } from '../../src/push/security/stream-auth.js';
import { PushServer } from '../../src/push/server/server.js';
import { waitFor } from '../support/wait.js';
import { makeCsr } from '../../src/ca/testing/csr.js';
import { PUSH_PROTOCOL_VERSION } from '../../src/proxy-config/wire.js';

const kek = parseKek(Buffer.alloc(32, 6), 'test');
const closers: Array<() => unknown> = [];
afterEach(async () => { for (const c of closers.splice(0).reverse()) await c(); });

async function controlPlane(opts: { allowPlaintext?: boolean; helloTimeoutMs?: number } = {}) {
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
  const snap = buildSnapshot({ configs: [], services: [], endpoints: [], workloads: [], mesh: defaultMeshConfig() });
  const logs: string[] = [];
  const server = new PushServer({
    source: { current: () => snap, onSnapshot: () => () => {} },
    log: (_l, msg, f) => logs.push(`${msg} ${JSON.stringify(f)}`),
    authenticate: caStreamAuth(ca),
    onCsr: caCsrAnswer(ca),
    ...opts,
  });
  const tls = createTlsStreamServer(ca, (s) => server.attach(s));
  tls.listen(0, '127.0.0.1');
  await once(tls, 'listening');
  const plain = await server.listen(0);
  const unsub = ca.onChange(() => server.broadcast({ type: 'certificate', requestId: '', rootCerts: ca.trustBundlePem() }));
  closers.push(() => { unsub(); tls.close(); return server.close(); });
  return { ca, server, logs, port: (tls.address() as AddressInfo).port, plainPort: plain.port };
}

/** A workload certificate with its key, signed by `cp`'s CA (what a proxy holds after first contact). */
async function issued(cp: { ca: CertificateAuthority }, ns: string, sa: string) {
  const { csrPem, keyPem } = await makeCsr({ uris: [`spiffe://cluster.local/ns/${ns}/sa/${sa}`] });
  return { keyPem, chainPem: cp.ca.signCsr(csrPem, { namespace: ns, serviceAccount: sa }).chainPem };
}

/** An attacker's stream: one hello (plaintext, or TLS with the given client certificate or none); resolves with all it received once closed (or after `waitMs`). */
async function rawHello(port: number, who: { id: string; ns: string; sa: string }, tlsOpts?: { key?: string; cert?: string }, waitMs = 3000): Promise<{ text: string; closed: boolean }> {
  const sock = tlsOpts ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...tlsOpts }) : netConnect(port, '127.0.0.1');
  let text = '';
  sock.on('data', (d) => (text += d.toString()));
  sock.on('error', () => {});
  await once(sock, tlsOpts ? 'secureConnect' : 'connect');
  const node = { id: who.id, role: 'sidecar', workload: who.sa, namespace: who.ns, serviceAccount: who.sa, labels: { app: who.sa } };
  sock.write(JSON.stringify({ type: 'hello', protocol: PUSH_PROTOCOL_VERSION, node }) + '\n');
  const closed = await Promise.race([once(sock, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), waitMs))]);
  sock.destroy();
  return { text, closed };
}

async function proxyWithToken(cp: Awaited<ReturnType<typeof controlPlane>>, ns: string, sa: string, helloAs = { ns, sa }) {
  const { token } = cp.ca.createToken({ ns, sa, ttlMs: 600_000 });
  const ref: { c?: ControlClient } = {};
  const joined = await prepareIdentity({ server: { host: '127.0.0.1', port: cp.port }, token, request: (csr, o) => ref.c!.requestCertificate(csr, o), log: () => {} });
  const events: ControlClientEvent[] = [];
  const client = new ControlClient({
    server: `127.0.0.1:${cp.port}`,
    node: { id: `${sa}.${ns}`, role: 'sidecar', workload: sa, namespace: helloAs.ns, serviceAccount: helloAs.sa, labels: {} },
    apply: async () => {},
    connect: joined.connect,
    initialBackoffMs: 50,
    log: () => {},
    onEvent: (e) => { events.push(e); if (e.type === 'connected') joined.identity.onConnected(); },
    onTrustBundle: (pem) => joined.identity.updateTrustBundle(pem),
  });
  ref.c = client;
  client.start();
  closers.push(() => { joined.identity.stop(); client.stop(); });
  return { client, identity: joined.identity, events };
}

describe('identity over the TLS push stream', () => {
  it('first certificate with the token, renewal with the certificate, then a reconnect presents it', async () => {
    const cp = await controlPlane();
    const p = await proxyWithToken(cp, 'shop', 'cart');
    await waitFor(() => p.identity.live.current() !== undefined, { what: 'first certificate' });
    expect(p.identity.live.current()!.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    const first = p.identity.live.current()!.chainPem;
    await p.identity.rotator.rotateNow(); // the token is spent: this CSR is authenticated by the certificate alone
    expect(p.identity.live.current()!.chainPem).not.toBe(first);
    expect(cp.ca.counters.issued).toBe(2);
    expect(p.events.some((e) => e.type === 'applied')).toBe(true);
  });

  it('a proxy whose certificate says shop/cart cannot say hello as another identity', async () => {
    const cp = await controlPlane();
    const honest = await proxyWithToken(cp, 'shop', 'cart');
    await waitFor(() => honest.identity.live.current() !== undefined);
    // A token for shop/web cannot open a stream that says hello as shop/admin: refused at first contact, the token not spent.
    const liar = await proxyWithToken(cp, 'shop', 'web', { ns: 'shop', sa: 'admin' });
    await waitFor(() => cp.logs.some((l) => l.includes('BOWLINE_E_PUSH_UNAUTHENTICATED') && l.includes('spiffe://cluster.local/ns/shop/sa/web')), { what: 'token refusal' });
    expect(liar.identity.live.current()).toBeUndefined();
    expect(liar.events.some((e) => e.type === 'applied')).toBe(false);
    // With a certificate for shop/cart, a hello as shop/admin is refused too.
    const cert = await issued(cp, 'shop', 'cart');
    const r = await rawHello(cp.port, { id: 'admin.shop', ns: 'shop', sa: 'admin' }, { key: cert.keyPem, cert: cert.chainPem });
    expect(r.text).toMatch(/BOWLINE_E_PUSH_IDENTITY/);
    expect(r.text).not.toMatch(/"type":"push"/);
  });

  it('a root rotation step reaches connected proxies at once (two roots trusted)', async () => {
    const cp = await controlPlane();
    const p = await proxyWithToken(cp, 'shop', 'cart');
    await waitFor(() => p.identity.live.current() !== undefined);
    const count = (pem: string) => pem.split('BEGIN CERTIFICATE').length - 1;
    expect(count(p.identity.live.current()!.trustBundlePem)).toBe(1);
    await cp.ca.startRootRotation();
    await waitFor(() => count(p.identity.live.current()!.trustBundlePem) === 2, { what: 'two-root bundle' });
  });
});

describe('push stream authentication (issue 12 item 3)', () => {
  it('a local plaintext client claiming a proxy gets nothing and does not displace the real stream', async () => {
    for (const allowPlaintext of [false, true]) {
      const cp = await controlPlane({ allowPlaintext });
      const real = await proxyWithToken(cp, 'default', 'reviews-v1');
      await waitFor(() => cp.server.status()[0]?.types.mesh?.state === 'SYNCED', { what: 'real proxy SYNCED' });
      const certStreams = () => cp.logs.filter((l) => l.includes('"credential":"certificate"')).length;
      await real.identity.rotator.rotateNow(); // the proxy now holds a certificate; its next stream presents it
      const seen = certStreams();
      real.client.stop();
      real.client.start();
      await waitFor(() => certStreams() > seen, { what: 'certificate stream after the restart' });
      const code = allowPlaintext ? 'BOWLINE_E_PUSH_WEAKER_CREDENTIAL' : 'BOWLINE_E_PUSH_UNAUTHENTICATED';
      // Counted from here: the real proxy's own reconnects (rotation, restart) may still be settling.
      const dropsBefore = cp.server.metrics.drops[code] ?? 0;
      const replacedBefore = cp.server.metrics.drops.BOWLINE_E_PUSH_REPLACED ?? 0;
      const r = await rawHello(cp.plainPort, { id: 'reviews-v1.default', ns: 'default', sa: 'reviews-v1' });
      expect(r.closed).toBe(true);
      expect(r.text).not.toMatch(/"type":"push"/);
      expect(r.text).toMatch(allowPlaintext ? /BOWLINE_E_PUSH_WEAKER_CREDENTIAL/ : /BOWLINE_E_PUSH_UNAUTHENTICATED/);
      // The real stream was not displaced: no stream was replaced, the proxy is still there, and the raw client's refusal is the one counted.
      expect(cp.server.metrics.drops.BOWLINE_E_PUSH_REPLACED ?? 0).toBe(replacedBefore);
      expect(cp.server.status().map((s) => s.id)).toEqual(['reviews-v1.default']);
      expect(cp.server.metrics.drops[code]).toBe(dropsBefore + 1);
    }
  });

  it('a TLS client with a certificate from another CA, or with none and no token, is refused', async () => {
    const cp = await controlPlane({ helloTimeoutMs: 500 });
    const other = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
    const { csrPem, keyPem } = await makeCsr({ uris: ['spiffe://cluster.local/ns/default/sa/reviews-v1'] });
    const forged = other.signCsr(csrPem, { namespace: 'default', serviceAccount: 'reviews-v1' });
    const a = await rawHello(cp.port, { id: 'reviews-v1.default', ns: 'default', sa: 'reviews-v1' }, { key: keyPem, cert: forged.chainPem });
    expect(a.text).toMatch(/BOWLINE_E_PUSH_IDENTITY/);
    expect(a.text).not.toMatch(/"type":"push"/);
    const b = await rawHello(cp.port, { id: 'reviews-v1.default', ns: 'default', sa: 'reviews-v1' }, {});
    expect(b.closed).toBe(true);
    expect(b.text).toMatch(/BOWLINE_E_PUSH_UNAUTHENTICATED/);
    expect(b.text).not.toMatch(/"type":"push"/);
    expect(cp.server.connected).toBe(0);
  });

  it('a CSR refused for its identity does not spend the token', async () => {
    const cp = await controlPlane();
    const { token } = cp.ca.createToken({ ns: 'shop', sa: 'cart', ttlMs: 600_000 });
    const wrong = await makeCsr({ uris: ['spiffe://cluster.local/ns/shop/sa/admin'] });
    await expect(cp.ca.signWithToken(wrong.csrPem, token)).rejects.toMatchObject({ code: 'BOWLINE_E_CA_CSR_IDENTITY' });
    const right = await makeCsr({ uris: ['spiffe://cluster.local/ns/shop/sa/cart'] });
    await expect(cp.ca.signWithToken(right.csrPem, token, { expect: 'spiffe://cluster.local/ns/shop/sa/other' })).rejects.toMatchObject({ code: 'BOWLINE_E_CA_UNAUTHENTICATED' });
    expect((await cp.ca.signWithToken(right.csrPem, token)).spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    await expect(cp.ca.signWithToken(right.csrPem, token)).rejects.toMatchObject({ code: 'BOWLINE_E_TOKEN_REPLAYED' });
  });

  it('a flood of hellos for other identities leaves the real proxies SYNCED', async () => {
    const cp = await controlPlane({ allowPlaintext: true });
    const a = await proxyWithToken(cp, 'default', 'reviews-v1');
    const b = await proxyWithToken(cp, 'default', 'ratings-v1');
    await waitFor(() => cp.server.status().length === 2 && cp.server.status().every((s) => s.types.mesh?.state === 'SYNCED'), { what: 'two SYNCED proxies' });
    let refused = 0;
    const t0 = Date.now();
    for (let round = 0; round < 10; round++) {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => {
        const who = [{ id: 'reviews-v1.default', ns: 'default', sa: 'reviews-v1' }, { id: 'ratings-v1.default', ns: 'default', sa: 'ratings-v1' }][i % 2]!;
        return i % 4 < 2 ? rawHello(cp.plainPort, who, undefined, 2000) : rawHello(cp.port, who, {}, 50);
      }));
      refused += rs.filter((r) => /BOWLINE_E_PUSH_(WEAKER_CREDENTIAL|UNAUTHENTICATED)/.test(r.text)).length;
      for (const r of rs) expect(r.text).not.toMatch(/"type":"push"/);
    }
    console.log(`hello flood: 200 hellos in ${Date.now() - t0} ms, ${refused} refused at once, real proxies disconnected: ${[a, b].map((p) => p.events.filter((e) => e.type === 'disconnected').length).join('/')}`);
    expect(cp.server.status().map((s) => [s.id, s.types.mesh?.state])).toEqual([['ratings-v1.default', 'SYNCED'], ['reviews-v1.default', 'SYNCED']]);
    expect(a.events.filter((e) => e.type === 'disconnected')).toHaveLength(0);
    expect(b.events.filter((e) => e.type === 'disconnected')).toHaveLength(0);
    expect(refused).toBeGreaterThanOrEqual(100);
  });
});
