/**
 * The admin listener (Envoy's admin interface, default 127.0.0.1:15000): /ready,
 * /config_dump, /clusters, /stats, /certs, POST /quitquitquit. Served by local-http.ts (the proxy's
 * own small HTTP/1.1 server, not node:http); everything but /ready and /quitquitquit is JSON.
 */
import type { RunningProxy } from './proxy.js';
import type { ClusterPool } from './upstream/pool.js';
import { listenLocalHttp, type LocalHttpServer, type LocalRequest, type LocalResponse } from './local-http.js';

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

function json(status: number, body: unknown): LocalResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body, null, 2) + '\n' };
}

/** Starts the admin listener. */
export function startAdmin(o: AdminOptions): Promise<AdminServer> {
  let quitting = false;
  const handle = (req: LocalRequest): LocalResponse => {
    const path = req.url.split('?')[0];
    const p = o.proxy;
    switch (path) {
      case '/ready':
        if (quitting) return { status: 503, body: 'DRAINING\n' };
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'LIVE\n' };
      case '/config_dump':
        return json(200, { version: p.current.version, appliedAt: new Date(p.current.appliedAt).toISOString(), ports: p.ports, config: p.current.config });
      case '/clusters': {
        const pools = o.pools();
        return json(200, p.clusters.snapshot().map((c) => ({ ...c, upstreamConnections: pools.get(c.name)?.open ?? 0 })));
      }
      case '/stats':
        return json(200, p.stats.toJSON());
      case '/certs':
        return json(200, o.certs?.() ?? { certificate: null, reason: 'no workload certificate: the proxy was started without --token-file' });
      case '/quitquitquit':
        if (req.method !== 'POST') return { status: 405, headers: { allow: 'POST' }, body: 'use POST\n' };
        if (!quitting) { quitting = true; setImmediate(() => o.onQuit()); }
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'OK\n' };
      default:
        return json(404, { error: 'not found', endpoints: ['/ready', '/config_dump', '/clusters', '/stats', '/certs', 'POST /quitquitquit'] });
    }
  };
  return listenLocalHttp((req) => {
    try { return handle(req); } catch (err) { return json(500, { error: String(err) }); }
  }, o.port, o.address);
}
