// Differential tests over real sockets (port 0): our codec as a client against a node:http2
// server, and as a server against node:http2's client, curl (--http2-prior-knowledge) and h2load
// (nghttp2) when installed. Bodies larger than every window (flow control both ways), header
// blocks split into CONTINUATION frames, trailers, resets, GOAWAY, many concurrent streams.
import { spawn } from 'node:child_process';
import { connect as h2connect, createServer as h2server, constants, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H2Connection, type H2Handler } from './connection.js';

interface Response { status: number; headers: string[]; body: Buffer; trailers: string[]; reset?: number }

/** Our client on a socket: `get(headers, body)` resolves with the whole response. */
async function ourClient(port: number) {
  const sock = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r, j) => { sock.once('connect', () => r()); sock.once('error', j); });
  const pending = new Map<number, { res: Response; done: (r: Response) => void }>();
  let onClosed: (why: string) => void = () => {};
  const closed = new Promise<string>((r) => { onClosed = r; });
  let done = 0;
  let waiters: Array<() => void> = [];
  const completed = (): void => { done++; const w = waiters; waiters = []; for (const f of w) f(); };
  const handler: H2Handler = {
    write: (d) => { sock.write(d); },
    onHeaders: (id, h, end) => {
      const p = pending.get(id)!;
      if (p.res.status === 0 && h[0] === ':status') { if (h[1]![0] !== '1') { p.res.status = Number(h[1]); p.res.headers = h.slice(2); } } else p.res.trailers = h;
      if (end) { pending.delete(id); p.done(p.res); completed(); }
    },
    onData: (id, d, end) => {
      const p = pending.get(id)!;
      p.res.body = Buffer.concat([p.res.body, d]);
      conn.consumed(id, d.length);
      if (end) { pending.delete(id); p.done(p.res); completed(); }
    },
    onReset: (id, code) => { const p = pending.get(id); if (p) { pending.delete(id); p.res.reset = code; p.done(p.res); completed(); } },
    onClose: (err) => { onClosed(err?.message ?? 'ok'); sock.end(); },
  };
  const conn = new H2Connection(handler, { role: 'client', connectionWindow: 1 << 20 });
  sock.on('data', (d: Buffer) => conn.receive(d));
  sock.on('close', () => conn.destroy());
  conn.start();
  const request = (headers: string[], body?: Buffer, trailers?: string[]): Promise<Response> => new Promise((resolve) => {
    const id = conn.request([':method', body ? 'POST' : 'GET', ':scheme', 'http', ':authority', `127.0.0.1:${port}`, ...headers], body === undefined);
    pending.set(id, { res: { status: 0, headers: [], body: Buffer.alloc(0), trailers: [] }, done: resolve });
    if (body) {
      conn.sendData(id, body, trailers === undefined);
      if (trailers) conn.respond(id, trailers, true);
    }
  });
  /** Resolves at the next completed request. */
  const next = (): Promise<void> => new Promise((r) => waiters.push(r));
  return { conn, request, next, close: () => { sock.destroy(); }, closed, completed: () => done };
}

const header = (h: string[], name: string): string | undefined => { for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1]; return undefined; };

describe('our client against a node:http2 server', () => {
  let server: Http2Server;
  let port: number;
  beforeAll(async () => {
    server = h2server();
    server.on('stream', (s: ServerHttp2Stream, h) => {
      const path = String(h[':path']);
      s.on('error', () => {});
      if (path === '/reset') { s.close(constants.NGHTTP2_ENHANCE_YOUR_CALM); return; }
      if (path === '/goaway') { s.respond({ ':status': 200 }); s.end('bye'); s.session?.close(); return; }
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => {
        const body = Buffer.concat(chunks);
        if (path === '/big') { s.respond({ ':status': 200, 'x-big': 'b'.repeat(40_000) }); s.end(Buffer.alloc(3 << 20, 7)); return; }
        if (path === '/trailers') {
          s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
          s.end('x');
          return;
        }
        s.respond({ ':status': 201, 'set-cookie': ['a=1', 'b=2'], 'x-echo-len': String(body.length), 'x-method': String(h[':method']), 'x-in': String(h['x-in'] ?? '') });
        s.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('GET, header values (repeated set-cookie, a 40 kB value in CONTINUATION frames) and a 3 MB response body', async () => {
    const c = await ourClient(port);
    const r = await c.request([':path', '/hello', 'x-in', 'v'.repeat(30_000)]);
    expect(r.status).toBe(201);
    expect(header(r.headers, 'x-in')).toBe('v'.repeat(30_000));
    expect(r.headers.filter((_, i) => r.headers[i - 1] === 'set-cookie')).toEqual(['a=1', 'b=2']);
    const big = await c.request([':path', '/big']);
    expect(big.status).toBe(200);
    expect(header(big.headers, 'x-big')).toBe('b'.repeat(40_000));
    expect(big.body.length).toBe(3 << 20);
    c.close();
  });
  it('a 2 MB request body is sent within the server\'s windows and echoed', async () => {
    const c = await ourClient(port);
    const body = Buffer.alloc(2 << 20, 3);
    const r = await c.request([':path', '/echo'], body);
    expect(header(r.headers, 'x-echo-len')).toBe(String(2 << 20));
    expect(r.body.equals(body)).toBe(true);
    c.close();
  });
  it('response trailers (gRPC shape) and request trailers', async () => {
    const c = await ourClient(port);
    const r = await c.request([':path', '/trailers'], Buffer.from('q'), ['x-req-trailer', '1']);
    expect(r.body.toString()).toBe('x');
    expect(r.trailers).toEqual(['grpc-status', '0', 'grpc-message', 'ok']);
    c.close();
  });
  it('a stream the server resets reports its code; the connection goes on', async () => {
    const c = await ourClient(port);
    expect((await c.request([':path', '/reset'])).reset).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect((await c.request([':path', '/after'])).status).toBe(201);
    c.close();
  });
  it('300 concurrent streams (over node\'s 100-stream default is queued by the caller) all complete', async () => {
    const c = await ourClient(port);
    const all: Array<Promise<Response>> = [];
    for (let i = 0; i < 300; i++) {
      while (!c.conn.canRequest) await c.next();
      all.push(c.request([':path', `/n${i}`], Buffer.from(String(i))));
    }
    const rs = await Promise.all(all);
    expect(rs.map((r) => r.body.toString())).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    c.close();
  });
  it('a server GOAWAY (session.close) lets the stream finish, then the connection closes cleanly', async () => {
    const c = await ourClient(port);
    const r = await c.request([':path', '/goaway']);
    expect(r.body.toString()).toBe('bye');
    expect(await c.closed).toBe('ok');
    expect(c.conn.canRequest).toBe(false);
    c.close();
  });
  it('our GOAWAY with nothing in flight closes the connection', async () => {
    const c = await ourClient(port);
    await c.request([':path', '/x']);
    c.conn.goaway();
    expect(await c.closed).toBe('ok');
    c.close();
  });
});

/** Our server on a socket: echoes the request body with a status and the request's method and path; /trailers sends gRPC trailers. */
function ourServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((sock: Socket) => {
    const bodies = new Map<number, { h: string[]; chunks: Buffer[] }>();
    const answer = (id: number): void => {
      const b = bodies.get(id)!;
      bodies.delete(id);
      const path = header(b.h, ':path') ?? '';
      const body = Buffer.concat(b.chunks);
      conn.respond(id, [':status', '200', 'x-method', header(b.h, ':method') ?? '', 'x-path', path, 'content-length', String(path === '/trailers' ? 2 : body.length)], false);
      if (path === '/trailers') { conn.sendData(id, Buffer.from('ok'), false); conn.respond(id, ['grpc-status', '0'], true); } else conn.sendData(id, body, true);
    };
    const handler: H2Handler = {
      write: (d) => { sock.write(d); },
      onHeaders: (id, h, end, oversized) => {
        if (oversized) { conn.respond(id, [':status', '431'], true); return; }
        if (!bodies.has(id)) bodies.set(id, { h, chunks: [] });
        if (end) answer(id);
      },
      onData: (id, d, end) => { bodies.get(id)?.chunks.push(d); conn.consumed(id, d.length); if (end) answer(id); },
      onReset: (id) => { bodies.delete(id); },
      onClose: () => { sock.end(); },
    };
    const conn = new H2Connection(handler, { role: 'server', connectionWindow: 1 << 20 });
    sock.on('data', (d: Buffer) => conn.receive(d));
    sock.on('close', () => conn.destroy());
    sock.on('error', () => {});
    conn.start();
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as AddressInfo).port })));
}

describe('our server against node:http2\'s client, curl and h2load', () => {
  let srv: { server: Server; port: number };
  beforeAll(async () => { srv = await ourServer(); });
  afterAll(() => new Promise<void>((r) => srv.server.close(() => r())));

  it('node:http2: GET, a 3 MB POST echoed, trailers', async () => {
    const s = h2connect(`http://127.0.0.1:${srv.port}`);
    const call = (headers: Record<string, string>, body?: Buffer): Promise<{ h: Record<string, unknown>; body: Buffer; trailers: Record<string, unknown> }> => new Promise((resolve, reject) => {
      const req = s.request(headers, { endStream: body === undefined });
      let h: Record<string, unknown> = {};
      let trailers: Record<string, unknown> = {};
      const chunks: Buffer[] = [];
      req.on('response', (x) => { h = x; });
      req.on('trailers', (x) => { trailers = x; });
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => resolve({ h, body: Buffer.concat(chunks), trailers }));
      req.on('error', reject);
      if (body) req.end(body);
    });
    const g = await call({ ':path': '/a?b=1' });
    expect(g.h[':status']).toBe(200);
    expect(g.h['x-path']).toBe('/a?b=1');
    const body = Buffer.alloc(3 << 20, 9);
    const p = await call({ ':path': '/up', ':method': 'POST' }, body);
    expect(p.body.equals(body)).toBe(true);
    const t = await call({ ':path': '/trailers' });
    expect(t.trailers['grpc-status']).toBe('0');
    await new Promise<void>((r) => s.close(() => r()));
  });

  /** Runs a tool asynchronously (our server lives in this process); undefined when it is not installed. */
  const tool = (cmd: string, args: string[]): Promise<string | undefined> => new Promise((resolve) => {
    const c = spawn(cmd, args);
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.on('error', () => resolve(undefined));
    c.on('close', () => resolve(out));
  });

  it('curl --http2-prior-knowledge gets the response', async () => {
    const out = await tool('curl', ['-sS', '-m', '20', '--http2-prior-knowledge', '-d', 'hello', '-D', '-', `http://127.0.0.1:${srv.port}/curl`]);
    if (out === undefined) return; // curl not installed here (CI installs it)
    expect(out).toMatch(/^HTTP\/2 200/);
    expect(out).toMatch(/x-path: \/curl/);
    expect(out.endsWith('hello')).toBe(true);
  });

  it('h2load: 2000 requests over 2 connections x 20 streams all succeed', async () => {
    const out = await tool('h2load', ['-n', '2000', '-c', '2', '-m', '20', '-t', '1', `http://127.0.0.1:${srv.port}/load`]);
    if (out === undefined) return; // h2load not installed here (CI installs nghttp2-client)
    expect(out).toMatch(/requests: 2000 total, 2000 started, 2000 done, 2000 succeeded/);
  });
});
