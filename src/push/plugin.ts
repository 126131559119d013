/**
 * The push plugin of `bowline up`: registries (universal, ServiceEntry, manual), the mesh
 * controller, the push server on `--listen-push`, the /debug handlers and push metrics.
 * The control plane is described structurally here (push must not import control/).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MeshConfig } from '../api/types/mesh.js';
import { AggregateRegistry, type RegistryStatus } from '../registry/registry.js';
import { ManualRegistry } from '../registry/manual/manual.js';
import { ServiceEntryRegistry } from '../registry/serviceentry/serviceentry.js';
import { UniversalRegistry } from '../registry/universal/universal.js';
import { MarathonRegistry } from '../registry/marathon/marathon.js';
import { KubernetesRegistry } from '../registry/kubernetes/kubernetes.js';
import type { LabelSelector } from '../registry/kubernetes/label-selector.js';
import { DEFAULT_CLUSTER } from '../registry/topology.js';
import { caOf, createTlsStreamServer } from '../ca/index.js';
import type { Store, StoredObject } from '../store/store.js';
import type { Registry } from '../telemetry/metrics/registry.js';
import { MeshController } from './controller.js';
import { pushDebugHandlers } from './debug.js';
import { authnHandler } from './security/authn-check.js';
import { caCsrAnswer, caStreamAuth } from './security/stream-auth.js';
import { PushServer } from './server/server.js';
import { ConfigStatusTracker } from './config-status.js';
import { VipAllocator } from './vips.js';
import { AutoRegistrar } from './autoregister.js';

/** What the push plugin uses of the running control plane (src/control's ControlPlane satisfies it). */
export interface PushHost {
  readonly store: Store;
  readonly meshConfig: MeshConfig;
  onMeshConfig(fn: (m: MeshConfig) => void): () => void;
  readonly options: { listenPush: string; listenPushTls?: string; pushPlaintext?: boolean; clusterDomain: string; domains: string[]; marathon?: MarathonSource[]; kubernetes?: KubernetesSource[]; vipCidr?: string; cluster?: string; network?: string };
  readonly ports: Record<string, number>;
  readonly metrics: { addRegistry(r: Registry): void };
  addHandler(prefix: string, handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>): void;
  onShutdown(fn: () => void | Promise<void>): void;
  log(line: string): void;
  /** Unseals a stored Secret's data (credentialName); absent: Secrets give no credentials. */
  openSecret?(obj: StoredObject): Record<string, string>;
  /** Adds a `status` to the objects the config API returns (Istio-style, from the mesh's view of them). */
  setStatusProvider?(fn: (obj: { kind?: unknown; metadata: { name: string; namespace?: string; generation?: number } }) => Record<string, unknown> | undefined): void;
}

/** One Marathon to discover services from (`bowline up --marathon URL`). */
export interface MarathonSource {
  url: string;
  tokenFile?: string;
  /** Label holding the service name (default `istio`; `''`: the app id's last segment). */
  serviceLabel?: string;
  /** Mesos-DNS domains (default marathon.mesos, marathon.slave.mesos). */
  mesosDomains?: string[];
}

/** One Kubernetes cluster to discover services from (`bowline up --kubeconfig FILE`, or its in-cluster account). */
export interface KubernetesSource {
  /** Kubeconfig file; absent: the in-cluster service account. */
  kubeconfig?: string;
  /** Only these namespaces (default all). */
  namespaces?: string[];
  /** The cluster's DNS domain for its hosts `name.ns.svc.DOMAIN` (default the control plane's cluster domain). */
  clusterDomain?: string;
}

/** Lease of a universal registration: how long a workload outlives its stream (env BOWLINE_REGISTRATION_TTL_MS). */
function registrationTtl(): number {
  const v = Number(process.env.BOWLINE_REGISTRATION_TTL_MS);
  return Number.isFinite(v) && v > 0 ? v : 30_000;
}

function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`--listen-push "${spec}" is not HOST:PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

/** `bowline_registry_up` and `bowline_registry_errors_total` for registries that read remote systems (Marathon ...). */
function registryHealthMetrics(metrics: Registry, statuses: () => RegistryStatus[]): void {
  const up = metrics.gauge({ name: 'bowline_registry_up', help: "1 when the registry's source answered its last call.", labelNames: ['registry'] });
  const errors = metrics.counter({ name: 'bowline_registry_errors_total', help: "Failed calls to a registry's source.", labelNames: ['registry'] });
  metrics.onCollect(() => {
    for (const st of statuses()) {
      up.labels(st.registry).set(st.healthy ? 1 : 0);
      errors.labels(st.registry).value = st.errors ?? 0;
    }
  });
}

const instances = new WeakMap<object, { server: PushServer; controller: MeshController }>();

/** The push server and mesh controller a control plane started (for the dashboard plugin), if any. */
export function pushOf(cp: object): { server: PushServer; controller: MeshController } | undefined {
  return instances.get(cp);
}

/** MeshConfig `discoverySelectors` (validated by the mesh config's schema), or undefined. */
function discoverySelectorsOf(m: MeshConfig): LabelSelector[] | undefined {
  return Array.isArray(m['discoverySelectors']) ? (m['discoverySelectors'] as LabelSelector[]) : undefined;
}

/** Starts push for a control plane. */
export async function startPush(cp: PushHost): Promise<{ server: PushServer; controller: MeshController }> {
  const listen = parseListen(cp.options.listenPush);
  if (cp.options.pushPlaintext && !/^(127\.|::1$|::ffff:127\.|localhost$)/.test(listen.host)) {
    throw new Error(`push: plaintext proxy streams (--push-plaintext) are allowed on a loopback address only, not ${listen.host}`);
  }
  const domains = { clusterDomain: cp.options.clusterDomain, extraDomains: cp.options.domains };
  const universal = new UniversalRegistry(cp.store, { domains, ttlMs: registrationTtl() });
  const sources = cp.options.marathon ?? [];
  const marathons = sources.map((m, i) => new MarathonRegistry({
    url: m.url,
    name: sources.length > 1 ? `marathon-${i + 1}` : 'marathon',
    domains,
    ...(m.tokenFile ? { tokenFile: m.tokenFile } : {}),
    ...(m.serviceLabel !== undefined ? { serviceLabel: m.serviceLabel } : {}),
    ...(m.mesosDomains ? { mesosDomains: m.mesosDomains } : {}),
    log: (level, line) => { if (level !== 'debug' || process.env.BOWLINE_DEBUG) cp.log(line); },
  }));
  const kubes = cp.options.kubernetes ?? [];
  const kubernetes = kubes.map((k, i) => new KubernetesRegistry({
    name: kubes.length > 1 ? `kubernetes-${i + 1}` : 'kubernetes',
    ...(k.kubeconfig ? { kubeconfig: k.kubeconfig } : {}),
    ...(k.namespaces && k.namespaces.length > 0 ? { namespaces: k.namespaces } : {}),
    domains: k.clusterDomain ? { ...domains, clusterDomain: k.clusterDomain } : domains,
    rootNamespace: cp.meshConfig.rootNamespace,
    ...(discoverySelectorsOf(cp.meshConfig) ? { discoverySelectors: discoverySelectorsOf(cp.meshConfig)! } : {}),
    log: (level, line) => { if (level !== 'debug' || process.env.BOWLINE_DEBUG) cp.log(line); },
  }));
  const topology = { cluster: cp.options.cluster || DEFAULT_CLUSTER, network: cp.options.network ?? '' };
  const registry = new AggregateRegistry([universal, new ServiceEntryRegistry(cp.store), new ManualRegistry(cp.store, domains), ...marathons, ...kubernetes], topology);
  const vips = new VipAllocator({ store: cp.store, ...(cp.options.vipCidr ? { cidr: cp.options.vipCidr } : {}), onChange: () => controller.schedule(), log: (l) => cp.log(l) });
  const controller: MeshController = new MeshController({ store: cp.store, registry, mesh: cp.meshConfig, domains, vips, ...(cp.openSecret ? { openSecret: (o: StoredObject) => cp.openSecret!(o) } : {}), log: (l) => cp.log(`push: ${l}`) });
  const unsubMesh = cp.onMeshConfig((m) => {
    for (const k of kubernetes) k.setDiscoverySelectors(discoverySelectorsOf(m));
    controller.setMesh(m);
  });
  await controller.start();
  const autoRegister = new AutoRegistrar(cp.store, { ttlMs: registrationTtl(), log: (l) => cp.log(l) });
  await autoRegister.start();
  const server = new PushServer({
    source: controller,
    universal,
    autoRegister,
    log: (level, msg, fields) => cp.log(`push ${level}: ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`),
    // CSRs over the stream go to the CA plugin's instance when `bowline up` runs one (looked up per request: plugin order does not matter).
    // On the TLS stream, a proxy presenting a workload certificate may only speak for that identity.
    authenticate: caStreamAuth(() => caOf(cp)),
    onCsr: caCsrAnswer(() => caOf(cp)),
    allowPlaintext: cp.options.pushPlaintext === true,
  });
  const { host, port } = listen;

  const addr = await server.listen(port, host);
  cp.ports.push = addr.port;
  cp.log(`push: proxy stream on ${host}:${addr.port}${cp.options.pushPlaintext ? ' (plaintext proxies accepted: --push-plaintext)' : ' (every proxy proves its identity: certificate or bootstrap token)'}`);
  // With a CA: the TLS stream (Istio's 15012), serving certificate from the mesh root, CSRs over it.
  const ca = caOf(cp);
  if (ca && cp.options.listenPushTls) {
    const t = parseListen(cp.options.listenPushTls);
    const tlsServer = createTlsStreamServer(ca, (s) => server.attach(s), { ips: ['127.0.0.1', '::1', ...(/^[\d.]+$|:/.test(t.host) && t.host !== '0.0.0.0' && t.host !== '::' ? [t.host] : [])] });
    tlsServer.on('tlsClientError', () => {});
    try {
      await new Promise<void>((resolve, reject) => { tlsServer.once('error', reject); tlsServer.listen(t.port, t.host, () => resolve()); });
      cp.ports.pushTls = (tlsServer.address() as { port: number }).port;
      cp.log(`push: TLS proxy stream on ${t.host}:${cp.ports.pushTls} (certificates for proxies with --token-file)`);
    } catch (err) {
      // A busy 15012 (another control plane on this host) costs the TLS stream, not the control plane.
      tlsServer.stopRenewal();
      cp.log(`push warn: TLS proxy stream not served on ${cp.options.listenPushTls}: ${(err as Error).message}; pass --listen-push-tls 127.0.0.1:0 for an ephemeral port`);
    }
    // Root rotation steps change the trust bundle: every proxy gets it at once (not only at its next renewal).
    const unsubCa = ca.onChange(() => server.broadcast({ type: 'certificate', requestId: '', rootCerts: ca.trustBundlePem() }));
    cp.onShutdown(() => { unsubCa(); tlsServer.stopRenewal(); tlsServer.close(); }); // streams are closed by server.close()
  }
  const debug = pushDebugHandlers({ server, controller, store: cp.store, registries: () => registry.statuses() });
  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (!(await debug(req, res, url))) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound', message: `no such path ${url.pathname}` }) + '\n');
  };
  for (const p of ['/debug/syncz', '/debug/config_dump', '/debug/registryz', '/debug/configz', '/registry/v1/manual']) cp.addHandler(p, handle);
  cp.addHandler('/debug/authenticationz', authnHandler(controller));
  const builds = server.metrics.registry.counter({ name: 'bowline_push_snapshot_builds_total', help: 'Mesh snapshots built.' }).labels();
  server.metrics.registry.onCollect(() => { builds.value = controller.builds; });
  registryHealthMetrics(server.metrics.registry, () => registry.statuses());
  // Resources the generators leave out in whole or in part: logged once, counted, shown in their status.
  const status = new ConfigStatusTracker((line) => cp.log(`config warn: ${line}`), server.metrics.registry);
  status.update(controller.current());
  const unsubStatus = controller.onSnapshot((s) => status.update(s));
  cp.setStatusProvider?.((o) => status.statusOf(o));
  cp.metrics.addRegistry(server.metrics.registry);
  cp.onShutdown(async () => {
    unsubMesh();
    unsubStatus();
    await server.close();
    autoRegister.stop();
    await controller.stop();
  });
  instances.set(cp, { server, controller });
  return { server, controller };
}

/** The plugin object `bowline up` loads (src/control/plugins.ts). */
export const plugin = { name: 'push', start: async (cp: PushHost): Promise<void> => void (await startPush(cp)) };
