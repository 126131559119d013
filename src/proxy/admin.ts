/**
 * The admin listener (Envoy's admin interface, default 127.0.0.1:15000): /ready,
 * /config_dump, /clusters, /stats, /certs, POST /quitquitquit. Not on the data path, so it uses
 * node:http for clarity; everything it serves is JSON.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { RunningProxy } from './proxy.js';
import type { ClusterPool } from './upstream/pool.js';
import { listenLocalHttp, type LocalHttpServer } from './local-http.js';

/** The running admin server. */
export type AdminServer = LocalHttpServer;

/** What the admin server reads from. */
export interface AdminOptions {
  port: number;
  address: string;
  proxy: RunningProxy;
  pools(): Map<string, ClusterPool>;
  /** POST /quitquitquit: drain, then stop. */
  onQuit(): void;
  /** GET /certs: the workload certificate in use (never the key), or undefined without an identity. */
  certs?: () => unknown;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts the admin listener. */
export function startAdmin(o: AdminOptions): Promise<AdminServer> {
  let quitting = false;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const p = o.proxy;
    switch (path) {
      case '/ready':
        if (quitting) { res.writeHead(503).end('DRAINING\n'); return; }
        res.writeHead(200, { 'content-type': 'text/plain' }).end('LIVE\n');
        return;
      case '/config_dump':
        json(res, 200, { version: p.current.version, appliedAt: new Date(p.current.appliedAt).toISOString(), ports: p.ports, config: p.current.config });
        return;
      case '/clusters': {
        const pools = o.pools();
        json(res, 200, p.clusters.snapshot().map((c) => ({ ...c, upstreamConnections: pools.get(c.name)?.open ?? 0 })));
        return;
      }
      case '/stats':
        json(res, 200, p.stats.toJSON());
        return;
      case '/certs':
        json(res, 200, o.certs?.() ?? { certificate: null, reason: 'no workload certificate: the proxy was started without --token-file' });
        return;
      case '/quitquitquit':
        if (req.method !== 'POST') { res.writeHead(405, { allow: 'POST' }).end('use POST\n'); return; }
        res.writeHead(200, { 'content-type': 'text/plain' }).end('OK\n');
        if (!quitting) { quitting = true; setImmediate(() => o.onQuit()); }
        return;
      default:
        json(res, 404, { error: 'not found', endpoints: ['/ready', '/config_dump', '/clusters', '/stats', '/certs', 'POST /quitquitquit'] });
    }
  };
  const server = createServer((req, res) => {
    try { handle(req, res); } catch (err) { json(res, 500, { error: String(err) }); }
  });
  return listenLocalHttp(server, o.port, o.address);
}
