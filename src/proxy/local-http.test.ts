import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { listenLocalHttp, type LocalHandler, type LocalHttpServer, type LocalRequest } from './local-http.js';

interface Res { status: number; headers: Record<string, string>; body: string }

/** A raw client: writes bytes, reads whole responses (Content-Length framed) in order. */
class Client {
  private buf = '';
  private waiters: Array<() => void> = [];
  closed = false;
  constructor(readonly s: Socket) {
    s.setEncoding('latin1');
    s.on('data', (d: string) => { this.buf += d; for (const w of this.waiters.splice(0)) w(); });
    s.on('close', () => { this.closed = true; for (const w of this.waiters.splice(0)) w(); });
  }
  static async open(port: number): Promise<Client> {
    const s = connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new Client(s);
  }
  /** The next response; `head` true for a HEAD request (no body whatever Content-Length says). */
  async next(head = false): Promise<Res> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const lines = this.buf.slice(0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
        if (!/^HTTP\/1\.1 \d{3} /.test(lines[0]!)) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
        const status = Number(lines[0]!.split(' ')[1]);
        const len = head || status === 100 ? 0 : Number(headers['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + len) {
          const body = this.buf.slice(end + 4, end + 4 + len);
          this.buf = this.buf.slice(end + 4 + len);
          return { status, headers, body };
        }
      }
      if (this.closed) throw new Error(`closed with ${JSON.stringify(this.buf)} unread`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async untilClosed(): Promise<string> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.buf;
  }
}

let server: LocalHttpServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

const seen: LocalRequest[] = [];
const echo: LocalHandler = (req) => {
  seen.push(req);
  if (req.url === '/throw') throw new Error('boom');
  if (req.url === '/async') return Promise.resolve({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'later\n' });
  return { status: 200, headers: { 'content-type': 'text/plain', 'x-method': req.method }, body: `${req.method} ${req.url} ${req.body.toString()}|` };
};

async function serve(h: LocalHandler = echo, keepAliveMs?: number): Promise<number> {
  seen.length = 0;
  server = await listenLocalHttp(h, 0, '127.0.0.1', keepAliveMs === undefined ? {} : { keepAliveMs });
  return server.port;
}

describe('listenLocalHttp', () => {
  it('answers requests on a keep-alive connection, pipelined ones in order, with Content-Length', async () => {
    const c = await Client.open(await serve());
    c.s.write('GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n');
    const r1 = await c.next();
    expect(r1).toMatchObject({ status: 200, body: 'GET /a?x=1 |' });
    expect(r1.headers).toMatchObject({ 'content-type': 'text/plain', 'content-length': '12', connection: 'keep-alive' });
    expect(r1.headers.date).toBeTruthy();
    c.s.write('GET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /async HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n');
    expect((await c.next()).body).toBe('GET /b |');
    expect(await c.next()).toMatchObject({ status: 503, body: 'later\n' });
    expect((await c.next()).body).toBe('GET /c |');
    expect(c.closed).toBe(false);
    c.s.destroy();
  });

  it('reads Content-Length and chunked bodies, split across writes, and sends 100 Continue', async () => {
    const c = await Client.open(await serve());
    c.s.write('POST /q HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhe');
    c.s.write('llo');
    expect((await c.next()).body).toBe('POST /q hello|');
    c.s.write('POST /q HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    c.s.write('2\r\nde\r\n0\r\n\r\n');
    expect((await c.next()).body).toBe('POST /q abcde|');
    c.s.write('POST /q HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n');
    expect((await c.next()).status).toBe(100);
    c.s.write('ok');
    expect((await c.next()).body).toBe('POST /q ok|');
    c.s.destroy();
  });

  it('answers HEAD with the GET length and no body', async () => {
    const c = await Client.open(await serve());
    c.s.write('HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n');
    const r = await c.next(true);
    expect(r.headers['content-length']).toBe(String('HEAD /h |'.length));
    expect(r.headers['x-method']).toBe('HEAD');
    expect((await c.next()).body).toBe('GET /after |'); // the HEAD answer carried no body bytes
    c.s.destroy();
  });

  it('closes after Connection: close and after an HTTP/1.0 request', async () => {
    const port = await serve();
    const c = await Client.open(port);
    c.s.write('GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect((await c.next()).headers.connection).toBe('close');
    await c.untilClosed();
    const d = await Client.open(port);
    d.s.write('GET /y HTTP/1.0\r\n\r\n');
    expect((await d.next()).body).toBe('GET /y |');
    await d.untilClosed();
  });

  it('answers 400 and closes on malformed input, and never calls the handler for it', async () => {
    const port = await serve();
    for (const bad of ['GET /x HTTP/1.1\nHost: h\n\n', 'GET /x HTTP/1.1\r\n\r\n', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab',
      'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'BREW /x HTTP/1.1\r\nHost: h\r\n\r\n', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: h\r\n\r\n`]) {
      const c = await Client.open(port);
      c.s.write(bad);
      expect(await c.untilClosed()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    }
    expect(seen).toEqual([]);
  });

  it('answers 413 for a body over 1 MiB and 500 when the handler throws', async () => {
    const port = await serve();
    const c = await Client.open(port);
    c.s.write(`POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: ${(1 << 20) + 1}\r\n\r\n`);
    expect(await c.untilClosed()).toMatch(/^HTTP\/1\.1 413 /);
    const d = await Client.open(port);
    d.s.write('GET /throw HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(await d.next()).toMatchObject({ status: 500, body: 'Error: boom' });
    d.s.destroy();
  });

  it('closes idle keep-alive connections after keepAliveMs, and every connection on close()', async () => {
    const port = await serve(echo, 50);
    const c = await Client.open(port);
    c.s.write('GET /x HTTP/1.1\r\nHost: h\r\n\r\n');
    expect((await c.next()).headers['keep-alive']).toBe('timeout=0');
    await c.untilClosed();
    await server!.close();
    const port2 = await serve(echo, 60_000);
    const d = await Client.open(port2);
    d.s.write('GET /x HTTP/1.1\r\nHost: h\r\n\r\n');
    await d.next();
    await server!.close();
    server = undefined;
    await d.untilClosed();
  });
});
