/**
 * The dashboard of `bowline up`: serves the web UI at /ui/ on the API listener (the
 * bundle `npm run build` puts in dist/ui/) and its JSON API at /ui/api/. Traffic comes from the
 * push stream's window, or from Prometheus with `bowline up --prometheus URL`.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MeshController } from '../mesh/controller.js';
import type { PushServer } from '../push/server/server.js';
import type { Store } from '../store/index.js';
import { handleApi, type ProxiesView, type TrafficSource } from './api.js';
import { prometheusTraffic } from './prometheus.js';

/** The bundle's folder: dist/ui at the package root (this file is src/dashboard/ or dist/dashboard/, two levels down). */
export const UI_DIR = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

/** The cookie the control plane accepts for /ui/ paths (src/control/auth.ts UI_TOKEN_COOKIE). */
const UI_TOKEN_COOKIE = 'bowline_ui_token';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.map': 'application/json' };

/** What the dashboard reads of the running control plane. */
export interface DashboardDeps {
  readonly store: Store;
  /** The push server and mesh controller, when the control plane runs them. */
  readonly push?: { server: PushServer; controller: MeshController };
  /** Every replica's proxies, when this control plane is one of several replicas on a shared store (src/control/replicas). */
  readonly proxies?: () => Promise<ProxiesView>;
  /** Every replica's traffic, when this control plane is one of several replicas on a shared store (src/control/replicas/traffic.ts). */
  readonly traffic?: TrafficSource;
  /** Prometheus base URL to read traffic from instead of the push streams (`bowline up --prometheus`). */
  readonly prometheus?: string;
  /** Who a token is: the admin token or a live API token with its scope (src/control/access.ts), or undefined. */
  authenticate(token: string): Promise<{ scope: string } | undefined>;
  log(line: string): void;
}

/** Serves one file of the bundle; the SPA's index for `/ui/`. */
async function serveStatic(res: ServerResponse, rel: string, dir: string): Promise<void> {
  const file = normalize(join(dir, rel || 'index.html'));
  if (!file.startsWith(dir)) return void res.writeHead(404).end();
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': rel ? 'no-cache' : 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" }).end(body);
  } catch {
    if (!rel || rel === 'index.html') {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`The dashboard is not built: run \`npm run build\` in the bowline package (expected ${dir}index.html).\n`);
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

/** Scopes that may read the dashboard's data (/ui/api/). */
const DASHBOARD_SCOPES = new Set(['admin', 'read-only', 'viewer']);

/** POST /ui/login (form field `token`): the admin token or an API token of scope viewer (or read-only) becomes an HttpOnly cookie for /ui/ only; then back to the page. */
async function login(req: IncomingMessage, res: ServerResponse, authenticate: DashboardDeps['authenticate']): Promise<void> {
  let body = '';
  for await (const c of req) {
    body += String(c);
    if (body.length > 4096) return void res.writeHead(413).end();
  }
  const token = new URLSearchParams(body).get('token')?.trim() ?? '';
  const who = token ? await authenticate(token) : undefined;
  if (!who || !DASHBOARD_SCOPES.has(who.scope)) {
    const why = who ? `That token has scope ${who.scope}, which cannot open the dashboard; use a viewer token (bowline api-token create --scope viewer NAME).` : 'That token is not right (or was revoked or rotated). Go back and paste the token again: a viewer token (bowline api-token create --scope viewer NAME) or, on the control plane host, the admin token (cat ~/.bowline/admin-token).';
    return void res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end(why + '\n');
  }
  res.writeHead(303, { location: '/ui/', 'set-cookie': `${UI_TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/ui/; HttpOnly; SameSite=Strict; Max-Age=2592000` }).end();
}

/** The handler of /ui (the page, its bundle, /ui/login and /ui/api/) on the API listener. */
export function dashboardHandler(cp: DashboardDeps, dir = UI_DIR): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const prom = cp.prometheus ? prometheusTraffic(cp.prometheus) : undefined;
  const traffic = (): TrafficSource | undefined => {
    if (prom) return prom;
    if (!cp.push) return undefined;
    if (cp.traffic) return cp.traffic;
    const w = cp.push.server.stats;
    return { name: 'push', graphEdges: async (ms) => w.graphEdges(ms), series: async (f, ms) => w.series(f, ms) };
  };
  const deps = { store: cp.store, push: () => cp.push, traffic, ...(cp.proxies ? { proxies: cp.proxies } : {}) };
  cp.log(`dashboard: /ui/ on the API listener (traffic from ${prom ? `Prometheus ${cp.prometheus}` : cp.traffic ? 'the proxies\' push streams, every replica\'s' : 'the proxies\' push streams'})`);
  return async (req, res, url) => {
    if (url.pathname === '/ui') return void res.writeHead(301, { location: '/ui/' }).end();
    const rel = url.pathname.slice('/ui/'.length);
    if (rel === 'login' && req.method === 'POST') return login(req, res, (t) => cp.authenticate(t));
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    if (rel.startsWith('api/')) {
      if (!(await handleApi(deps, rel.slice(4), url.searchParams, res))) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no dashboard view ${rel.slice(4)}` }));
      return;
    }
    // Client-side routes (#/graph ...) all load the same page.
    await serveStatic(res, rel.includes('.') ? rel : '', dir);
  };
}
