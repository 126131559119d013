/**
 * The proxy's metrics endpoint: `GET /stats/prometheus` (Istio's 15090) renders the registry.
 * With `appMetricsUrl` it is Istio's merged endpoint (15020): the application's own metrics
 * are fetched (with a timeout) and appended, and a failing application only costs its part.
 */
import http from 'node:http';
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
}

/** A running metrics server. */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Starts the metrics server; resolves once it listens. */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/stats/prometheus' && path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /stats/prometheus\n');
      return;
    }
    void render(o).then((body) => {
      res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TelemetryError(TelemetryCodes.METRICS_LISTEN, `metrics server could not listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 15090}: ${(err as Error).message}`)));
    server.listen(o.port ?? 15090, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function render(o: MetricsServerOptions): Promise<string> {
  const own = o.registry.expose();
  if (!o.appMetricsUrl) return own;
  const app = await fetchText(o.appMetricsUrl, o.appTimeoutMs ?? 2000);
  return app ? `${own}${app.endsWith('\n') ? app : app + '\n'}` : own;
}

/** GETs a URL's body as text; undefined on any failure, non-2xx or timeout. At most 8 MiB. */
function fetchText(url: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let req: http.ClientRequest;
    try {
      req = http.get(url, { timeout: timeoutMs }, (res) => {
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
