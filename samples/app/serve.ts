// The process shell every sample app shares: flags, one log line per request, 400 for
// malformed input, no crash on a bad request, clean exit on SIGTERM.
import http from 'node:http';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A request handler of a sample app; thrown errors become JSON error replies. */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** An error with the HTTP status to answer; thrown by handlers for bad input. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Writes a JSON reply. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Reads a request body, refusing more than `limit` bytes with 413. */
export async function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The path and query of a request, or a 400 when its target is not a valid origin-form path. */
export function requestUrl(req: http.IncomingMessage): URL {
  const target = req.url ?? '/';
  let url: URL;
  try {
    url = new URL(target, 'http://sample.invalid');
    decodeURIComponent(url.pathname);
  } catch {
    throw new HttpError(400, 'malformed request target');
  }
  return url;
}

/** Wraps a handler in a server that logs one line per request and turns every error into a reply. */
export function createAppServer(name: string, handler: Handler, log: (line: string) => void = (l) => process.stdout.write(l + '\n')): http.Server {
  const server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    const started = performance.now();
    res.on('close', () => {
      const ms = (performance.now() - started).toFixed(1);
      log(`${new Date().toISOString()} ${name} ${req.method} ${req.url} ${res.headersSent ? res.statusCode : '-'} ${ms}ms`);
    });
    const fail = (err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError)) log(`${name}: error handling ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`);
      if (res.headersSent) { res.destroy(); return; }
      sendJson(res, status, { error: err instanceof HttpError ? err.message : 'internal error' });
    };
    try {
      Promise.resolve(handler(req, res)).catch(fail);
    } catch (err) {
      fail(err);
    }
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

/** Listens and resolves to the bound port (use port 0 for any free port). */
export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/**
 * Listens on the socket the parent process sends over IPC: this process asks with
 * `{type: 'send-sockets'}`, the parent answers `{type: 'listen'}` with the socket, then
 * `{type: 'listen-end'}` (`bowline demo` does this). The parent bound the port and held it until
 * now, so no other process could take it. Resolves to the port; the IPC channel closes at the end.
 */
export function listenOnParentSocket(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('--socket-from-parent needs an IPC channel to the parent process'));
    const onMessage = (msg: { type?: string }, handle: unknown): void => {
      if (msg?.type === 'listen' && handle) {
        server.once('error', reject);
        server.listen(handle as Parameters<http.Server['listen']>[0], () => {
          server.off('error', reject);
          resolve((server.address() as { port: number }).port);
        });
      } else if (msg?.type === 'listen-end') {
        process.off('message', onMessage);
        setImmediate(() => process.disconnect?.()); // not inside the delivery of queued messages (Node 20 throws there)
      }
    };
    process.on('message', onMessage);
    process.send({ type: 'send-sockets' });
  });
}

/** Closes a server: stops accepting, ends idle keep-alive connections, then all after `graceMs`. */
export function shutdown(server: http.Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}

/** True when `moduleUrl` is the script node was started with (so a module can also be imported). */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}

/** How a sample app's process starts: its name, default port, extra flags and handler factory. */
export interface AppSpec<O extends NonNullable<ParseArgsConfig['options']>> {
  name: string;
  defaultPort: number;
  options?: O;
  usage?: string;
  create(values: Record<string, string | boolean | undefined>): Handler;
}

/** Parses `--port`/`--host` (and env PORT/HOST), starts the app, and stops cleanly on SIGTERM/SIGINT. */
export async function runApp<O extends NonNullable<ParseArgsConfig['options']>>(spec: AppSpec<O>, argv = process.argv.slice(2)): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, host: { type: 'string' }, 'socket-from-parent': { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...spec.options },
      allowPositionals: false,
    }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    process.stderr.write(`${spec.name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`Usage: ${spec.name} [--port N] [--host ADDR] [--socket-from-parent]${spec.usage ? ' ' + spec.usage : ''}\n`);
    process.exit(0);
  }
  const portText = (values.port as string | undefined) ?? process.env.PORT ?? String(spec.defaultPort);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    process.stderr.write(`${spec.name}: --port must be an integer 0-65535, got "${portText}"\n`);
    process.exit(2);
  }
  const host = (values.host as string | undefined) ?? process.env.HOST ?? '127.0.0.1';
  let handler: Handler;
  try {
    handler = spec.create(values);
  } catch (err) {
    process.stderr.write(`${spec.name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const server = createAppServer(spec.name, handler);
  process.on('uncaughtException', (err) => process.stderr.write(`${spec.name}: uncaught: ${err.stack ?? err}\n`));
  let bound: number;
  try {
    bound = values['socket-from-parent'] ? await listenOnParentSocket(server) : await listen(server, port, host);
  } catch (err) {
    process.stderr.write(`${spec.name}: cannot listen on ${host}:${port}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${spec.name} listening on http://${host.includes(':') ? `[${host}]` : host}:${bound}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(0);
    stopping = true;
    process.stdout.write(`${spec.name} stopping (${signal})\n`);
    void shutdown(server).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
