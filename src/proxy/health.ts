/**
 * The proxy's health port (Istio's 15021, `bowline proxy --health-port`), reachable by the
 * kubelet on the pod's address:
 * - `GET /healthz/ready`: 200 once the proxy runs a configuration from the control plane and is
 *   not draining (the injected proxy container's readiness probe);
 * - `GET /app-health/CONTAINER/readyz|livez|startupz`: the app's own probe, which the injector
 *   moved here (`--app-probers JSON`, path -> `{httpGet|tcpSocket, timeoutSeconds}`): the proxy
 *   runs it against 127.0.0.1 from inside the pod, where capture does not touch its traffic, and
 *   answers 200 when it passed, 503 with the reason when not. A kubelet probe sent to the app's
 *   port directly would be captured (and meet mTLS, or, for TCP, always connect to the proxy).
 * Nothing else is served: the admin endpoints stay on 127.0.0.1.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { listenLocalHttp, type LocalHttpServer } from './local-http.js';

/** One moved probe, as the injector wrote it. */
export interface AppProber {
  httpGet?: { path?: string; port: number; scheme?: string; host?: string; httpHeaders?: Array<{ name: string; value: string }> };
  /** `host` (a WorkloadGroup probe's; default 127.0.0.1). */
  tcpSocket?: { port: number; host?: string };
  timeoutSeconds?: number;
}

/** Parses `--app-probers` JSON; throws with the reason when it is not a map of probers. */
export function parseAppProbers(text: string): Record<string, AppProber> {
  let v: unknown;
  try { v = JSON.parse(text); } catch (err) { throw new Error(`--app-probers is not JSON: ${(err as Error).message}`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('--app-probers must be a JSON object: {"/app-health/C/readyz": {"httpGet": {...}}}');
  for (const [path, p] of Object.entries(v as Record<string, AppProber>)) {
    const port = p?.httpGet?.port ?? p?.tcpSocket?.port;
    if (!path.startsWith('/app-health/') || !Number.isInteger(port) || port! < 1 || port! > 65535) throw new Error(`--app-probers: "${path}" needs a path under /app-health/ and an httpGet or tcpSocket with a numeric port`);
  }
  return v as Record<string, AppProber>;
}

/** Runs one prober; resolves to undefined when it passed, else the reason. */
export function runProber(p: AppProber): Promise<string | undefined> {
  const timeoutMs = Math.max(1, p.timeoutSeconds ?? 1) * 1000;
  return new Promise((resolve) => {
    if (p.tcpSocket) {
      const host = p.tcpSocket.host || '127.0.0.1';
      const s = connect({ host, port: p.tcpSocket.port, timeout: timeoutMs });
      s.once('connect', () => { s.destroy(); resolve(undefined); });
      s.once('timeout', () => { s.destroy(); resolve(`tcp ${host}:${p.tcpSocket!.port}: no connection within ${timeoutMs} ms`); });
      s.once('error', (err) => resolve(`tcp ${host}:${p.tcpSocket!.port}: ${err.message}`));
      return;
    }
    const g = p.httpGet!;
    const https = (g.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/bowline' };
    for (const h of g.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    // node:https (and node's TLS with it) is required by the first HTTPS probe only.
    const req = (https ? (createRequire(import.meta.url)('node:https') as typeof Https).request : httpRequest)({
      host: g.host || '127.0.0.1', port: g.port, path: g.path ?? '/', method: 'GET', headers, timeout: timeoutMs,
      ...(https ? { rejectUnauthorized: false } : {}), // the kubelet does not verify probe certificates either
    }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? undefined : `GET ${g.path ?? '/'} on port ${g.port} answered ${code}`);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (err) => resolve(`GET ${g.path ?? '/'} on port ${g.port}: ${err.message}`));
    req.end();
  });
}

/** The running health listener. */
export type HealthServer = LocalHttpServer;

/** Starts the health listener on `address:port` (port 0: the kernel picks). */
export function startHealthServer(o: { port: number; address: string; ready: () => string | undefined; probers: Record<string, AppProber> }): Promise<HealthServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET' }).end(); return; }
    if (path === '/healthz/ready') {
      const notReady = o.ready();
      res.writeHead(notReady ? 503 : 200, { 'content-type': 'text/plain' }).end(notReady ? `${notReady}\n` : 'ready\n');
      return;
    }
    const prober = Object.hasOwn(o.probers, path) ? o.probers[path] : undefined;
    if (!prober) { res.writeHead(404, { 'content-type': 'text/plain' }).end(`no probe at ${path}\n`); return; }
    const failed = await runProber(prober);
    res.writeHead(failed ? 503 : 200, { 'content-type': 'text/plain' }).end(failed ? `${failed}\n` : 'ok\n');
  };
  const server = createServer((req, res) => { void handle(req, res).catch((err) => { if (!res.headersSent) res.writeHead(500).end(String(err)); }); });
  return listenLocalHttp(server, o.port, o.address);
}
