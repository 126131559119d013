/**
 * The HTTP routes of the control plane's API listener (step 6 of control-plane.ts): auth first
 * (loopback, the admin token or a scoped API token), then the mounted parts (CA, push /debug,
 * explain, dashboard; the longest prefix wins), then health, metrics, backup, the config API
 * and its discovery documents.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { caApiHandler, type CertificateAuthority } from '../ca/index.js';
import { dashboardHandler } from '../dashboard/handler.js';
import type { MeshController } from '../mesh/controller.js';
import { pushDebugHandlers } from '../push/debug.js';
import { authnHandler } from '../push/security/authn-check.js';
import type { PushServer } from '../push/server/server.js';
import type { RegistryStatus } from '../registry/registry.js';
import type { Store } from '../store/index.js';
import { EXPOSITION_CONTENT_TYPE } from '../telemetry/metrics/exposition.js';
import { scopeAllows, scopeNeeded, type Caller } from './access.js';
import type { AuditLog } from './audit.js';
import { uiTokenCookie } from './auth.js';
import { handleAuthApi, type AuthApiDeps } from './auth-api.js';
import { parseResourcePath, type ConfigApi } from './config-api.js';
import { replicaDebugHandler } from './replicas/debug.js';
import type { ReplicaParts } from './replicas/peers.js';
import { gatherProxies } from './replicas/proxies.js';
import { sharedFor } from './replicas/shared.js';
import { replicaTrafficSource } from './replicas/traffic.js';
import { serveDiscovery } from './discovery.js';
import { explainHandler } from './explain/handler.js';
import type { Metrics } from './metrics.js';
import { serveOpenApiV3 } from './openapi.js';
import { serveOpenApiV2 } from './openapi-v2.js';
import { ApiError, noSuchPath, sendError, sendJson } from './status.js';
import { kubernetesVersion } from './version.js';

/** A handler mounted under a path prefix (e.g. `/debug/`); it owns the whole response. */
export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

/** A path prefix and what serves it. */
export interface Mount {
  prefix: string;
  handler: Handler;
}

/** Paths without the admin token: health, and the CA's two proxy-facing endpoints (the trust bundle is public and
 *  pinned by the proxy; a certificate request carries its own credential, a bootstrap token or a workload certificate). */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/livez', '/v1/ca/trust-bundle', '/v1/ca/certificates']);

/** The parts of the control plane that serve paths of their own; each one absent mounts nothing. */
export interface MountedParts {
  store: Store;
  ca?: CertificateAuthority;
  push?: { server: PushServer; controller: MeshController; registries(): RegistryStatus[]; multiCluster?: Handler; replicas?: ReplicaParts };
  dashboard?: { uiDir?: string; prometheus?: string; authenticate(token: string): Promise<{ scope: string } | undefined> };
  log(line: string): void;
}

/** The mounts of the parts that run: the CA's /v1/tokens and /v1/ca/, push's /debug/* and /registry/v1/manual, explain, the dashboard's /ui. */
export function partMounts(p: MountedParts): Mount[] {
  const mounts: Mount[] = [];
  if (p.ca) {
    const ca = caApiHandler(p.ca);
    mounts.push({ prefix: '/v1/tokens', handler: ca }, { prefix: '/v1/ca/', handler: ca });
  }
  if (p.push) {
    const { server, controller, registries, replicas } = p.push;
    const local = pushDebugHandlers({ server, controller, store: p.store, registries, ...(replicas ? { replica: replicas.self.id } : {}) });
    // Replicas on a shared store: syncz and config_dump answer for every replica's proxies, statsz with every replica's traffic (src/control/replicas/debug.ts).
    const debug = replicas ? replicaDebugHandler({ self: replicas.self, server, local, peers: replicas.peers, snapshotVersion: () => controller.current().version }) : local;
    const handler: Handler = async (req, res, url) => {
      if (!(await debug(req, res, url))) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound', message: `no such path ${url.pathname}` }) + '\n');
    };
    for (const prefix of ['/debug/syncz', '/debug/config_dump', '/debug/statsz', '/debug/registryz', '/debug/configz', '/registry/v1/manual']) mounts.push({ prefix, handler });
    mounts.push({ prefix: '/debug/authenticationz', handler: authnHandler(controller) });
    mounts.push({ prefix: '/debug/explain', handler: explainHandler({ server, controller, ...(replicas ? { replicas } : {}) }) });
    if (p.push.multiCluster) for (const prefix of ['/v1/registry', '/v1/clusters']) mounts.push({ prefix, handler: p.push.multiCluster });
  }
  if (p.dashboard) {
    const d = p.dashboard;
    const replicas = p.push?.replicas;
    const server = p.push?.server;
    // Replicas on a shared store: the dashboard lists every replica's proxies, as /debug/syncz does; one gathering
    // serves every page and viewer for 2 s (the pages poll every 3 s).
    const proxies = replicas && server ? sharedFor(2000, async () => {
      const all = await gatherProxies(replicas.self, server.statusWithCertificates(), replicas.peers);
      return { proxies: all.proxies, replicas: all.replicas, unreachableReplicas: all.unreachable, ...(all.peersUnknown ? { peersUnknown: all.peersUnknown } : {}) };
    }) : undefined;
    // And the traffic every replica's proxies reported, for the graph and service pages (each proxy reports to the replica holding its stream).
    const traffic = replicas && server ? replicaTrafficSource(replicas.self, server.stats, replicas.peers) : undefined;
    const deps = { store: p.store, ...(p.push ? { push: { server: p.push.server, controller: p.push.controller } } : {}), ...(proxies ? { proxies } : {}), ...(traffic ? { traffic } : {}), ...(d.prometheus ? { prometheus: d.prometheus } : {}), authenticate: d.authenticate, log: p.log };
    mounts.push({ prefix: '/ui', handler: d.uiDir ? dashboardHandler(deps, d.uiDir) : dashboardHandler(deps) });
  }
  return mounts;
}

/** What the API listener's request handling needs. */
export interface ApiRouteDeps {
  home: string;
  /** Every call but OPEN_PATHS needs a credential (not loopback, or --require-token). */
  needAuth: boolean;
  requireToken: boolean;
  /** The host the API is bound to (named in the 401). */
  listenHost: string;
  store: Store;
  metrics: Metrics;
  api: ConfigApi;
  audit: AuditLog;
  authApi: AuthApiDeps;
  authenticate(token: string): Promise<Caller | undefined>;
  mounts: Mount[];
  log(line: string): void;
}

/** The API listener's request handler: every error becomes a Kubernetes-style Status. */
export function apiRequestListener(d: ApiRouteDeps): RequestListener {
  return (req, res) => {
    void serve(d, req, res).catch((err) => {
      if (err instanceof ApiError) return sendError(res, err);
      d.log(`api: internal error on ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent) sendError(res, new ApiError(500, 'InternalError', `internal error: ${(err as Error)?.message ?? String(err)}`));
      else res.destroy();
    });
  };
}

async function serve(d: ApiRouteDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://bowline.invalid');
  } catch {
    throw new ApiError(400, 'BadRequest', 'malformed request URL');
  }
  const path = url.pathname.replace(/\/+$/, '') || '/';
  d.metrics.inc('bowline_api_requests_total', 'Config API requests by method', { method: req.method ?? 'GET' });
  let caller: Caller = d.needAuth ? { kind: 'anonymous', scope: 'none' } : { kind: 'local', scope: 'admin' };
  d.audit.track(req, res, path, () => caller);
  // A bearer token, or on /ui/ paths the cookie POST /ui/login set (a browser cannot send a header).
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? (path.startsWith('/ui/') ? uiTokenCookie(req.headers.cookie) : undefined);
  const known = bearer !== undefined ? await d.authenticate(bearer) : undefined;
  if (known) caller = known;
  // Secret values only for an admin credential (a loopback caller without one does not see them).
  const admin = known?.scope === 'admin';
  // The dashboard's page and bundle hold no data (its /ui/api/ does).
  const uiAsset = path === '/ui' || path === '/ui/login' || (path.startsWith('/ui/') && !path.startsWith('/ui/api/'));
  if (!OPEN_PATHS.has(path) && !uiAsset) {
    if (caller.scope === 'none') {
      res.setHeader('www-authenticate', 'Bearer realm="bowline"');
      if (bearer !== undefined) throw new ApiError(401, 'Unauthorized', `BOWLINE_E_API_TOKEN_INVALID: the token sent is not the admin token nor a live API token (revoked, expired or mistyped; the admin token may have been rotated: it is in ${d.home}/admin-token)`);
      throw new ApiError(401, 'Unauthorized', `BOWLINE_E_API_UNAUTHENTICATED: the API ${d.requireToken ? 'requires a token (--require-token)' : `is bound to ${d.listenHost}`} and needs "Authorization: Bearer <token>": the admin token is in ${d.home}/admin-token (the bowline CLI sends it when it can read that file), or use an API token (bowline api-token create)`);
    }
    const method = req.method ?? 'GET';
    if (!scopeAllows(caller.scope, method, path)) {
      throw new ApiError(403, 'Forbidden', `BOWLINE_E_API_FORBIDDEN: ${caller.kind === 'api-token' ? `API token "${caller.name}" (${caller.tokenId})` : caller.kind} has scope ${caller.scope}, which does not allow ${method} ${path} (needs ${scopeNeeded(method, path)})`);
    }
  }
  if (path.startsWith('/v1/auth/') && (await handleAuthApi(d.authApi, req, res, path, caller))) return;
  const mounted = d.mounts.filter((h) => url.pathname.startsWith(h.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
  if (mounted) return await mounted.handler(req, res, url);
  if (path === '/healthz' || path === '/livez') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  if (path === '/readyz') {
    // The listener opens only once every part is mounted (control-plane.ts), so ready = the store answers.
    const ok = await d.store.healthy();
    return void res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : `store (${d.store.backend}) unavailable`);
  }
  if (path === '/v1/store/backup') {
    // A consistent copy of the whole store at one revision (`bowline store backup FILE`); admin only (auth above).
    if (req.method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'GET /v1/store/backup');
    if (!d.store.backup) throw new ApiError(400, 'BadRequest', `the ${d.store.backend} store has no built-in backup; use its own snapshots (etcd: etcdctl snapshot save)`);
    try {
      return sendJson(res, 200, await d.store.backup());
    } catch (err) {
      throw new ApiError(400, 'BadRequest', (err as Error).message);
    }
  }
  if (path === '/metrics') return void res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE }).end(d.metrics.render());
  if (path === '/version') return sendJson(res, 200, kubernetesVersion());
  const rp = parseResourcePath(path);
  if (rp) return await d.api.handle(req, res, rp, url.searchParams, { admin });
  if (req.method === 'GET' && (serveDiscovery(req, res, path) || serveOpenApiV3(req, res, path, url.searchParams) || serveOpenApiV2(req, res, path))) return;
  throw noSuchPath();
}
