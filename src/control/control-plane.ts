import type { StoredObject } from '../store/store.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MeshConfig } from '../api/index.js';
import { loadKek, openSecretData, type Kek, type StoredSecretShape } from '../ca/index.js';
import { openStore, type Clock, type Store } from '../store/index.js';
import { join } from 'node:path';
import { scopeAllows, scopeNeeded, type Caller } from './access.js';
import { ApiTokens, looksLikeApiToken } from './api-tokens.js';
import { AuditLog } from './audit.js';
import { adminTokenPath, bearerMatches, ensureAdminToken, isLoopback, rotateAdminToken, uiTokenCookie } from './auth.js';
import { handleAuthApi } from './auth-api.js';
import { ConfigApi, parseResourcePath } from './config-api.js';
import { serveDiscovery } from './discovery.js';
import { serveOpenApiV3 } from './openapi.js';
import { serveOpenApiV2 } from './openapi-v2.js';
import { instrumentStore } from './instrumented-store.js';
import { MeshConfigSource } from './mesh.js';
import { Metrics } from './metrics.js';
import { EXPOSITION_CONTENT_TYPE } from '../telemetry/metrics/exposition.js';
import type { ControlPlanePlugin } from './plugins.js';
import { ApiError, noSuchPath, sendError, sendJson } from './status.js';
import { kubernetesVersion } from './version.js';

/** A handler mounted under a path prefix (e.g. `/debug/`); it owns the whole response. */
export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

/** How to start the control plane; every field has the default `bowline up` uses. */
export interface ControlPlaneOptions {
  /** Bowline home: the embedded store, the admin token, the CLI context (default $BOWLINE_HOME or ~/.bowline). */
  home: string;
  /** HOST:PORT of the config API, /debug and /metrics (default 127.0.0.1:15014; port 0 picks one). */
  listenApi?: string;
  /** HOST:PORT of the push stream, for the push plugin (default 127.0.0.1:15010). */
  listenPush?: string;
  /** HOST:PORT of the TLS push stream served when the CA runs (default 127.0.0.1:15012; port 0 picks one). */
  listenPushTls?: string;
  /** Require a token for every API call, also on loopback (`bowline up --require-token`; a shared host's other users reach loopback too). Default false. */
  requireToken?: boolean;
  /** Where the audit log of mutating API calls goes: a file (default HOME/audit.log), `-` for the control plane's log, or a function. */
  auditLog?: string | ((line: string) => void);
  /** Accept proxy streams without a credential on the plaintext push port (`--push-plaintext`; loopback only). Default false. */
  pushPlaintext?: boolean;
  /** Let the CA generate a new root although the store already holds data but no CA state (`--new-root`). Default false: refused. */
  caNewRoot?: boolean;
  /** Key-encryption key file of the CA (default env BOWLINE_CA_KEK_FILE / BOWLINE_CA_KEK / HOME/ca-kek). */
  caKekFile?: string;
  /** Istio-style cacerts directory (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem) for a shared root. */
  caCertsDir?: string;
  /** `embedded`, `etcd://HOST:PORT[,...]`, or an already opened Store (default embedded). */
  store?: string | Store;
  meshConfigFile?: string;
  /** Cluster domain for host names `name.ns.svc.DOMAIN` (default cluster.local). */
  clusterDomain?: string;
  /** Extra DNS domains services are also known by (e.g. marathon.slave.mesos). */
  domains?: string[];
  /** Range of the virtual IPs allocated for services without addresses (default 240.240.0.0/16; src/push/vips.ts). */
  vipCidr?: string;
  /** Mesh root namespace (default: the mesh config's, istio-system). */
  rootNamespace?: string;
  /** Marathons whose apps and pods are registries (`bowline up --marathon URL`, docs/platforms/marathon.md). */
  marathon?: Array<{ url: string; tokenFile?: string; serviceLabel?: string; mesosDomains?: string[] }>;
  /** Kubernetes clusters whose Services, EndpointSlices, Pods and Nodes are registries (`bowline up --kubeconfig FILE`, docs/platforms/kubernetes.md). */
  kubernetes?: Array<{ kubeconfig?: string; namespaces?: string[]; clusterDomain?: string }>;
  /** Overrides the mesh config's trustDomain. */
  trustDomain?: string;
  /** This control plane's cluster id (`--cluster`, Istio's `multiCluster.clusterName`; default `Kubernetes`). */
  cluster?: string;
  /** The default network of this cluster's workloads (`--network`, Istio's `global.network`; default none: one flat network). */
  network?: string;
  /** The mesh id (`--mesh-id`, Istio's `global.meshID`; default the mesh config's meshId, else the trust domain). */
  meshId?: string;
  /** Prometheus base URL the dashboard reads traffic from instead of the proxies' push streams (`bowline up --prometheus`). */
  prometheus?: string;
  /** Plugins started in order after the API is up (default none; `bowline up` passes the built-in ones). */
  plugins?: ControlPlanePlugin[];
  clock?: Clock;
  /** Where log lines go (default stderr). */
  log?: (line: string) => void;
}

/**
 * A running control plane. Plugins (push, registry, CA) receive it in `start(cp)`:
 * - `cp.store`: the store (instrumented), `cp.meshConfig` / `cp.onMeshConfig(fn)`: the mesh config;
 * - `cp.addHandler('/debug/syncz', h)`: serve a path prefix on the API listener (auth applies);
 * - `cp.metrics.addRegistry(registry)`: add a telemetry Registry's families to /metrics;
 * - `cp.ports.push = n`: report a bound port (written to `--ports-file`);
 * - `cp.onShutdown(fn)`: cleanup, run in reverse order by `close()`.
 */
export interface ControlPlane {
  readonly store: Store;
  /** The current mesh config. */
  readonly meshConfig: MeshConfig;
  /** Calls `fn` whenever the mesh config changes; returns an unsubscribe function. */
  onMeshConfig(fn: (m: MeshConfig) => void): () => void;
  /** Base URL of the config API, e.g. http://127.0.0.1:15014. */
  readonly apiUrl: string;
  /** Resolved options (defaults applied). */
  readonly options: Required<Omit<ControlPlaneOptions, 'store' | 'plugins' | 'meshConfigFile' | 'trustDomain' | 'clock' | 'log' | 'caKekFile' | 'caCertsDir' | 'marathon' | 'kubernetes' | 'prometheus' | 'vipCidr' | 'auditLog' | 'requireToken' | 'meshId'>> & { marathon?: ControlPlaneOptions['marathon']; kubernetes?: ControlPlaneOptions['kubernetes'] } & { vipCidr?: string; meshConfigFile?: string; trustDomain?: string; caKekFile?: string; caCertsDir?: string; prometheus?: string };
  /** Bound ports by listener name (`api`, and what plugins add, e.g. `push`). */
  readonly ports: Record<string, number>;
  readonly metrics: Metrics;
  /** The admin token the API requires when not bound to loopback (the current one: `POST /v1/auth/admin-token/rotate` replaces it). */
  readonly adminToken: string;
  /** The scoped API tokens kept in the store. */
  readonly apiTokens: ApiTokens;
  /** Who a bearer token is (admin token or a live API token), or undefined (the dashboard's login asks this). */
  authenticate(token: string): Promise<Caller | undefined>;
  /** The `data` (base64 values) of a stored Secret, unsealed with the key-encryption key; throws on a wrong key. */
  openSecret(obj: StoredObject): Record<string, string>;
  /** Serves requests whose path starts with `prefix` (longest prefix wins). */
  addHandler(prefix: string, handler: Handler): void;
  onShutdown(fn: () => void | Promise<void>): void;
  /** Adds a mesh `status` to VirtualServices, AuthorizationPolicies ... the config API returns (the push plugin sets it). */
  setStatusProvider(fn: (obj: StoredObject) => Record<string, unknown> | undefined): void;
  /** Logs one line the way the control plane does. */
  log(line: string): void;
  /** Stops plugins (reverse order), the listener and the store. */
  close(): Promise<void>;
}

/** Parses HOST:PORT (or [V6]:PORT). */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(spec.trim());
  if (!m || Number(m[3]) > 65535) throw new Error(`listen address "${spec}" is not HOST:PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

/** Paths without the admin token: health, and the CA's two proxy-facing endpoints (the trust bundle is public and
 *  pinned by the proxy; a certificate request carries its own credential, a bootstrap token or a workload certificate). */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/livez', '/v1/ca/trust-bundle', '/v1/ca/certificates']);

/** Starts the store, the mesh config, the config API listener and the plugins. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  const listen = parseListen(opts.listenApi ?? '127.0.0.1:15014');
  const metrics = new Metrics();
  const mesh = new MeshConfigSource({
    ...(opts.meshConfigFile ? { file: opts.meshConfigFile } : {}),
    ...(opts.rootNamespace ? { rootNamespace: opts.rootNamespace } : {}),
    ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
    ...(opts.meshId ? { meshId: opts.meshId } : {}),
    log,
  });
  const rawStore = typeof opts.store === 'object' ? opts.store : await openStore(opts.store ?? 'embedded', { home: opts.home, ...(opts.clock ? { clock: opts.clock } : {}) });
  const store = instrumentStore(rawStore, metrics);
  const shutdown: Array<() => void | Promise<void>> = [];
  const handlers: Array<{ prefix: string; handler: Handler }> = [];
  let adminToken = ensureAdminToken(opts.home);
  let previousAdmin: { token: string; until: number } | undefined;
  const now = () => opts.clock?.now() ?? Date.now();
  const needAuth = opts.requireToken === true || !isLoopback(listen.host);
  const apiTokens = new ApiTokens(store, now);
  let audit: AuditLog;
  try {
    const target = opts.auditLog ?? join(opts.home, 'audit.log');
    audit = new AuditLog(target === '-' ? (line) => log(`audit ${line.trimEnd()}`) : target, log, now);
  } catch (err) {
    await rawStore.close();
    throw Object.assign(new Error(`cannot open the audit log ${String(opts.auditLog ?? join(opts.home, 'audit.log'))}: ${(err as Error).message}`), { code: 'BOWLINE_E_AUDIT_WRITE' });
  }
  /** The caller a bearer token names: the admin token (or the previous one in its grace), a live API token, or nobody. */
  async function authenticate(token: string): Promise<Caller | undefined> {
    if (bearerMatches(`Bearer ${token}`, adminToken)) return { kind: 'admin-token', scope: 'admin' };
    if (previousAdmin && now() < previousAdmin.until && bearerMatches(`Bearer ${token}`, previousAdmin.token)) return { kind: 'admin-token', scope: 'admin', name: 'previous' };
    if (!looksLikeApiToken(token)) return undefined;
    const r = await apiTokens.verify(token);
    return r ? { kind: 'api-token', scope: r.scope, tokenId: r.id, name: r.name } : undefined;
  }
  const authApi = {
    tokens: apiTokens,
    rotateAdmin(graceMs: number) {
      const old = adminToken;
      adminToken = rotateAdminToken(opts.home);
      previousAdmin = graceMs > 0 ? { token: old, until: now() + graceMs } : undefined;
      log(`control plane: admin token rotated (${adminTokenPath(opts.home)})${graceMs > 0 ? `; the previous one works for ${graceMs} ms more` : '; the previous one no longer works'}`);
      return { token: adminToken, file: adminTokenPath(opts.home) };
    },
  };
  let kek: Kek | undefined;
  const secretsKek = () => {
    const kekFile = opts.caKekFile ?? process.env.BOWLINE_CA_KEK_FILE;
    kek ??= loadKek({ ...(kekFile ? { kekFile } : {}), home: opts.home });
    return kek;
  };
  let pluginsStarted = false;
  const api = new ConfigApi(store, metrics, log, { kek: secretsKek, rootNamespace: mesh.rootNamespace });

  try {
    await mesh.start(store);
  } catch (err) {
    await audit.close();
    await rawStore.close();
    throw err;
  }

  const server: Server = createServer((req, res) => {
    void serve(req, res).catch((err) => {
      if (err instanceof ApiError) return sendError(res, err);
      log(`api: internal error on ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent) sendError(res, new ApiError(500, 'InternalError', `internal error: ${(err as Error)?.message ?? String(err)}`));
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://bowline.invalid');
    } catch {
      throw new ApiError(400, 'BadRequest', 'malformed request URL');
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    metrics.inc('bowline_api_requests_total', 'Config API requests by method', { method: req.method ?? 'GET' });
    let caller: Caller = needAuth ? { kind: 'anonymous', scope: 'none' } : { kind: 'local', scope: 'admin' };
    audit.track(req, res, path, () => caller);
    // A bearer token, or on /ui/ paths the cookie POST /ui/login set (a browser cannot send a header).
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? (path.startsWith('/ui/') ? uiTokenCookie(req.headers.cookie) : undefined);
    const known = bearer !== undefined ? await authenticate(bearer) : undefined;
    if (known) caller = known;
    // Secret values only for an admin credential (a loopback caller without one does not see them).
    const admin = known?.scope === 'admin';
    // The dashboard's page and bundle hold no data (its /ui/api/ does).
    const uiAsset = path === '/ui' || path === '/ui/login' || (path.startsWith('/ui/') && !path.startsWith('/ui/api/'));
    if (!OPEN_PATHS.has(path) && !uiAsset) {
      if (caller.scope === 'none') {
        res.setHeader('www-authenticate', 'Bearer realm="bowline"');
        if (bearer !== undefined) throw new ApiError(401, 'Unauthorized', `BOWLINE_E_API_TOKEN_INVALID: the token sent is not the admin token nor a live API token (revoked, expired or mistyped; the admin token may have been rotated: it is in ${opts.home}/admin-token)`);
        throw new ApiError(401, 'Unauthorized', `BOWLINE_E_API_UNAUTHENTICATED: the API ${opts.requireToken ? 'requires a token (--require-token)' : `is bound to ${listen.host}`} and needs "Authorization: Bearer <token>": the admin token is in ${opts.home}/admin-token (the bowline CLI sends it when it can read that file), or use an API token (bowline api-token create)`);
      }
      const method = req.method ?? 'GET';
      if (!scopeAllows(caller.scope, method, path)) {
        throw new ApiError(403, 'Forbidden', `BOWLINE_E_API_FORBIDDEN: ${caller.kind === 'api-token' ? `API token "${caller.name}" (${caller.tokenId})` : caller.kind} has scope ${caller.scope}, which does not allow ${method} ${path} (needs ${scopeNeeded(method, path)})`);
      }
    }
    if (path.startsWith('/v1/auth/') && (await handleAuthApi(authApi, req, res, path, caller))) return;
    const mounted = handlers.filter((h) => url.pathname.startsWith(h.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
    if (mounted) return await mounted.handler(req, res, url);
    if (path === '/healthz' || path === '/livez') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (path === '/readyz') {
      // Ready only once every plugin (CA endpoints, push) is mounted: a 200 before that let clients hit 404 on /v1/ca/*.
      if (!pluginsStarted) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('starting: not every endpoint is mounted yet');
      const ok = await store.healthy();
      return void res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : `store (${store.backend}) unavailable`);
    }
    if (path === '/v1/store/backup') {
      // A consistent copy of the whole store at one revision (`bowline store backup FILE`); admin only (auth above).
      if (req.method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'GET /v1/store/backup');
      if (!store.backup) throw new ApiError(400, 'BadRequest', `the ${store.backend} store has no built-in backup; use its own snapshots (etcd: etcdctl snapshot save)`);
      try {
        return sendJson(res, 200, await store.backup());
      } catch (err) {
        throw new ApiError(400, 'BadRequest', (err as Error).message);
      }
    }
    if (path === '/metrics') return void res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE }).end(metrics.render());
    if (path === '/version') return sendJson(res, 200, kubernetesVersion());
    const rp = parseResourcePath(path);
    if (rp) return await api.handle(req, res, rp, url.searchParams, { admin });
    if (req.method === 'GET' && (serveDiscovery(req, res, path) || serveOpenApiV3(req, res, path, url.searchParams) || serveOpenApiV2(req, res, path))) return;
    throw noSuchPath();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '[::1]' : listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const apiUrl = `http://${urlHost}:${port}`;
  log(`control plane: config API on ${apiUrl} (store ${store.backend}${needAuth ? `; not loopback, so requests need the admin token in ${opts.home}/admin-token` : ''})`);

  let closed = false;
  const cp: ControlPlane = {
    store,
    get meshConfig() { return mesh.get(); },
    onMeshConfig: (fn) => mesh.subscribe(fn),
    apiUrl,
    options: {
      home: opts.home,
      listenApi: opts.listenApi ?? '127.0.0.1:15014',
      listenPush: opts.listenPush ?? '127.0.0.1:15010',
      listenPushTls: opts.listenPushTls ?? '127.0.0.1:15012',
      pushPlaintext: opts.pushPlaintext ?? false,
      caNewRoot: opts.caNewRoot ?? false,
      ...(opts.caKekFile ? { caKekFile: opts.caKekFile } : {}),
      ...(opts.caCertsDir ? { caCertsDir: opts.caCertsDir } : {}),
      clusterDomain: opts.clusterDomain ?? 'cluster.local',
      cluster: opts.cluster ?? 'Kubernetes',
      network: opts.network ?? '',
      domains: opts.domains ?? [],
      ...(opts.vipCidr ? { vipCidr: opts.vipCidr } : {}),
      ...(opts.marathon && opts.marathon.length > 0 ? { marathon: opts.marathon } : {}),
      ...(opts.kubernetes && opts.kubernetes.length > 0 ? { kubernetes: opts.kubernetes } : {}),
      rootNamespace: mesh.rootNamespace,
      ...(opts.meshConfigFile ? { meshConfigFile: opts.meshConfigFile } : {}),
      ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
      ...(opts.prometheus ? { prometheus: opts.prometheus } : {}),
    },
    ports: { api: port },
    metrics,
    get adminToken() { return adminToken; },
    apiTokens,
    authenticate,
    openSecret: (obj) => openSecretData(secretsKek(), obj as unknown as StoredSecretShape),
    addHandler(prefix, handler) { handlers.push({ prefix, handler }); },
    onShutdown(fn) { shutdown.push(fn); },
    setStatusProvider(fn) { api.core.statusOf = fn; },
    log,
    async close() {
      if (closed) return;
      closed = true;
      for (const fn of shutdown.reverse()) {
        try { await fn(); } catch (err) { log(`control plane: shutdown step failed: ${String(err)}`); }
      }
      mesh.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await audit.close();
      await rawStore.close();
    },
  };
  for (const plugin of opts.plugins ?? []) {
    try {
      await plugin.start(cp);
    } catch (err) {
      log(`control plane: plugin ${plugin.name} failed to start: ${(err as Error)?.message ?? String(err)}`);
      await cp.close();
      throw err;
    }
  }
  pluginsStarted = true;
  return cp;
}
