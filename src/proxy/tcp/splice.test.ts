import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, createServer as tlsServer, TLSSocket, type ConnectionOptions } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectTunnel, spliceOptions, spliceTunnel, TUNNEL_READ_BYTES, upstreamOnread, type UpstreamReads } from './splice.js';
import { selfSigned } from '../../../test/support/self-signed.js';

let pem: { cert: string; key: string };
beforeAll(async () => { pem = await selfSigned(); });

const servers: Server[] = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); spliceOptions.straightWrites = true; });

async function listen(s: Server): Promise<number> {
  servers.push(s);
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return (s.address() as AddressInfo).port;
}

/**
 * client -> tunnel (spliceTunnel, as a TcpSession runs it) -> upstream served by `onUp`; the
 * tunnel's two sockets, once spliced. With `tls`, the tunnel terminates the client's TLS (a
 * TLSSocket over the accepted socket, as tls/downstream.ts does) and originates TLS upstream
 * (tls.connect with `upstreamOnread`, as the session does for an upstream TLS cluster).
 */
async function tunnel(onUp: (s: Socket) => void, tls = false): Promise<{ client: Socket; ds: Promise<Socket>; up: Promise<Socket> }> {
  const serve = (s: Socket): void => { s.on('error', () => {}); onUp(s); };
  const upPort = await listen(tls ? tlsServer({ cert: pem.cert, key: pem.key, allowHalfOpen: true }, serve) : createServer({ allowHalfOpen: true }, serve));
  let spliced!: (p: { ds: Socket; up: Socket }) => void;
  const sockets = new Promise<{ ds: Socket; up: Socket }>((r) => { spliced = r; });
  const context = createSecureContext({ cert: pem.cert, key: pem.key });
  const port = await listen(createServer({ allowHalfOpen: true, pauseOnConnect: true }, (raw) => {
    raw.on('error', () => {});
    const start = (ds: Socket): void => {
      ds.allowHalfOpen = true;
      ds.on('error', () => {});
      ds.pause();
      const bind: UpstreamReads = { onRead: () => true };
      const up = tls ? tlsConnect({ host: '127.0.0.1', port: upPort, rejectUnauthorized: false, onread: upstreamOnread(bind) } as ConnectionOptions) : connectTunnel('127.0.0.1', upPort, bind);
      up.allowHalfOpen = true;
      up.on('error', () => {});
      up.once(tls ? 'secureConnect' : 'connect', () => { spliceTunnel(ds, up, bind); spliced({ ds, up }); });
    };
    if (!tls) { start(raw); return; }
    const ds = new TLSSocket(raw, { isServer: true, secureContext: context } as ConstructorParameters<typeof TLSSocket>[1]);
    ds.once('secure', () => { raw.resume(); start(ds); });
  }));
  const client = tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, allowHalfOpen: true } as ConnectionOptions) : connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  client.on('error', () => {});
  await once(client, tls ? 'secureConnect' : 'connect');
  return { client, ds: sockets.then((s) => s.ds), up: sockets.then((s) => s.up) };
}

/** Bytes a socket holds beyond the kernel's: node's Writable and libuv's write queue. */
function held(s: Socket): number {
  return s.writableLength + ((s as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0);
}

/** Reads `s` slowly (one read, then a pause of one macrotask); checks `bound` at every read; resolves at its end with the SHA-256 and byte count. */
function slowRead(s: Socket, bound: () => void): Promise<{ sha: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  s.on('data', (d: Buffer) => {
    h.update(d);
    bytes += d.length;
    bound();
    s.pause();
    setTimeout(() => s.resume(), 0);
  });
  return new Promise((r) => s.once('end', () => r({ sha: h.digest('hex'), bytes })));
}

/** Writes `total` random bytes in blocks of 256 KiB with backpressure, then FIN; resolves with their SHA-256. */
async function send(s: Socket, total: number): Promise<string> {
  const h = createHash('sha256');
  for (let sent = 0; sent < total;) {
    const b = randomBytes(Math.min(256 * 1024, total - sent));
    h.update(b);
    sent += b.length;
    if (!s.write(b)) await once(s, 'drain');
  }
  s.end();
  return h.digest('hex');
}

const MB = 1024 * 1024;
/** What the tunnel may hold toward a slow reader: one read queued, one more through the Writable. */
const BOUND = 2 * TUNNEL_READ_BYTES;

describe.each([['straight to the handle', true], ['through the Writable', false]])('TCP tunnel splice, writes %s', (_name, straight) => {
  it('moves 24 MB client -> slow upstream in order with bounded memory, and counts the bytes', async () => {
    spliceOptions.straightWrites = straight;
    let got!: Promise<{ sha: string; bytes: number }>;
    let maxHeld = 0;
    const proxied: { up?: Socket } = {};
    const tun = await tunnel((s) => { got = slowRead(s, () => { if (proxied.up) maxHeld = Math.max(maxHeld, held(proxied.up)); }); });
    proxied.up = await tun.up;
    const sent = await send(tun.client, 24 * MB);
    const r = await got;
    expect(r.bytes).toBe(24 * MB);
    expect(r.sha).toBe(sent);
    expect(maxHeld).toBeLessThanOrEqual(BOUND);
    expect((await tun.ds).bytesRead).toBe(24 * MB);
    tun.client.destroy();
  }, 60_000);

  it('moves 24 MB upstream -> slow client in order with bounded memory; bytesWritten counts what the client got', async () => {
    spliceOptions.straightWrites = straight;
    let sent!: Promise<string>;
    const tun = await tunnel((s) => { sent = send(s, 24 * MB); });
    const ds = await tun.ds;
    let maxHeld = 0;
    const r = await slowRead(tun.client, () => { maxHeld = Math.max(maxHeld, held(ds)); });
    expect(r.bytes).toBe(24 * MB);
    expect(r.sha).toBe(await sent);
    expect(maxHeld).toBeLessThanOrEqual(BOUND);
    expect(ds.bytesWritten).toBe(24 * MB);
    tun.client.destroy();
  }, 60_000);

  it('keeps the upstream -> client direction flowing after the client half-closes', async () => {
    spliceOptions.straightWrites = straight;
    let sent!: Promise<string>;
    let upEndedResolve!: (n: number) => void;
    const upEnded = new Promise<number>((r) => { upEndedResolve = r; });
    const tun = await tunnel((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => { n += d.length; });
      // The upstream answers only after the client's FIN, with 4 MB, then its own FIN.
      s.once('end', () => { upEndedResolve(n); sent = send(s, 4 * MB); });
    });
    tun.client.end(Buffer.from('request'));
    expect(await upEnded).toBe(7);
    const r = await slowRead(tun.client, () => {});
    expect(r.bytes).toBe(4 * MB);
    expect(r.sha).toBe(await sent);
    tun.client.destroy();
  }, 60_000);

  it('keeps the client -> upstream direction flowing after the upstream half-closes', async () => {
    spliceOptions.straightWrites = straight;
    let got!: Promise<{ sha: string; bytes: number }>;
    const tun = await tunnel((s) => { got = slowRead(s, () => {}); s.end('greeting'); });
    const greeting: Buffer[] = [];
    tun.client.on('data', (d: Buffer) => greeting.push(d));
    await once(tun.client, 'end');
    expect(Buffer.concat(greeting).toString()).toBe('greeting');
    const sent = await send(tun.client, 4 * MB);
    const r = await got;
    expect(r.bytes).toBe(4 * MB);
    expect(r.sha).toBe(sent);
    tun.client.destroy();
  }, 60_000);

  it('ends the client when the upstream resets, and the upstream when the client resets (both tunnel sockets destroyed)', async () => {
    spliceOptions.straightWrites = straight;
    let upSide!: Socket;
    const a = await tunnel((s) => { upSide = s; });
    const aUp = await a.up;
    const clientEnded = once(a.client, 'end');
    upSide.resetAndDestroy();
    await clientEnded;
    expect((await a.ds).destroyed).toBe(true);
    expect(aUp.destroyed).toBe(true);

    let upEnded!: Promise<unknown>;
    const b = await tunnel((s) => { upEnded = once(s, 'end'); });
    const up = await b.up;
    b.client.resetAndDestroy();
    await upEnded;
    expect(up.destroyed).toBe(true);
    expect((await b.ds).destroyed).toBe(true);
    a.client.destroy();
  }, 60_000);
});

describe('TCP tunnel splice over TLS both sides (terminated downstream, originated upstream)', () => {
  it('moves 8 MB each way to slow readers in order with bounded memory', async () => {
    let got!: Promise<{ sha: string; bytes: number }>;
    let upSent!: Promise<string>;
    const proxied: { up?: Socket } = {};
    let maxHeld = 0;
    const tun = await tunnel((s) => {
      got = slowRead(s, () => { if (proxied.up) maxHeld = Math.max(maxHeld, held(proxied.up)); });
      upSent = send(s, 8 * MB);
    }, true);
    proxied.up = await tun.up;
    const ds = await tun.ds;
    const [sent, back] = await Promise.all([send(tun.client, 8 * MB), slowRead(tun.client, () => { maxHeld = Math.max(maxHeld, held(ds)); })]);
    const r = await got;
    expect(r.bytes).toBe(8 * MB);
    expect(r.sha).toBe(sent);
    expect(back.bytes).toBe(8 * MB);
    expect(back.sha).toBe(await upSent);
    expect(maxHeld).toBeLessThanOrEqual(BOUND);
    tun.client.destroy();
  }, 60_000);
});
