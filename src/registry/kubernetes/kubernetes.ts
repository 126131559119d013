/**
 * The Kubernetes registry: Services, EndpointSlices, Pods, Nodes and Namespaces of one cluster, read with
 * @kubernetes/client-node informers (list, then watch from the list's resourceVersion with
 * bookmarks; a 410 relists), as services, endpoints and workloads (translate.ts).
 *
 * Credentials: a kubeconfig file (a token and no in-cluster account, as on the DC/OS-hosted
 * cluster of the seeds), or the Pod's in-cluster service account. Each resource (and namespace,
 * when the registry is limited to some) is followed on its own: when the apiserver is
 * unreachable or RBAC forbids a list or watch, that resource is reported by name (resource,
 * namespace, reason) in the log, `status()` (/debug/registryz, `bowline_registry_up`), the last
 * known objects are kept, and it is retried with backoff.
 *
 * Where EndpointSlices cannot be read (the API is not served: 404, or RBAC forbids them: 403, as
 * with roles written for older clusters), the registry reads core/v1 Endpoints in their place and
 * says so once; the slices are still retried and win again once readable. Namespaces give
 * MeshConfig `discoverySelectors` their labels (`setDiscoverySelectors`) and the root namespace's
 * network label.
 */
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ADD, DELETE, ERROR, KubeConfig, ListWatch, UPDATE, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { DEFAULT_DOMAINS, type DomainSettings } from '../../model/service.js';
import { ChangeNotifier, type Registry, type RegistryFailure, type RegistryStatus, type RegistryView } from '../registry.js';
import { kubernetesView, type KubeObjects } from './translate.js';
import type { LabelSelector } from './label-selector.js';
import type { KubeEndpoints, KubeEndpointSlice, KubeNamespace, KubeNode, KubePod, KubeService } from './types.js';

/** How to reach one cluster and name what it runs. */
export interface KubernetesRegistryOptions {
  /** A kubeconfig file; without it the in-cluster service account is used. */
  kubeconfig?: string;
  /** A kubeconfig's text instead of a file (a remote cluster Secret's value). */
  kubeconfigText?: string;
  /** The kubeconfig context (default its current context). */
  context?: string;
  /** Registry name (default `kubernetes`; give each cluster its own when there are several). */
  name?: string;
  /** Host-name domains (`name.ns.svc.DOMAIN`). */
  domains?: DomainSettings;
  /** Read only these namespaces (Roles instead of ClusterRoles); default all. Nodes are read cluster-wide either way. */
  namespaces?: string[];
  /** Warnings (a resource that cannot be read) and recoveries. */
  log?: (level: 'debug' | 'info' | 'warn', line: string) => void;
  /** Retry backoff bounds after a failed list or watch (default 200 ms doubling to 10 s). */
  backoffMs?: { min: number; max: number };
  /** How long `start()` waits for the first lists before returning with what it has (default 10 s). */
  startTimeoutMs?: number;
  /** The mesh's root namespace (default istio-system): always discovered; its network label is the cluster's network. */
  rootNamespace?: string;
  /** MeshConfig `discoverySelectors` at start (later: `setDiscoverySelectors`). */
  discoverySelectors?: LabelSelector[];
}

/** A resource the registry reads. */
interface Resource {
  /** `services`, `endpointslices.discovery.k8s.io` ...: how it is named in messages. */
  name: string;
  key: keyof KubeObjects;
  prefix: string;
  plural: string;
  namespaced: boolean;
  /** Read only while the EndpointSlice feed of its namespace cannot be (the Endpoints fallback). */
  fallback?: boolean;
}

const RESOURCES: Resource[] = [
  { name: 'services', key: 'services', prefix: '/api/v1', plural: 'services', namespaced: true },
  { name: 'endpointslices.discovery.k8s.io', key: 'slices', prefix: '/apis/discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true },
  { name: 'pods', key: 'pods', prefix: '/api/v1', plural: 'pods', namespaced: true },
  { name: 'nodes', key: 'nodes', prefix: '/api/v1', plural: 'nodes', namespaced: false },
  { name: 'namespaces', key: 'namespaces', prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  { name: 'endpoints', key: 'endpoints', prefix: '/api/v1', plural: 'endpoints', namespaced: true, fallback: true },
];

/** A failed call to the apiserver: its HTTP status (0 when unreachable) and the Status it answered. */
export class KubeRequestError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeRequestError';
  }
}

/** Why a call failed, in the apiserver's words where it gave some (status 0: no HTTP answer). */
export function describeError(err: unknown): { reason: string; message: string; status: number } {
  if (err instanceof KubeRequestError) return { reason: err.reason, message: err.message, status: err.status };
  const e = err as { statusCode?: number; code?: unknown; message?: string; cause?: { code?: string } };
  if (typeof e?.statusCode === 'number') return { reason: e.message || `HTTP ${e.statusCode}`, message: `HTTP ${e.statusCode}`, status: e.statusCode };
  const code = typeof e?.code === 'string' ? e.code : e?.cause?.code;
  return { reason: code ?? 'Error', message: e?.message ?? String(err), status: 0 };
}

/** GETs a list as raw JSON (every page), with the kubeconfig's credentials. */
async function listAll(kc: KubeConfig, path: string): Promise<{ items: KubernetesObject[]; metadata: { resourceVersion?: string } }> {
  const items: KubernetesObject[] = [];
  let cont = '';
  for (;;) {
    const page = await getJson(kc, `${path}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`) as { items?: KubernetesObject[]; metadata?: { resourceVersion?: string; continue?: string } };
    items.push(...(page.items ?? []));
    if (!page.metadata?.continue) return { items, metadata: { resourceVersion: page.metadata?.resourceVersion ?? '' } };
    cont = page.metadata.continue;
  }
}

async function getJson(kc: KubeConfig, path: string): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeRequestError(0, 'NoCluster', 'the kubeconfig names no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  const opts: RequestOptions & { headers: Record<string, string> } = { method: 'GET', headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
  return await new Promise((resolve, reject) => {
    const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(url, { ...opts, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('error', (e) => reject(new KubeRequestError(0, 'ConnectionReset', `GET ${path}: ${e.message}`)));
      res.on('end', () => {
        let body: { reason?: string; message?: string } | undefined;
        try { body = JSON.parse(text); } catch { body = undefined; }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300 && body) return resolve(body);
        reject(new KubeRequestError(status, body?.reason ?? `HTTP ${status}`, body?.message ?? `GET ${path}: HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: Error & { code?: string }) => reject(new KubeRequestError(0, e.code ?? 'Unreachable', `GET ${url.origin}${path}: ${e.code ?? e.message}`)));
    req.end();
  });
}

/** One resource (in one namespace, or all) followed by one informer. */
class Feed {
  readonly lw: ListWatch<KubernetesObject>;
  ok = false;
  error: { reason: string; message: string; status: number; verb: 'list' | 'watch' } | undefined;
  failures = 0;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private settle!: () => void;
  /** Resolves at the first outcome (a list, or a failure). */
  readonly settled = new Promise<void>((r) => { this.settle = r; });

  constructor(readonly resource: Resource, readonly namespace: string | undefined, kc: KubeConfig, private readonly owner: KubernetesRegistry, private readonly backoff: { min: number; max: number }) {
    this.delay = backoff.min;
    const path = `${resource.prefix}${namespace ? `/namespaces/${namespace}` : ''}/${resource.plural}`;
    const watch = new Watch(kc);
    // Bookmarks keep the resourceVersion fresh; the server ends each watch after a while and it resumes from there.
    const watcher = {
      watch: async (p: string, params: Record<string, unknown>, cb: (phase: string, obj: unknown, w: unknown) => void, done: (err: unknown) => void) => {
        let failed = false;
        const ctl = await watch.watch(p, { ...params, allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) }, cb, (err) => {
          if (err && !this.stopped && (err as { statusCode?: number }).statusCode !== 410) { failed = true; this.failed(err, 'watch'); }
          done(err);
        });
        if (!failed) this.succeeded();
        return ctl;
      },
    } as unknown as Watch;
    this.lw = new ListWatch<KubernetesObject>(path, watcher, async () => {
      try {
        const list = await listAll(kc, path);
        this.succeeded();
        return list;
      } catch (err) {
        this.failed(err, 'list');
        throw err;
      }
    }, false);
    const changed = () => this.owner.changed();
    this.lw.on(ADD, changed);
    this.lw.on(UPDATE, changed);
    this.lw.on(DELETE, changed);
    this.lw.on(ERROR, () => this.retry());
  }

  /** `pods in namespace bookinfo`, `nodes (cluster-wide)`, `services in all namespaces`. */
  what(): string {
    return `${this.resource.name} ${this.resource.namespaced ? (this.namespace ? `in namespace ${this.namespace}` : 'in all namespaces') : '(cluster-wide)'}`;
  }

  start(): void {
    void this.lw.start().catch(() => this.retry());
  }

  /** Whether the apiserver says this resource cannot be had (not served, or forbidden), not merely unreachable. */
  refused(): boolean {
    return this.error !== undefined && (this.error.status === 403 || this.error.status === 404);
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.start();
    }, this.delay);
    this.delay = Math.min(this.delay * 2, this.backoff.max);
  }

  private succeeded(): void {
    this.delay = this.backoff.min;
    if (this.error) this.owner.recovered(this);
    this.ok = true;
    this.error = undefined;
    this.settle();
  }

  private failed(err: unknown, verb: 'list' | 'watch'): void {
    const d = describeError(err);
    const again = this.error?.message === d.message;
    this.ok = false;
    this.error = { ...d, verb };
    this.failures++;
    if (!again) this.owner.reportFailure(this);
    this.settle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.lw.stop();
  }
}

/** One cluster's Services, EndpointSlices, Pods and Nodes as a registry. */
export class KubernetesRegistry implements Registry {
  readonly name: string;
  private readonly kc = new KubeConfig();
  private readonly feeds: Feed[] = [];
  private readonly notifier = new ChangeNotifier();
  private readonly log: NonNullable<KubernetesRegistryOptions['log']>;
  private readonly server: string;
  private current: RegistryView = { services: [], endpoints: [], workloads: [] };
  private discoverySelectors: LabelSelector[] | undefined;
  private readonly backoff: { min: number; max: number };
  private pending: NodeJS.Timeout | undefined;
  private lastSync: string | undefined;

  constructor(private readonly opts: KubernetesRegistryOptions = {}) {
    this.name = opts.name ?? 'kubernetes';
    this.log = opts.log ?? (() => {});
    this.discoverySelectors = opts.discoverySelectors;
    try {
      if (opts.kubeconfigText !== undefined) this.kc.loadFromString(opts.kubeconfigText);
      else if (opts.kubeconfig) this.kc.loadFromFile(opts.kubeconfig);
      else this.kc.loadFromCluster();
    } catch (err) {
      throw new Error(`registry ${this.name}: cannot read ${opts.kubeconfig ? `kubeconfig ${opts.kubeconfig}` : 'the in-cluster service account'}: ${(err as Error).message}`);
    }
    if (opts.context) this.kc.setCurrentContext(opts.context);
    const cluster = this.kc.getCurrentCluster();
    if (!cluster?.server) throw new Error(opts.kubeconfigText !== undefined ? `registry ${this.name}: the kubeconfig names no cluster server` : opts.kubeconfig ? `registry ${this.name}: kubeconfig ${opts.kubeconfig} names no cluster server${opts.context ? ` for context ${opts.context}` : ''}` : `registry ${this.name}: no in-cluster service account (KUBERNETES_SERVICE_HOST is not set); pass --kubeconfig FILE`);
    this.server = cluster.server;
    this.backoff = opts.backoffMs ?? { min: 200, max: 10_000 };
    for (const r of RESOURCES) {
      if (r.fallback) continue; // made when needed (reportFailure)
      const namespaces = r.namespaced && opts.namespaces && opts.namespaces.length > 0 ? opts.namespaces : [undefined];
      for (const ns of namespaces) this.feeds.push(new Feed(r, ns, this.kc, this, this.backoff));
    }
  }

  /** Lists everything and starts watching; resolves when every first list answered or failed (or after the start timeout). */
  async start(): Promise<void> {
    for (const f of this.feeds) f.start();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      // The first lists, then the first list of any Endpoints fallback they started.
      Promise.all(this.feeds.map((f) => f.settled)).then(() => Promise.all(this.feeds.filter((f) => f.resource.fallback).map((f) => f.settled))),
      new Promise<void>((r) => { timer = setTimeout(r, this.opts.startTimeoutMs ?? 10_000); }),
    ]);
    clearTimeout(timer);
    this.rebuild();
  }

  /** The current view (a fresh copy). */
  view(): RegistryView {
    return { services: [...this.current.services], endpoints: [...this.current.endpoints], workloads: [...this.current.workloads] };
  }

  /** Subscribes to changes. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }

  /** MeshConfig `discoverySelectors` changed: the view is rebuilt with the namespaces they select. */
  setDiscoverySelectors(selectors: LabelSelector[] | undefined): void {
    if (JSON.stringify(selectors ?? []) === JSON.stringify(this.discoverySelectors ?? [])) return;
    this.discoverySelectors = selectors;
    this.changed();
  }

  /** The Endpoints feed standing in for a slice feed (same namespace), when there is one. */
  private fallbackOf(f: Feed): Feed | undefined {
    return this.feeds.find((x) => x.resource.fallback && x.namespace === f.namespace);
  }

  /** A slice feed the apiserver refuses, whose Endpoints fallback is read: not a failure (it is said once in the log). */
  private coveredByFallback(f: Feed): boolean {
    return f.resource.key === 'slices' && f.refused() && this.fallbackOf(f)?.ok === true;
  }

  /** Whether every resource is read and watched; the ones that are not, by name. */
  status(): RegistryStatus {
    const failures: RegistryFailure[] = this.feeds.filter((f) => f.error && !this.coveredByFallback(f)).map((f) => ({
      resource: f.resource.name, ...(f.resource.namespaced ? { namespace: f.namespace ?? '*' } : {}), reason: f.error!.reason, message: `cannot ${f.error!.verb} ${f.what()}: ${f.error!.message}`,
    }));
    const pending = this.feeds.filter((f) => !f.ok && !f.error);
    const st: RegistryStatus = { registry: this.name, target: this.server, healthy: failures.length === 0 && pending.length === 0, errors: this.feeds.reduce((n, f) => n + f.failures, 0) };
    if (failures.length > 0) {
      st.error = failures.map((f) => `${f.message} (${f.reason})`).join('; ');
      st.failures = failures;
    } else if (pending.length > 0) st.error = `not read yet: ${pending.map((f) => f.what()).join(', ')}`;
    if (this.lastSync) st.lastSync = this.lastSync;
    return st;
  }

  /** Stops every informer (the view stays as it was). */
  async stop(): Promise<void> {
    if (this.pending) clearTimeout(this.pending);
    await Promise.all(this.feeds.map((f) => f.stop()));
  }

  /** An informer saw a change: rebuild soon (changes arriving together are built once). */
  changed(): void {
    this.lastSync = new Date().toISOString();
    this.pending ??= setTimeout(() => { this.pending = undefined; this.rebuild(); }, 0);
  }

  /** A resource could not be read (new reason): one warning line naming it; refused slices start the Endpoints fallback. */
  reportFailure(f: Feed): void {
    const e = f.error!;
    if (f.resource.key === 'slices' && f.refused() && !this.fallbackOf(f)) {
      const fb = new Feed(RESOURCES.find((r) => r.fallback)!, f.namespace, this.kc, this, this.backoff);
      this.feeds.push(fb);
      this.log('warn', `registry ${this.name}: cannot ${e.verb} ${f.what()} at ${this.server}: ${e.reason} (HTTP ${e.status}); reading ${fb.what()} instead (core/v1 Endpoints), and trying the slices again`);
      fb.start();
      return;
    }
    this.log('warn', `registry ${this.name}: cannot ${e.verb} ${f.what()} at ${this.server}: ${e.reason}: ${e.message}; keeping the last known endpoints (${this.current.endpoints.length})`);
  }

  /** A resource that failed is read again; EndpointSlices read again end their Endpoints fallback. */
  recovered(f: Feed): void {
    this.lastSync = new Date().toISOString();
    this.log('info', `registry ${this.name}: ${f.what()} read again at ${this.server}`);
    const fb = f.resource.key === 'slices' ? this.fallbackOf(f) : undefined;
    if (fb) {
      this.feeds.splice(this.feeds.indexOf(fb), 1);
      void fb.stop();
      this.log('info', `registry ${this.name}: stopped reading ${fb.what()} (the EndpointSlices stand for them again)`);
      this.changed();
    }
  }

  private rebuild(): void {
    const objs: Required<KubeObjects> = { services: [], slices: [], pods: [], nodes: [], namespaces: [], endpoints: [] };
    for (const f of this.feeds) (objs[f.resource.key] as KubernetesObject[]).push(...f.lw.list());
    const namespacesRead = this.feeds.some((f) => f.resource.key === 'namespaces' && (f.ok || f.lw.list().length > 0));
    const typed = objs as { services: KubeService[]; slices: KubeEndpointSlice[]; pods: KubePod[]; nodes: KubeNode[]; namespaces: KubeNamespace[]; endpoints: KubeEndpoints[] };
    const next = kubernetesView({ ...typed, namespaces: namespacesRead ? typed.namespaces : undefined }, {
      domains: this.opts.domains ?? DEFAULT_DOMAINS, source: this.name, rootNamespace: this.opts.rootNamespace ?? 'istio-system',
      ...(this.discoverySelectors ? { discoverySelectors: this.discoverySelectors } : {}),
    });
    if (JSON.stringify(next) === JSON.stringify(this.current)) return;
    this.current = next;
    this.notifier.emit();
  }
}
