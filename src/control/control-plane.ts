import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { MeshConfig } from '../api/index.js';
import { caMetrics, loadKek, openSecretData, startCa, type CertificateAuthority, type Kek, type StoredSecretShape } from '../ca/index.js';
import { apiCertificateNames, createApiTlsServer, serveApiTls } from './api-tls.js';
import { MeshController } from '../mesh/controller.js';
import { VipAllocator } from '../mesh/vips.js';
import type { KubeWebhookOptions } from '../platform/kubernetes/webhooks.js';
import { parseListen } from '../proxy-config/host-port.js';
import { ConfigStatusTracker } from '../push/config-status.js';
import type { PushServer } from '../push/server/server.js';
import { startPushServer } from '../push/start.js';
import type { RegistryStatus } from '../registry/registry.js';
import { openStore, type Clock, type Store, type StoredObject } from '../store/index.js';
import type { Caller } from './access.js';
import { ApiTokens, looksLikeApiToken } from './api-tokens.js';
import { AuditLog } from './audit.js';
import { adminTokenPath, bearerMatches, ensureAdminToken, isLoopback, rotateAdminToken } from './auth.js';
import { ConfigApi } from './config-api.js';
import { instrumentStore } from './instrumented-store.js';
import { startKubeParts } from './kube-parts.js';
import { MeshConfigSource } from './mesh.js';
import { Metrics } from './metrics.js';
import { registryApiHandler } from '../push/registry-api.js';
import { buildRegistries, registrationTtl, registryHealthMetrics, type KubernetesSource, type MarathonSource } from './registries.js';
import { peerClient, type ReplicaParts } from './replicas/peers.js';
import { advertisedApiUrl, publishPresence, type ReplicaPresence } from './replicas/presence.js';
import { apiRequestListener, partMounts } from './routes.js';

export { parseListen } from '../proxy-config/host-port.js';
export type { Handler } from './routes.js';
import type { Handler } from './routes.js';

/** How long the config API keeps an idle keep-alive connection: longer than Go's (kubectl's) 90 s client idle timeout. */
export const API_KEEP_ALIVE_MS = 95_000;

/** How to start the control plane; every field has the default `bowline up` uses. */
export interface ControlPlaneOptions {
  /** Bowline home: the embedded store, the admin token, the CLI context (default $BOWLINE_HOME or ~/.bowline). */
  home: string;
  /** HOST:PORT of the config API, /debug and /metrics (default 127.0.0.1:15014; port 0 picks one). */
  listenApi?: string;
  /** HOST:PORT of the push stream (default 127.0.0.1:15010). */
  listenPush?: string;
  /** HOST:PORT of the TLS push stream served when the CA runs (default 127.0.0.1:15012; port 0 picks one). */
  listenPushTls?: string;
  /** Serve the config API over HTTPS with a certificate from the CA (`bowline up --api-tls`; src/control/api-tls.ts; needs `ca`). Default false. */
  apiTls?: boolean;
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
  /** `embedded`, `etcd://HOST:PORT[,...]`, `kubernetes` (the apiserver of the first `kubernetes` source, else the pod's; docs/platforms/kubernetes.md), or an already opened Store (default embedded). */
  store?: string | Store;
  /** This replica's name: in the leader election of `store: 'kubernetes'`, and in the presence record and the `replica`
   *  column of proxy-status on a shared store (etcd, kubernetes; default HOSTNAME-PID). */
  replicaId?: string;
  /** The API URL the other replicas on a shared store reach this one at (`--advertise-api`; default the bound URL,
   *  for a wildcard listener the host's first non-loopback IPv4 address). */
  advertiseApi?: string;
  /** How long this replica's presence record outlives its last renewal (default 15 s; docs/store.md). */
  replicaPresenceTtlMs?: number;
  meshConfigFile?: string;
  /** Cluster domain for host names `name.ns.svc.DOMAIN` (default cluster.local). */
  clusterDomain?: string;
  /** Extra DNS domains services are also known by (e.g. marathon.slave.mesos). */
  domains?: string[];
  /** Range of the virtual IPs allocated for services without addresses (default 240.240.0.0/16; src/mesh/vips.ts). */
  vipCidr?: string;
  /** Mesh root namespace (default: the mesh config's, istio-system). */
  rootNamespace?: string;
  /** Marathons whose apps and pods are registries (`bowline up --marathon URL`, docs/platforms/marathon.md). */
  marathon?: MarathonSource[];
  /** Kubernetes clusters whose Services, EndpointSlices, Pods and Nodes are registries (`bowline up --kubeconfig FILE`, docs/platforms/kubernetes.md). */
  kubernetes?: KubernetesSource[];
  /** Overrides the mesh config's trustDomain. */
  trustDomain?: string;
  /** This control plane's cluster id (`--cluster`, Istio's `multiCluster.clusterName`; default `Kubernetes`). */
  cluster?: string;
  /** The default network of this cluster's workloads (`--network`, Istio's `global.network`; default none: one flat network). */
  network?: string;
  /** How long a remote cluster that stopped answering keeps its endpoints (`--remote-endpoint-grace`; default 5 minutes). */
  remoteEndpointGraceMs?: number;
  /** The mesh id (`--mesh-id`, Istio's `global.meshID`; default the mesh config's `defaultConfig.meshId`, else the trust domain). */
  meshId?: string;
  /** Prometheus base URL the dashboard reads traffic from instead of the proxies' push streams (`bowline up --prometheus`). */
  prometheus?: string;
  /** Run the CA: /v1/ca/, /v1/tokens, the TLS push stream, CSRs over the stream (`bowline up`: true; default false: an API-only control plane). */
  ca?: boolean;
  /** Run the registries, the mesh controller and the push server with its /debug paths (`bowline up`: true; default false). */
  push?: boolean;
  /** Serve the dashboard at /ui/ (`bowline up`: true; default false); `uiDir` replaces the built bundle's folder. */
  dashboard?: boolean | { uiDir: string };
  /** Kubernetes admission webhooks (`bowline up --listen-webhook`; needs the CA); default none. */
  webhooks?: Omit<KubeWebhookOptions, 'log' | 'namespace' | 'kubeconfig' | 'isLeader'>;
  clock?: Clock;
  /** Where log lines go (default stderr). */
  log?: (line: string) => void;
}

/** A running control plane: its parts, bound ports, and `close()`. */
export interface ControlPlane {
  readonly store: Store;
  /** The current mesh config. */
  readonly meshConfig: MeshConfig;
  /** Calls `fn` whenever the mesh config changes; returns an unsubscribe function. */
  onMeshConfig(fn: (m: MeshConfig) => void): () => void;
  /** Base URL of the config API, e.g. http://127.0.0.1:15014. */
  readonly apiUrl: string;
  /** Resolved options (defaults applied). */
  readonly options: Required<Omit<ControlPlaneOptions, 'store' | 'replicaId' | 'ca' | 'push' | 'dashboard' | 'webhooks' | 'meshConfigFile' | 'trustDomain' | 'clock' | 'log' | 'caKekFile' | 'caCertsDir' | 'marathon' | 'kubernetes' | 'prometheus' | 'vipCidr' | 'auditLog' | 'requireToken' | 'meshId' | 'remoteEndpointGraceMs' | 'apiTls' | 'advertiseApi' | 'replicaPresenceTtlMs'>> & { remoteEndpointGraceMs?: number } & { marathon?: ControlPlaneOptions['marathon']; kubernetes?: ControlPlaneOptions['kubernetes'] } & { vipCidr?: string; meshConfigFile?: string; trustDomain?: string; caKekFile?: string; caCertsDir?: string; prometheus?: string };
  /** Bound ports by listener name: `api`, `push`, `pushTls`, `webhook` (written to `--ports-file`). */
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
  /** The CA, when it runs. */
  readonly ca?: CertificateAuthority;
  /** The push server and the mesh controller, when they run. */
  readonly push?: { server: PushServer; controller: MeshController };
  /** Logs one line the way the control plane does. */
  log(line: string): void;
  /** Stops every part in reverse order of start, then the listener and the store. */
  close(): Promise<void>;
}

/**
 * Starts the control plane, top to bottom: the store and the mesh config in it -> the registries
 * -> the mesh controller -> the CA -> the push server (and the Kubernetes parts that need the CA)
 * -> the HTTP routes on the API listener, opened last so that it serves only a complete control
 * plane -> on a store shared with other replicas, this replica's presence (src/control/replicas/).
 * A step that fails stops the ones before it, in reverse order.
 */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  const listen = parseListen(opts.listenApi ?? '127.0.0.1:15014', '--listen-api');
  const now = () => opts.clock?.now() ?? Date.now();
  const metrics = new Metrics();
  const stops: Array<() => void | Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try { await stop(); } catch (err) { log(`control plane: shutdown step failed: ${String(err)}`); }
    }
  };
  let kek: Kek | undefined;
  const secretsKek = () => {
    const kekFile = opts.caKekFile ?? process.env.BOWLINE_CA_KEK_FILE;
    kek ??= loadKek({ ...(kekFile ? { kekFile } : {}), home: opts.home });
    return kek;
  };

  // 1. The store (or config source: the cluster's apiserver) and the mesh config kept in it; the audit log of writes to it.
  const mesh = new MeshConfigSource({
    ...(opts.meshConfigFile ? { file: opts.meshConfigFile } : {}),
    ...(opts.rootNamespace ? { rootNamespace: opts.rootNamespace } : {}),
    ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
    ...(opts.meshId ? { meshId: opts.meshId } : {}),
    log,
  });
  const fromCluster = opts.store === 'kubernetes';
  // The home holds the admin token and the audit log also when no embedded store creates it.
  if (fromCluster) mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  const clusterKubeconfig = opts.kubernetes?.[0]?.kubeconfig;
  const rawStore = typeof opts.store === 'object' ? opts.store
    : fromCluster ? await (await import('../store/kubernetes/kubernetes.js')).openKubernetesStore({ ...(clusterKubeconfig ? { kubeconfig: clusterKubeconfig } : {}), rootNamespace: mesh.rootNamespace, crds: (await import('../platform/kubernetes/install.js')).installCrds() as Array<Record<string, unknown>>, ...(opts.clock ? { clock: opts.clock } : {}), log })
    : await openStore(opts.store ?? 'embedded', { home: opts.home, ...(opts.clock ? { clock: opts.clock } : {}) });
  stops.push(() => rawStore.close());
  const store = instrumentStore(rawStore, metrics);
  let audit: AuditLog;
  try {
    const target = opts.auditLog ?? join(opts.home, 'audit.log');
    audit = new AuditLog(target === '-' ? (line) => log(`audit ${line.trimEnd()}`) : target, log, now);
  } catch (err) {
    await stopAll();
    throw Object.assign(new Error(`cannot open the audit log ${String(opts.auditLog ?? join(opts.home, 'audit.log'))}: ${(err as Error).message}`), { code: 'BOWLINE_E_AUDIT_WRITE' });
  }
  stops.push(() => audit.close());
  const api = new ConfigApi(store, metrics, log, { kek: secretsKek, rootNamespace: mesh.rootNamespace });
  let ca: CertificateAuthority | undefined;
  let push: { server: PushServer; controller: MeshController; registries(): RegistryStatus[]; multiCluster?: Handler; replicas?: ReplicaParts } | undefined;
  const ports: Record<string, number> = {};
  let isLeader: (() => boolean) | undefined;
  const onLeader: Array<() => void> = [];
  const replicaId = opts.replicaId ?? `${hostname()}-${process.pid}`;
  // Replicas that share the store each hold their own proxies' streams: they publish their presence (after the
  // listener is bound) and answer /debug/syncz, config_dump and explain for each other's proxies (src/control/replicas/).
  const sharedStore = rawStore.backend === 'etcd' || rawStore.backend === 'kubernetes';
  let presence: ReplicaPresence | undefined;
  try {
    await mesh.start(store);
    stops.push(() => mesh.stop());
    if (fromCluster) {
      // Replicas on one apiserver: the holder of the Lease writes status and patches caBundles.
      // Loaded only with a cluster (as kube-parts): a control plane without one never loads the Kubernetes client.
      const { startLeaderElection } = await import('../store/kubernetes/leader.js');
      const election = await startLeaderElection({
        ...(clusterKubeconfig ? { kubeconfig: clusterKubeconfig } : {}), namespace: mesh.rootNamespace,
        identity: replicaId,
        ...(Number(process.env.BOWLINE_LEADER_LEASE_MS) > 0 ? { leaseMs: Number(process.env.BOWLINE_LEADER_LEASE_MS) } : {}),
        onChange: (leading) => { if (leading) for (const fn of onLeader) fn(); },
        log,
      });
      stops.push(() => election.stop());
      isLeader = () => election.isLeader();
      // No key-encryption key given: the one in the root namespace's Secret, shared by every replica and restart.
      if (!opts.caKekFile && !process.env.BOWLINE_CA_KEK_FILE && !process.env.BOWLINE_CA_KEK) kek = await (await import('./kube-kek.js')).clusterKek({ ...(clusterKubeconfig ? { kubeconfig: clusterKubeconfig } : {}), namespace: mesh.rootNamespace });
    }
    const domains = { clusterDomain: opts.clusterDomain ?? 'cluster.local', extraDomains: opts.domains ?? [] };
    const registrationTtlMs = registrationTtl();
    let controller: MeshController | undefined;
    let registries: ReturnType<typeof buildRegistries> | undefined;
    if (opts.push) {
      // 2. The registries: where services and workloads come from.
      registries = buildRegistries({
        store, domains, mesh: mesh.get(), registrationTtlMs, log,
        ...(opts.cluster ? { cluster: opts.cluster } : {}),
        ...(opts.network ? { network: opts.network } : {}),
        ...(opts.marathon ? { marathon: opts.marathon } : {}),
        ...(opts.kubernetes ? { kubernetes: opts.kubernetes } : {}),
        openSecret: (o: StoredObject) => openSecretData(secretsKek(), o as unknown as StoredSecretShape),
        localRoots: () => ca?.trustBundlePem() ?? '',
        localMeshId: () => mesh.get().meshId ?? mesh.get().trustDomain,
        ...(opts.remoteEndpointGraceMs !== undefined ? { remoteEndpointGraceMs: opts.remoteEndpointGraceMs } : {}),
      });
      // 3. The mesh controller: store + registries -> one MeshSnapshot, with virtual IPs for services without addresses.
      const vips = new VipAllocator({ store, ...(opts.vipCidr ? { cidr: opts.vipCidr } : {}), onChange: () => controller?.schedule(), log });
      const c = new MeshController({ store, registry: registries.registry, mesh: mesh.get(), domains, vips, network: registries.topology.network, openSecret: (o: StoredObject) => openSecretData(secretsKek(), o as unknown as StoredSecretShape), log: (l) => log(`push: ${l}`) });
      controller = c;
      const r = registries;
      const unsubMesh = mesh.subscribe((m) => { r.meshChanged(m); c.setMesh(m); });
      await c.start();
      stops.push(async () => { unsubMesh(); await c.stop(); });
    }

    // 4. The CA: workload certificates, bootstrap tokens, the serving certificates of the TLS listeners.
    if (opts.ca) {
      const running = await startCa({
        store, kek: secretsKek(), home: opts.home,
        trustDomain: opts.trustDomain ?? mesh.get().trustDomain ?? 'cluster.local',
        ...(opts.caCertsDir ? { cacertsDir: opts.caCertsDir } : {}),
        newRoot: opts.caNewRoot === true, rootNamespace: mesh.rootNamespace, log,
        // With a cluster: pods' projected service-account tokens (audience istio-ca) bootstrap their certificates.
        ...(opts.kubernetes?.[0] ? { reviewToken: (await import('./kube-token-review.js')).kubeTokenReviewer({ ...(clusterKubeconfig ? { kubeconfig: clusterKubeconfig } : {}) }) } : {}),
      });
      ca = running.ca;
      stops.push(() => running.stop());
      metrics.addRegistry(caMetrics(running.ca));
    }

    // 5. The push server: proxies' streams, fed by the controller; CSRs to the CA.
    if (controller && registries) {
      const running = await startPushServer({
        store, controller, universal: registries.universal, ...(ca ? { ca } : {}),
        listen: opts.listenPush ?? '127.0.0.1:15010', listenTls: opts.listenPushTls ?? '127.0.0.1:15012',
        plaintext: opts.pushPlaintext === true, registrationTtlMs, log,
      });
      stops.push(() => running.close());
      Object.assign(ports, running.ports);
      const { server } = running;
      const c = controller;
      const builds = server.metrics.registry.counter({ name: 'bowline_push_snapshot_builds_total', help: 'Mesh snapshots built.' }).labels();
      server.metrics.registry.onCollect(() => { builds.value = c.builds; });
      const aggregate = registries.registry;
      registryHealthMetrics(server.metrics.registry, () => aggregate.statuses());
      // Resources the generators leave out in whole or in part: logged once, counted, shown in their status.
      const status = new ConfigStatusTracker((line) => log(`config warn: ${line}`), server.metrics.registry);
      status.update(c.current());
      stops.push(c.onSnapshot((s) => status.update(s)));
      api.core.statusOf = (o) => status.statusOf(o);
      metrics.addRegistry(server.metrics.registry);
      const replicas = sharedStore ? { self: { id: replicaId, apiUrl: '' }, peers: peerClient({ store, self: replicaId, token: () => presence?.token(), ...(opts.apiTls ? { ca: () => ca?.trustBundlePem() ?? '' } : {}) }) } : undefined;
      push = { server, controller: c, registries: () => aggregate.statuses(), ...(replicas ? { replicas } : {}), multiCluster: registryApiHandler({ local: registries.served, topology: registries.topology, roots: () => ca?.trustBundlePem() ?? '', meshId: () => mesh.get().meshId ?? mesh.get().trustDomain, clusters: registries.clusters }) };
      if (isLeader) {
        // The mesh's status of VirtualServices and AuthorizationPolicies, written to the apiserver by the leader.
        const writer = (await import('./kube-status.js')).kubeStatusWriter({ ...(clusterKubeconfig ? { kubeconfig: clusterKubeconfig } : {}), store, statusOf: (o) => status.statusOf(o), isLeader, replicaId, log });
        stops.push(c.onSnapshot(() => void writer.sync()));
        onLeader.push(() => void writer.sync());
        void writer.sync();
      }
    }

    // The Kubernetes parts that need the CA: admission webhooks, the gateway's join-token Secret.
    if (ca) {
      // `--inject-server HOST:0`: the port the TLS push stream bound (a control plane on port 0 tells pods where it is).
      const webhooks = opts.webhooks?.inject?.server ? { ...opts.webhooks, inject: { ...opts.webhooks.inject, server: opts.webhooks.inject.server.replace(/:0$/, `:${ports.pushTls ?? 0}`) } } : opts.webhooks;
      const kube = await startKubeParts({ ca, rootNamespace: mesh.rootNamespace, ...(webhooks ? { webhooks } : {}), ...(isLeader ? { isLeader } : {}), ...(opts.kubernetes?.[0] ? { cluster: opts.kubernetes[0] } : {}), log });
      stops.push(() => kube.close());
      onLeader.push(() => kube.leading());
      if (kube.webhookPort !== undefined) ports.webhook = kube.webhookPort;
    } else if (opts.webhooks) {
      throw new Error('webhooks: the webhooks need the CA (its serving certificate and per-pod tokens), which did not start');
    }
  } catch (err) {
    log(`control plane: start-up failed: ${(err as Error)?.message ?? String(err)}`);
    await stopAll();
    throw err;
  }

  // 6. The HTTP routes on the API listener: auth, the parts' paths, the config API.
  let adminToken = ensureAdminToken(opts.home);
  let previousAdmin: { token: string; until: number } | undefined;
  const needAuth = opts.requireToken === true || !isLoopback(listen.host);
  const apiTokens = new ApiTokens(store, now);
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
  const hostAddress = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  const dashboard = opts.dashboard ? { ...(typeof opts.dashboard === 'object' ? { uiDir: opts.dashboard.uiDir } : {}), ...(opts.prometheus ? { prometheus: opts.prometheus } : {}), authenticate } : undefined;
  const mounts = partMounts({ store, ...(ca ? { ca } : {}), ...(push ? { push } : {}), ...(dashboard ? { dashboard } : {}), log });
  const onRequest = apiRequestListener({ home: opts.home, needAuth, requireToken: opts.requireToken === true, listenHost: listen.host, store, metrics, api, audit, authApi, authenticate, mounts, log });
  // --api-tls: HTTPS only, with a serving certificate from the CA (renewed; its bundle in HOME/api-ca.pem).
  let tlsServer: ReturnType<typeof createApiTlsServer> | undefined;
  if (opts.apiTls) {
    if (!ca) {
      await stopAll();
      throw Object.assign(new Error('--api-tls needs the CA (its certificate for the API), which is not running'), { code: 'BOWLINE_E_CONTROL_API_TLS' });
    }
    tlsServer = createApiTlsServer(onRequest);
    // A wildcard listener is advertised to the other replicas at the host's address: the certificate names it too.
    const names = apiCertificateNames(listen.host);
    if (push?.replicas && !opts.advertiseApi && hostAddress && (listen.host === '0.0.0.0' || listen.host === '::')) names.ips.push(hostAddress);
    stops.push(serveApiTls(tlsServer, ca, { home: opts.home, names, log }));
  }
  const server = (tlsServer ?? createServer(onRequest)) as Server;
  // Idle keep-alive connections outlive the clients' own idle timeouts (Go's, kubectl's, 90 s; undici's
  // 4 s), so a client never reuses a connection the API is closing at that moment (an ECONNRESET on the
  // next request). Node's default, 5 s, raced with clients that keep connections idle for 4-5 s.
  server.keepAliveTimeout = API_KEEP_ALIVE_MS;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve(); });
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const urlHost = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '[::1]' : listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const apiUrl = `${opts.apiTls ? 'https' : 'http'}://${urlHost}:${port}`;
  log(`control plane: config API on ${apiUrl} (store ${store.backend}${needAuth ? `; not loopback, so requests need the admin token in ${opts.home}/admin-token` : ''})`);
  if (push?.replicas) {
    // 7. On a shared store: this replica's presence (its id, where peers reach its API) and its peer token.
    const self = push.replicas.self;
    self.apiUrl = advertisedApiUrl({ scheme: opts.apiTls ? 'https' : 'http', listenHost: listen.host, port, ...(opts.advertiseApi ? { advertise: opts.advertiseApi } : {}), ...(hostAddress ? { hostAddress } : {}) });
    try {
      presence = await publishPresence({ store, tokens: apiTokens, record: { id: replicaId, apiUrl: self.apiUrl, startedAt: new Date(now()).toISOString() }, ...(opts.replicaPresenceTtlMs !== undefined ? { ttlMs: opts.replicaPresenceTtlMs } : {}), log });
    } catch (err) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await stopAll();
      throw Object.assign(new Error(`replica ${replicaId}: cannot publish its presence in the ${store.backend} store: ${(err as Error).message}`), { code: 'BOWLINE_E_REPLICA_PRESENCE' });
    }
    log(`control plane: replica ${replicaId} reachable by its peers at ${self.apiUrl}`);
  }

  let closed = false;
  return {
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
      ...(opts.remoteEndpointGraceMs !== undefined ? { remoteEndpointGraceMs: opts.remoteEndpointGraceMs } : {}),
    },
    ports: { api: port, ...ports },
    metrics,
    get adminToken() { return adminToken; },
    apiTokens,
    authenticate,
    openSecret: (obj) => openSecretData(secretsKek(), obj as unknown as StoredSecretShape),
    ...(ca ? { ca } : {}),
    ...(push ? { push: { server: push.server, controller: push.controller } } : {}),
    log,
    async close() {
      if (closed) return;
      closed = true;
      // Peers stop asking this replica first (its record gone), then its listener and parts stop.
      await presence?.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await stopAll();
    },
  };
}
