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
 * Nothing else is served: the admin endpoints stay on 127.0.0.1. Served by local-http.ts (the
 * proxy's own small HTTP/1.1 server); node:http (or node:https) is loaded by the first HTTP (HTTPS)
 * probe only.
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { listenLocalHttp, type LocalHttpServer, type LocalRequest, type LocalResponse } from './local-http.js';

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
    // node:http / node:https (and node's TLS with it) are required by the first probe of their kind only.
    const require = createRequire(import.meta.url);
    const req = (https ? (require('node:https') as typeof Https).request : (require('node:http') as typeof Http).request)({
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
  const text = (status: number, body: string): LocalResponse => ({ status, headers: { 'content-type': 'text/plain' }, body });
  const handle = async (req: LocalRequest): Promise<LocalResponse> => {
    const path = req.url.split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { allow: 'GET' } };
    if (path === '/healthz/ready') {
      const notReady = o.ready();
      return text(notReady ? 503 : 200, notReady ? `${notReady}\n` : 'ready\n');
    }
    const prober = Object.hasOwn(o.probers, path) ? o.probers[path] : undefined;
    if (!prober) return text(404, `no probe at ${path}\n`);
    const failed = await runProber(prober);
    return text(failed ? 503 : 200, failed ? `${failed}\n` : 'ok\n');
  };
  return listenLocalHttp(handle, o.port, o.address);
}
