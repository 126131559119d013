/**
 * The proxy's own small HTTP/1.1 servers (admin, metrics, health) on the proxy's strict request
 * parser (http/request-head.ts, http/chunked.ts) instead of node:http: node:http's client and
 * server modules are ~0.7 MB of resident memory in a proxy that otherwise never loads them
 * (docs/performance.md, Memory). These servers answer a few requests a minute (probes, scrapes,
 * an operator's curl), so clarity wins over speed: one request at a time per connection
 * (pipelined requests wait their turn), the whole body read before the handler runs.
 *
 * What a client sees: HTTP/1.1 responses with Content-Length (no chunked responses), a Date,
 * keep-alive unless the request said `Connection: close` or was HTTP/1.0 without keep-alive,
 * `100 Continue` for `Expect: 100-continue`, HEAD answered with the GET's headers and no body,
 * 400 and close on a malformed head or body, 413 and close on a body over 1 MiB, idle
 * connections closed after `keepAliveMs`, a head that takes longer than 60 s closed.
 * `close()` stops listening and ends every connection, so a proxy that shuts down never waits on
 * an idle client.
 */
import { createServer, type Socket } from 'node:net';
import { HeadError, type Headers } from './http/head.js';
import { BODY_CHUNKED, BODY_LENGTH, parseRequestHead } from './http/request-head.js';
import { ChunkedDecoder } from './http/chunked.js';

/** A request as a local server's handler sees it. */
export interface LocalRequest {
  method: string;
  /** The origin-form target with its query (`/stats?x=1`). */
  url: string;
  headers: Headers;
  body: Buffer;
}

/** A handler's answer. Content-Length is computed from `body`; Date and Connection are added. */
export interface LocalResponse {
  status: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
}

/** Answers one request (thrown errors and rejections become a 500 with the error's text). */
export type LocalHandler = (req: LocalRequest) => LocalResponse | Promise<LocalResponse>;

/** A listening local HTTP server: the port the kernel gave it and a close that ends its connections. */
export interface LocalHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Options of listenLocalHttp. */
export interface LocalHttpOptions {
  /** How long an idle keep-alive connection stays open (default 5000 ms, node:http's default). */
  keepAliveMs?: number;
  /** Largest request head (default 16 KiB, node:http's default). */
  maxHeadBytes?: number;
}

const MAX_BODY = 1 << 20;
const HEAD_TIMEOUT_MS = 60_000;
const REASONS: Record<number, string> = {
  100: 'Continue', 200: 'OK', 204: 'No Content', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 413: 'Payload Too Large', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

/** Listens on `address:port` (port 0: the kernel picks); rejects with the listen error (EADDRINUSE...). */
export function listenLocalHttp(handler: LocalHandler, port: number, address: string, o: LocalHttpOptions = {}): Promise<LocalHttpServer> {
  const keepAliveMs = o.keepAliveMs ?? 5000;
  const maxHead = o.maxHeadBytes ?? 16 * 1024;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    serveConnection(s, handler, keepAliveMs, maxHead);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((r) => { server.close(() => r()); for (const s of sockets) s.destroy(); }),
      });
    });
  });
}

/** The response bytes: status line, the handler's headers, Content-Length, Date, Connection; the body unless HEAD. */
export function serializeResponse(res: LocalResponse, head: boolean, keepAlive: boolean, keepAliveMs = 5000): Buffer {
  const body = res.body === undefined ? Buffer.alloc(0) : typeof res.body === 'string' ? Buffer.from(res.body) : res.body;
  let text = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}\r\n`;
  let length: string | number = body.length;
  for (const [k, v] of Object.entries(res.headers ?? {})) {
    const name = k.toLowerCase();
    if (name === 'content-length') { length = v; continue; } // a HEAD answer may state the GET's length
    if (name === 'connection' || name === 'transfer-encoding' || name === 'date') continue;
    text += `${k}: ${String(v)}\r\n`;
  }
  text += `content-length: ${String(head ? length : body.length)}\r\ndate: ${new Date().toUTCString()}\r\nconnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n`;
  if (keepAlive) text += `keep-alive: timeout=${Math.floor(keepAliveMs / 1000)}\r\n`;
  text += '\r\n';
  return head || body.length === 0 ? Buffer.from(text, 'latin1') : Buffer.concat([Buffer.from(text, 'latin1'), body]);
}

function serveConnection(s: Socket, handler: LocalHandler, keepAliveMs: number, maxHead: number): void {
  let buf: Buffer = Buffer.alloc(0);
  let busy = false;
  let closing = false;
  let headStartedAt = 0;
  let sentContinue = false;
  const continueOnce = (): void => { if (!sentContinue) { sentContinue = true; s.write('HTTP/1.1 100 Continue\r\n\r\n'); } };
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  s.setTimeout(keepAliveMs, () => { if (!busy) s.destroy(); });
  const fail = (status: number): void => {
    closing = true;
    s.end(serializeResponse({ status }, false, false));
  };
  const next = (): void => {
    while (!busy && !closing && buf.length > 0) {
      if (headStartedAt === 0) headStartedAt = Date.now();
      const h = parseRequestHead(buf, 0, buf.length, maxHead);
      if (h === null) {
        if (Date.now() - headStartedAt > HEAD_TIMEOUT_MS) { closing = true; s.destroy(); }
        return;
      }
      if (h instanceof HeadError) { fail(h.status); return; }
      if (h.method === 'CONNECT' || h.path === '*') { fail(400); return; }
      let body: Buffer;
      let rest: number;
      if (h.bodyKind === BODY_LENGTH) {
        if (h.contentLength > MAX_BODY) { fail(413); return; }
        if (h.expectContinue && buf.length === h.headEnd) continueOnce();
        if (buf.length < h.headEnd + h.contentLength) return;
        body = buf.subarray(h.headEnd, h.headEnd + h.contentLength);
        rest = h.headEnd + h.contentLength;
      } else if (h.bodyKind === BODY_CHUNKED) {
        if (h.expectContinue && buf.length === h.headEnd) continueOnce();
        const d = new ChunkedDecoder();
        const parts: Buffer[] = [];
        let size = 0;
        const at = d.push(buf, h.headEnd, buf.length, (b, st, en) => { size += en - st; parts.push(b.subarray(st, en)); });
        if (at < 0) { fail(400); return; }
        if (size > MAX_BODY) { fail(413); return; }
        if (!d.done) return;
        body = Buffer.concat(parts);
        rest = at;
      } else {
        body = Buffer.alloc(0);
        rest = h.headEnd;
      }
      sentContinue = false;
      buf = buf.subarray(rest);
      headStartedAt = 0;
      busy = true;
      const keepAlive = h.keepAlive;
      const isHead = h.method === 'HEAD';
      const done = (res: LocalResponse): void => {
        busy = false;
        if (s.destroyed) return;
        s.write(serializeResponse(res, isHead, keepAlive, keepAliveMs));
        if (!keepAlive) { closing = true; s.end(); return; }
        next();
      };
      let r: LocalResponse | Promise<LocalResponse>;
      try { r = handler({ method: h.method, url: h.path, headers: h.headers, body }); } catch (err) { r = { status: 500, body: String(err) }; }
      if (r instanceof Promise) r.then(done, (err: unknown) => done({ status: 500, body: String(err) }));
      else done(r);
    }
  };
  s.on('data', (chunk: Buffer) => {
    if (closing) return;
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (buf.length > maxHead + MAX_BODY + 64 * 1024) { fail(413); return; } // a client that pipelines without reading
    next();
  });
}
