// HTTP/2 through two proxies with real clients: node:http2 and `curl --http2-prior-knowledge`,
// h2 over TLS with ALPN, routing/faults/retries on the shared pipeline, trailers, flow control
// with a large body, HTTP/1.1 upstreams behind an HTTP/2 client, and bad input (malformed
// frames, RST_STREAM and SETTINGS floods, a header list over the limit, malformed requests).
import { execFile } from 'node:child_process';
import { connect as h2connect, createServer as h2server, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { createServer as httpServer, request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Route } from '../../src/proxy-config/types.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { cluster, config, listener, makePki, onStop, proxy, secretsFor, stopAll, type Pki } from './protocols-harness.js';
import { waitFor } from '../support/wait.js';
import { HpackEncoder } from '../../src/proxy/h2/wire/hpack.js';
import { attack, END_HEADERS, END_STREAM, ERR, frame as rawFrame, opening, T } from '../support/h2-frames.js';

let h2Port = 0;
let h1Port = 0;
let pki: Pki;
const seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
let failNext = 0;

beforeAll(async () => {
  pki = makePki({ gateway: 'DNS:gw.test', client: 'URI:spiffe://cluster.local/ns/default/sa/client' });
  const srv = h2server();
  srv.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    seen.push({ path: String(headers[':path']), headers });
    const path = String(headers[':path']);
    if (path.startsWith('/flaky') && failNext > 0) {
      failNext--;
      stream.respond({ ':status': 503 }, { endStream: true });
      return;
    }
    if (path.startsWith('/refuse') && failNext > 0) {
      failNext--;
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (path.startsWith('/echo')) {
      const h = createHash('sha256');
      let n = 0;
      stream.on('data', (d: Buffer) => { h.update(d); n += d.length; });
      stream.on('end', () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-digest': h.digest('hex'), 'x-bytes': String(n) }));
        stream.end('ok');
      });
      return;
    }
    if (path.startsWith('/big')) {
      stream.respond({ ':status': 200 });
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      let left = 160; // 10 MB
      const pump = (): void => { while (left > 0) { left--; if (!stream.write(chunk)) { stream.once('drain', pump); return; } } stream.end(); };
      pump();
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-upstream': 'h2' });
    stream.end(JSON.stringify({ path, authority: headers[':authority'], proto: 'h2' }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  h2Port = (srv.address() as { port: number }).port;
  onStop({ close: () => new Promise<void>((r) => srv.close(() => r())) });
  const h1 = httpServer((req, res) => { req.resume(); req.on('end', () => res.end(JSON.stringify({ path: req.url, proto: 'h1', host: req.headers.host }))); });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  h1Port = (h1.address() as { port: number }).port;
  onStop({ close: () => new Promise<void>((r) => { h1.closeAllConnections(); h1.close(() => r()); }) });
}, 30_000);
afterAll(stopAll);

function routeTable(routes: Route[]) {
  return [{ name: 'rt', virtualHosts: [{ name: 'all', domains: ['*'], routes }] }];
}

/** Sidecar B (inbound, h2c) in front of the upstream, and sidecar A (outbound, h2c) in front of B. */
async function twoProxies(routes: Route[], upstream: Partial<Cluster> = {}): Promise<{ a: RunningProxy; b: RunningProxy; url: string }> {
  const b = await proxy(config([listener('in', [{ name: 'h', http: { routeConfig: 'rt' } }], { direction: 'inbound' })],
    [cluster('app', [upstream.protocol === 'http1' ? h1Port : h2Port], { protocol: 'http2', ...upstream }), cluster('h1app', [h1Port], { protocol: 'http1' })], { routes: routeTable([{ route: { destinations: [{ cluster: 'app', weight: 1 }] } }]) }));
  const a = await proxy(config([listener('out', [{ name: 'h', http: { routeConfig: 'rt' } }])],
    [cluster('b', [b.ports.listeners.in!], { protocol: 'http2' }), cluster('h1app', [h1Port], { protocol: 'http1' })], { routes: routeTable(routes) }));
  return { a, b, url: `http://127.0.0.1:${a.ports.listeners.out!}` };
}

async function get(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':method': body ? 'POST' : 'GET', ...headers }, { endStream: body === undefined });
    let status = 0;
    let hs: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    let text = '';
    req.on('response', (h) => { status = Number(h[':status']); hs = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (d: Buffer) => { text += d.toString(); });
    req.on('end', () => resolve({ status, headers: hs, body: text, trailers }));
    req.on('error', reject);
    if (body) req.end(body);
  });
}

const to = (c: string, extra: Partial<NonNullable<Route['route']>> = {}): Route['route'] => ({ destinations: [{ cluster: c, weight: 1 }], ...extra });

describe('HTTP/2 through two proxies', () => {
  it('serves node:http2 clients over h2c, multiplexed, on the shared pipeline', async () => {
    const { url, a } = await twoProxies([{ route: to('b') }]);
    const s = h2connect(url);
    onStop({ close: () => s.close() });
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => get(s, `/item/${i}`)));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(rs.map((r) => JSON.parse(r.body).path)).toEqual(Array.from({ length: 20 }, (_, i) => `/item/${i}`));
    expect(rs[0]!.headers['x-upstream']).toBe('h2');
    const last = seen[seen.length - 1]!;
    expect(last.headers['x-request-id']).toBeDefined();
    expect(last.headers['x-forwarded-for']).toContain('127.0.0.1');
    expect(a.stats.requestsTotal).toBe(20);
    expect(a.stats.responses2xx).toBe(20);
  });

  it('waits for a late HTTP/2 preface on an HTTP-only port (no fall back to HTTP/1.1)', async () => {
    const { url } = await twoProxies([{ route: to('b') }]);
    const port = Number(new URL(url).port);
    const { connect: rawConnect } = await import('node:net');
    const sock = rawConnect({ host: '127.0.0.1', port });
    await new Promise((r) => sock.once('connect', r));
    await new Promise((r) => setTimeout(r, 300)); // longer than the detection timeout
    const s = h2connect(url, { createConnection: () => sock });
    onStop({ close: () => s.close() });
    expect((await get(s, '/late')).status).toBe(200);
  });

  it('works with curl --http2-prior-knowledge', async () => {
    const { url } = await twoProxies([{ route: to('b') }]);
    const out = await new Promise<string>((resolve, reject) => execFile('curl', ['-sS', '--http2-prior-knowledge', '-o', '-', '-w', '\n%{http_version} %{http_code}', url + '/curl'], (err, stdout) => (err ? reject(err) : resolve(stdout))));
    expect(out).toContain('"path":"/curl"');
    expect(out.trim().endsWith('2 200')).toBe(true);
  });

  it('routes, answers NR/direct/fault locally, and retries a 503 and a refused stream', async () => {
    const { url, a } = await twoProxies([
      { match: [{ uri: { prefix: '/direct' } }], directResponse: { status: 418, body: 'teapot' } },
      { match: [{ uri: { prefix: '/abort' } }], route: to('b'), fault: { abort: { httpStatus: 555, percentage: 100 } } },
      { match: [{ uri: { prefix: '/flaky' } }, { uri: { prefix: '/refuse' } }], route: to('b', { retries: { attempts: 2, retryOn: ['5xx', 'refused-stream'] } }) },
      { match: [{ uri: { prefix: '/h1' } }], route: to('h1app') },
    ]);
    const s = h2connect(url);
    onStop({ close: () => s.close() });
    expect((await get(s, '/nothing-matches')).status).toBe(404);
    expect(await get(s, '/direct')).toMatchObject({ status: 418, body: 'teapot' });
    expect((await get(s, '/abort')).status).toBe(555);
    failNext = 1;
    expect((await get(s, '/flaky')).status).toBe(200);
    failNext = 1;
    expect((await get(s, '/refuse')).status).toBe(200);
    expect(a.stats.upstreamRetries).toBe(2);
    // An HTTP/2 client, an HTTP/1.1 upstream.
    expect(JSON.parse((await get(s, '/h1/x')).body)).toMatchObject({ proto: 'h1', path: '/h1/x' });
  });

  it('streams a 10 MB request and a 10 MB response with flow control, passing trailers', async () => {
    const { url } = await twoProxies([{ route: to('b') }]);
    const s = h2connect(url);
    onStop({ close: () => s.close() });
    const body = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const r = await get(s, '/echo', { te: 'trailers' }, body);
    expect(r.status).toBe(200);
    expect(r.trailers['x-bytes']).toBe(String(body.length));
    expect(r.trailers['x-digest']).toBe(createHash('sha256').update(body).digest('hex'));
    const big = await get(s, '/big');
    expect(big.body.length).toBe(160 * 64 * 1024);
  });

  it('negotiates h2 by ALPN on a TLS chain', async () => {
    const gw = await proxy(config([listener('gw', [{ name: 'https', tls: { certificateSecret: 'gateway', alpn: ['h2', 'http/1.1'] }, http: { routeConfig: 'rt' } }], { direction: 'gateway' })],
      [cluster('app', [h2Port], { protocol: 'http2' })], { routes: routeTable([{ route: to('app') }]), secrets: secretsFor(pki, 'gateway') }));
    const s = h2connect(`https://127.0.0.1:${gw.ports.listeners.gw!}`, { ca: pki.caPem, servername: 'gw.test' });
    onStop({ close: () => s.close() });
    const r = await get(s, '/tls');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).path).toBe('/tls');
    const last = seen[seen.length - 1]!;
    expect(last.headers['x-forwarded-proto']).toBe('https');
  });
});

describe('HTTP/2 over mutual TLS', () => {
  it('requires a verified client certificate and reaches the pipeline with the peer identity', async () => {
    const seenPeers: string[] = [];
    const gw = await proxy(config([listener('gw', [{ name: 'mtls', tls: { certificateSecret: 'gateway', validationSecret: 'ca', requireClientCertificate: true, alpn: ['h2'] }, http: { routeConfig: 'rt' } }], { direction: 'gateway' })],
      [cluster('app', [h2Port], { protocol: 'http2' })], { routes: routeTable([{ route: to('app') }]), secrets: secretsFor(pki, 'gateway') }),
    { hooks: { onRequestComplete: (r: { peerIdentity: string }) => seenPeers.push(r.peerIdentity) } });
    const url = `https://127.0.0.1:${gw.ports.listeners.gw!}`;
    const c = pki.leaf('client');
    const s = h2connect(url, { ca: pki.caPem, servername: 'gw.test', cert: c.certPem, key: c.keyPem });
    onStop({ close: () => s.close() });
    expect((await get(s, '/mtls')).status).toBe(200);
    expect(seenPeers).toEqual(['spiffe://cluster.local/ns/default/sa/client']);
    const anon = h2connect(url, { ca: pki.caPem, servername: 'gw.test' });
    anon.on('error', () => {});
    const r = await get(anon, '/anon').catch(() => ({ status: -1 }));
    expect(r.status).not.toBe(200);
    anon.destroy();
    expect((gw.stats as unknown as Record<string, number>).tlsHandshakeFailures).toBe(1);
  });
});

describe('HTTP/1.1 clients toward HTTP/2 upstreams', () => {
  it('bridges to an HTTP/2-only upstream (protocol http2, and h2Upgrade), bodies both ways', async () => {
    const p = await proxy(config([listener('out', [{ name: 'h', http: { routeConfig: 'rt', codec: 'http1' } }])], [
      cluster('h2only', [h2Port], { protocol: 'http2' }),
      cluster('upgraded', [h2Port], { protocol: 'http1', h2Upgrade: true }),
    ], { routes: routeTable([
      { match: [{ uri: { prefix: '/up/' } }], route: to('upgraded') },
      { route: to('h2only') },
    ]) }));
    const port = p.ports.listeners.out!;
    const send = (path: string, body?: Buffer, chunked = false): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const req = (request as typeof import('node:http').request)({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', headers: chunked ? { 'transfer-encoding': 'chunked' } : {} }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      });
      req.on('error', reject);
      if (body) { if (chunked) { req.write(body.subarray(0, 1000)); req.end(body.subarray(1000)); } else req.end(body); } else req.end();
    });
    const r = await send('/plain');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ path: '/plain', proto: 'h2' });
    expect(JSON.parse((await send('/up/x')).body)).toMatchObject({ path: '/up/x', proto: 'h2' });
    const body = Buffer.alloc(300_000, 0x7a);
    const echoes = seen.filter((x) => x.path === '/echo').length;
    expect((await send('/echo', body)).body).toBe('ok');
    expect((await send('/echo', body, true)).body).toBe('ok');
    expect(seen.filter((x) => x.path === '/echo').length).toBe(echoes + 2);
    expect((await send('/big')).body.length).toBe(160 * 64 * 1024);
    expect((p.stats as unknown as Record<string, number>).h2UpstreamSessionsTotal).toBeGreaterThanOrEqual(1);
  });
});

describe('HTTP/2 bad input', () => {
  it('refuses a header list over the limit with 431 and keeps serving', async () => {
    const { url, a } = await twoProxies([{ route: to('b') }]);
    const s = h2connect(url, { maxSendHeaderBlockLength: 1 << 20 } as never);
    onStop({ close: () => s.close() });
    const r = await get(s, '/big-headers', { 'x-big': 'a'.repeat(16 * 1024), 'x-big2': 'b'.repeat(16 * 1024), 'x-big3': 'c'.repeat(16 * 1024), 'x-big4': 'd'.repeat(16 * 1024) }).catch((e: Error) => ({ status: -1, error: e.message }));
    expect([431, -1]).toContain(r.status);
    const again = h2connect(url);
    onStop({ close: () => again.close() });
    expect((await get(again, '/after')).status).toBe(200);
    void a;
  });

  it('resets malformed requests (RFC 9113 8.3) with PROTOCOL_ERROR, never forwards them, and serves the same connection on', async () => {
    const { url, a } = await twoProxies([{ route: to('b') }]);
    const port = Number(new URL(url).port);
    const enc = new HpackEncoder();
    const req = (id: number, extra: string[], path = '/malformed'): Buffer => rawFrame(T.HEADERS, END_STREAM | END_HEADERS, id,
      enc.encode([':method', 'GET', ':scheme', 'http', ':path', path, ':authority', 'svc', ...extra]));
    const before = seen.length;
    const bad: string[][] = [['X-Upper', '1'], ['connection', 'close'], ['te', 'gzip'], ['x-a', ' padded'], ['transfer-encoding', 'chunked']];
    const o = await attack(port, Buffer.concat([opening(), ...bad.map((h, i) => req(2 * i + 1, h)), req(2 * bad.length + 1, [], '/fine')]), 1500);
    for (let i = 0; i < bad.length; i++) expect(o.resets.get(2 * i + 1), bad[i]!.join(': ')).toBe(ERR.PROTOCOL_ERROR);
    expect(o.goaway).toBeUndefined();
    expect(o.responses).toBeGreaterThanOrEqual(1); // the well-formed request on the same connection was answered
    expect(seen.slice(before).map((x) => x.path)).toEqual(['/fine']);
    expect((a.stats as unknown as Record<string, number>).h2ProtocolErrors).toBeGreaterThanOrEqual(bad.length);
  });

  it('closes sessions that send malformed frames or flood RST_STREAM / SETTINGS, without crashing', async () => {
    const { url, a } = await twoProxies([{ route: to('b') }]);
    const port = Number(new URL(url).port);
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
      const h = Buffer.alloc(9);
      h.writeUIntBE(payload.length, 0, 3);
      h[3] = type; h[4] = flags; h.writeUInt32BE(stream, 5);
      return Buffer.concat([h, payload]);
    };
    const settings = frame(4, 0, 0, Buffer.alloc(0));
    const closed = (bytes: Buffer[]): Promise<number> => new Promise((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port });
      let got = 0;
      s.on('data', (d: Buffer) => { got += d.length; });
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      s.write(Buffer.concat([preface, ...bytes]));
      setTimeout(() => s.destroy(), 1000);
    });
    // A DATA frame on stream 0 is a connection error (PROTOCOL_ERROR): GOAWAY and close.
    await closed([settings, frame(0, 0, 0, Buffer.from('x'))]);
    // A frame header claiming 16 MB: FRAME_SIZE_ERROR.
    await closed([settings, Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1])]);
    // 5000 RST_STREAMs on idle streams, then 5000 SETTINGS without waiting for ACKs.
    const rst = Array.from({ length: 5000 }, (_, i) => frame(3, 0, 2 * i + 1, Buffer.from([0, 0, 0, 8])));
    await closed([settings, ...rst]);
    await closed(Array.from({ length: 5000 }, () => settings));
    const st = a.stats as unknown as Record<string, number>;
    // Sessions that hit a protocol error get GOAWAY and are closed (the socket ends once it is flushed).
    await waitFor(() => st.h2SessionsActive === 0, { timeoutMs: 5000 });
    expect(st.h2ProtocolErrors).toBeGreaterThanOrEqual(1);
    const s = h2connect(url);
    onStop({ close: () => s.close() });
    expect((await get(s, '/still-up')).status).toBe(200);
  }, 30_000);
});
