import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { Agent, createServer, request, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { CA_ERRORS, CertificateAuthority, MemoryCaStorage, parseKek } from '../../src/ca/index.js';
import type { LiveCredentials } from '../../src/proxy/identity/credentials.js';
import { IDENTITY_ERRORS } from '../../src/proxy/identity/errors.js';
import { CertificateRotator, type RotationClock } from '../../src/proxy/identity/rotation.js';
import { spiffeServerIdentityCheck, verifyPeerSocket } from '../../src/proxy/identity/verify.js';
import { issue, mtlsCall, mtlsServer, workload } from './identity-harness.js';

const kek = parseKek(Buffer.alloc(32, 4), 'test');
const TD = { trustDomain: 'cluster.local' };
const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

/** Real time for TLS, but renewal timers that fire only when the test says so. */
class SteppedClock implements RotationClock {
  offset = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  now = () => Date.now() + this.offset;
  setTimeout = (fn: () => void, ms: number) => { this.timers.set(++this.seq, { at: this.now() + ms, fn }); return this.seq; };
  clearTimeout = (h: unknown) => { this.timers.delete(h as number); };
  /** Jumps renewal time forward by `ms` and fires what became due. */
  step(ms: number): void {
    this.offset += ms;
    for (const [id, t] of [...this.timers]) if (t.at <= this.now()) { this.timers.delete(id); t.fn(); }
  }
}

/** An HTTPS server with live workload credentials that answers with the caller's principal and certificate serial. */
async function httpsWorkload(live: LiveCredentials): Promise<{ server: Server; port: number }> {
  const server = createServer({ ...live.serverOptions() }, (req, res) => {
    const sock = req.socket as TLSSocket;
    const v = verifyPeerSocket(sock, TD);
    if (!v.ok) return void res.writeHead(403).end(v.code);
    res.end(`${v.principal} ${sock.getPeerCertificate().serialNumber}`);
  });
  live.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { server, port: (server.address() as AddressInfo).port };
}

describe('workload certificate rotation', () => {
  it('renews both sides under a steady request loop with zero failed requests; established connections keep going', async () => {
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek, workloadLifetimeMs: 10 * 60_000 });
    const clock = new SteppedClock();
    const serverLive = await workload(ca, 'default', 'web');
    const clientLive = await workload(ca, 'shop', 'cart');
    const rotations = { server: 0, client: 0 };
    const rotators = [
      new CertificateRotator({ live: serverLive, clock, renew: () => issue(ca, 'default', 'web'), onRotated: () => rotations.server++ }),
      new CertificateRotator({ live: clientLive, clock, renew: () => issue(ca, 'shop', 'cart'), onRotated: () => rotations.client++ }),
    ];
    rotators.forEach((r) => r.start());
    closers.push(() => rotators.forEach((r) => r.stop()));
    const { port } = await httpsWorkload(serverLive);
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    closers.push(() => agent.destroy());

    const serverSerials = new Set<string>();
    const clientSerials = new Set<string>();
    const failures: string[] = [];
    let reusedOldConnection = false;
    const call = (fresh: boolean) => new Promise<void>((resolve) => {
      const opts: RequestOptions & ConnectionOptions = {
        host: '127.0.0.1', port, path: '/', agent: fresh ? false : agent,
        secureContext: clientLive.secureContext(), checkServerIdentity: spiffeServerIdentityCheck({ ...TD, allowedIds: ['spiffe://cluster.local/ns/default/sa/web'] }),
      };
      const req = request(opts as RequestOptions, (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body}`);
          clientSerials.add(body.split(' ')[1]!);
          serverSerials.add(serial);
          const current = new X509Certificate(serverLive.current()!.chainPem).serialNumber;
          if (!fresh && serial.toLowerCase() !== current.toLowerCase()) reusedOldConnection = true;
          resolve();
        });
      });
      req.on('error', (e) => { failures.push(String(e)); resolve(); });
      req.end();
    });

    const total = 240;
    let sent = 0;
    const worker = async () => {
      while (sent < total) {
        const n = sent++;
        if (n > 0 && n % 40 === 0) clock.step(6 * 60_000); // past half-life (5 min +- 1 min): both renew
        await call(n % 3 === 0);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(failures).toEqual([]);
    expect(rotations.server).toBeGreaterThanOrEqual(5);
    expect(rotations.client).toBeGreaterThanOrEqual(5);
    expect(serverSerials.size).toBeGreaterThanOrEqual(4);
    expect(clientSerials.size).toBeGreaterThanOrEqual(4);
    expect(reusedOldConnection).toBe(true);
  });
});

describe('root rotation', () => {
  it('trusts old and new roots during the overlap, and refuses old-root certificates after finish', async () => {
    const storage = new MemoryCaStorage();
    const ca = await CertificateAuthority.open({ storage, kek });
    expect(ca.rotationPhase()).toBe('steady');
    await expect(ca.finishRootRotation()).rejects.toMatchObject({ code: CA_ERRORS.ROTATION_STATE });
    const oldRoot = ca.trustBundlePem();
    const a = await workload(ca, 'default', 'a'); // signed by the old root

    await ca.startRootRotation();
    expect(ca.rotationPhase()).toBe('issuing-from-new');
    expect(ca.trustBundlePem().startsWith(oldRoot)).toBe(true);
    const b = await workload(ca, 'default', 'b'); // signed by the new root, trusts both
    expect(new X509Certificate(b.current()!.chainPem).checkIssued(new X509Certificate(oldRoot))).toBe(false);
    a.update({ ...a.current()!, trustBundlePem: ca.trustBundlePem() }); // the push delivers the new bundle

    const sa = await mtlsServer(a, TD);
    const sb = await mtlsServer(b, TD);
    closers.push(() => sa.server.close(), () => sb.server.close());
    expect(await mtlsCall(sa.port, b, TD)).toBe('hello cluster.local/ns/default/sa/b\n');
    expect(await mtlsCall(sb.port, a, TD)).toBe('hello cluster.local/ns/default/sa/a\n');

    // A restarted control plane sees the same phase and bundle.
    const restarted = await CertificateAuthority.open({ storage, kek });
    expect(restarted.rotationPhase()).toBe('issuing-from-new');
    expect(restarted.trustBundlePem()).toBe(ca.trustBundlePem());

    // a's certificate (old root) is still valid: finish is refused unless forced.
    await expect(ca.finishRootRotation()).rejects.toMatchObject({ code: CA_ERRORS.ROTATION_STATE });
    await ca.finishRootRotation({ force: true });
    expect(ca.rotationPhase()).toBe('steady');
    const c = await workload(ca, 'default', 'c'); // trusts only the new root
    const sc = await mtlsServer(c, TD);
    closers.push(() => sc.server.close());
    expect(await mtlsCall(sc.port, b, TD)).toBe('hello cluster.local/ns/default/sa/b\n');
    expect(await mtlsCall(sc.port, a, TD)).toBe('');
    expect(sc.verdicts.map((v) => (v.ok ? 'ok' : v.code))).toEqual(['ok', IDENTITY_ERRORS.PEER_UNTRUSTED]);
  });

  it('can add the new root to the bundle first and switch signing later', async () => {
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
    const before = ca.signingRootPem();
    await ca.startRootRotation({ issueFromNew: false });
    expect(ca.rotationPhase()).toBe('trusting-new');
    expect(ca.signingRootPem()).toBe(before);
    await ca.issueFromNewRoot();
    expect(ca.signingRootPem()).not.toBe(before);
    await expect(ca.startRootRotation()).rejects.toMatchObject({ code: CA_ERRORS.ROTATION_STATE });
  });
});
