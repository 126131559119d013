// The real push stream on TLS (PushServer + the CA's 15012 listener) and the real proxy side
// (ControlClient, WorkloadIdentity): first certificate with a bootstrap token, renewal with the
// certificate, a hello that speaks for another identity refused, and a root rotation's trust
// bundle pushed to the proxy at once.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../src/api/index.js';
import { CertificateAuthority, createTlsStreamServer, MemoryCaStorage, parseKek } from '../../src/ca/index.js';
import { buildSnapshot } from '../../src/model/snapshot.js';
import { ControlClient, type ControlClientEvent } from '../../src/proxy/control-client/client.js';
import { prepareIdentity } from '../../src/proxy/identity/join.js';
import { caCsrAnswer, caStreamAuth } from '../../src/push/security/stream-auth.js';
import { PushServer } from '../../src/push/server/server.js';
import { waitFor } from '../support/wait.js';

const kek = parseKek(Buffer.alloc(32, 6), 'test');
const closers: Array<() => unknown> = [];
afterEach(async () => { for (const c of closers.splice(0).reverse()) await c(); });

async function controlPlane() {
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
  const snap = buildSnapshot({ configs: [], services: [], endpoints: [], workloads: [], mesh: defaultMeshConfig() });
  const logs: string[] = [];
  const server = new PushServer({
    source: { current: () => snap, onSnapshot: () => () => {} },
    log: (_l, msg, f) => logs.push(`${msg} ${JSON.stringify(f)}`),
    authenticate: caStreamAuth(() => ca),
    onCsr: caCsrAnswer(() => ca),
  });
  const tls = createTlsStreamServer(ca, (s) => server.attach(s));
  tls.listen(0, '127.0.0.1');
  await once(tls, 'listening');
  const unsub = ca.onChange(() => server.broadcast({ type: 'certificate', requestId: '', rootCerts: ca.trustBundlePem() }));
  closers.push(() => { unsub(); tls.close(); return server.close(); });
  return { ca, server, logs, port: (tls.address() as AddressInfo).port };
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
    const liar = await proxyWithToken(cp, 'shop', 'web', { ns: 'shop', sa: 'admin' });
    // First contact has no certificate yet: it gets one for shop/web (its token), then reconnects presenting it.
    await waitFor(() => liar.identity.live.current() !== undefined);
    liar.client.stop();
    liar.client.start();
    await waitFor(() => cp.logs.some((l) => l.includes('BOWLINE_E_PUSH_IDENTITY') && l.includes('spiffe://cluster.local/ns/shop/sa/web')), { what: 'identity refusal' });
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
