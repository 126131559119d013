/**
 * The proxy's metrics endpoint: `GET /stats/prometheus` (Istio's 15090) renders the registry.
 * With `appMetricsUrl` it is Istio's merged endpoint (15020): the application's own metrics
 * are fetched (with a timeout) and appended, and a failing application only costs its part.
 * `listen` serves it: the proxy passes its own small HTTP/1.1 server (proxy/local-http.ts), so a
 * proxy never loads node:http for it (docs/performance.md, Memory); without `listen`, node:http.
 * node:http's client is loaded by the first fetch of the application's metrics only.
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';
import { TelemetryCodes, TelemetryError } from '../errors.js';
import { EXPOSITION_CONTENT_TYPE } from './exposition.js';
import type { Registry } from './registry.js';

/** Options of startMetricsServer. */
export interface MetricsServerOptions {
  registry: Registry;
  /** Default 15090; 0 picks an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1 (use 0.0.0.0 for Prometheus on another host). */
  host?: string;
  /** The application's metrics URL, e.g. `http://127.0.0.1:9080/metrics` (merged mode). */
  appMetricsUrl?: string;
  /** Timeout for fetching the application's metrics (default 2000 ms). */
  appTimeoutMs?: number;
  /** Serves the handler on port/host (the proxy: its own HTTP/1.1 server); default node:http. */
  listen?: MetricsListen;
}

/** An answer of the metrics endpoint. */
export interface MetricsResponse {
  status: number;
  headers?: Record<string, string | number>;
  body?: string;
}

/** A server for the metrics handler: resolves once it listens (rejects with the listen error). */
export type MetricsListen = (
  handler: (req: { method: string; url: string }) => Promise<MetricsResponse>,
  port: number,
  host: string,
  o: { keepAliveMs: number },
) => Promise<MetricsServer>;

/** A running metrics server. */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Starts the metrics server; resolves once it listens. */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const handle = async (req: { method: string; url: string }): Promise<MetricsResponse> => {
    const path = req.url.split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { allow: 'GET, HEAD' } };
    if (path !== '/stats/prometheus' && path !== '/metrics') {
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found: try /stats/prometheus\n' };
    }
    return { status: 200, headers: { 'content-type': EXPOSITION_CONTENT_TYPE }, body: await render(o) };
  };
  try {
    return await (o.listen ?? listenNodeHttp)(handle, o.port ?? 15090, o.host ?? '127.0.0.1', { keepAliveMs: 65_000 });
  } catch (err) {
    throw new TelemetryError(TelemetryCodes.METRICS_LISTEN, `metrics server could not listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 15090}: ${(err as Error).message}`);
  }
}

/** The default MetricsListen: node:http (loaded here, on first use). */
const listenNodeHttp: MetricsListen = (handler, port, host, { keepAliveMs }) => {
  const http = createRequire(import.meta.url)('node:http') as typeof Http;
  const server = http.createServer((req, res) => {
    void handler({ method: req.method ?? 'GET', url: req.url ?? '/' }).then((r) => {
      const body = r.body ?? '';
      res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.keepAliveTimeout = keepAliveMs;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
      });
    });
  });
};

async function render(o: MetricsServerOptions): Promise<string> {
  const own = o.registry.expose();
  if (!o.appMetricsUrl) return own;
  const app = await fetchText(o.appMetricsUrl, o.appTimeoutMs ?? 2000);
  return app ? `${own}${app.endsWith('\n') ? app : app + '\n'}` : own;
}

/** GETs a URL's body as text; undefined on any failure, non-2xx or timeout. At most 8 MiB. */
function fetchText(url: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let req: Http.ClientRequest;
    try {
      req = (createRequire(import.meta.url)('node:http') as typeof Http).get(url, { timeout: timeoutMs }, (res) => {
        if (!res.statusCode || res.statusCode >= 300) {
          res.resume();
          resolve(undefined);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 8 << 20) {
            req.destroy();
            resolve(undefined);
          } else chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', () => resolve(undefined));
      });
    } catch {
      resolve(undefined);
      return;
    }
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}
