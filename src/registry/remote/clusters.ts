/**
 * Remote clusters as one registry: every remote cluster Secret (secret.ts) in the root namespace
 * starts a registry for each cluster it names (a Bowline control plane's registry view, or a
 * Kubernetes API through the Kubernetes registry); a changed Secret restarts it, a deleted one
 * stops it and drops its endpoints. A remote that stops answering keeps its last endpoints for the
 * grace period (`bowline up --remote-endpoint-grace`, default 5 minutes), then they are dropped
 * until it answers again (it is retried meanwhile). The own cluster's id is skipped, as in Istio.
 */
import type { DomainSettings, Endpoint, Workload } from '../../model/service.js';
import type { Store, StoredObject, Watch } from '../../store/store.js';
import { KubernetesRegistry } from '../kubernetes/kubernetes.js';
import { ChangeNotifier, mergeViews, type Registry, type RegistryStatus, type RegistryView } from '../registry.js';
import { isNetworkGateway, networkOf } from '../topology.js';
import { BowlineRemoteRegistry, kubeconfigTarget } from './bowline.js';
import { clustersOfSecret, isRemoteSecret, type RemoteClusterSpec } from './secret.js';

/** Default time a silent remote's endpoints are kept. */
export const DEFAULT_REMOTE_GRACE_MS = 5 * 60_000;

/** Options of the remote clusters registry. */
export interface RemoteClustersOptions {
  store: Store;
  /** Where remote cluster Secrets are read (the mesh root namespace). */
  namespace: string;
  /** This control plane's cluster id: a Secret naming it is skipped. */
  ownCluster: string;
  /** Unseals a stored Secret's data (base64 values). */
  openSecret: (obj: StoredObject) => Record<string, string>;
  /** The roots this mesh trusts (PEM), to refuse a remote under another root. */
  localRoots: () => string;
  /** This control plane's mesh id, to refuse a Bowline remote of another mesh. */
  localMeshId: () => string;
  domains: DomainSettings;
  /** How long a silent remote's endpoints are kept (default 5 minutes). */
  graceMs?: number;
  /** How often the grace is checked (default 1 s). */
  tickMs?: number;
  now?: () => number;
  log?: (line: string) => void;
  /** Backoff of the Bowline remotes' retries. */
  backoffMs?: { min: number; max: number };
}

/** One remote cluster as `bowline cluster list` shows it. */
export interface RemoteClusterInfo {
  name: string;
  kind: 'bowline' | 'kubernetes';
  /** `NAMESPACE/NAME` of its Secret. */
  secret: string;
  server: string;
  /** `synced`: its view is current; `unreachable`: its last view is kept (grace); `expired`: grace over, its endpoints dropped;
   *  `refused`: another root or mesh id; `invalid`: the Secret cannot be used; `pending`: not answered yet. */
  state: 'synced' | 'unreachable' | 'expired' | 'refused' | 'invalid' | 'pending';
  error?: string;
  lastSync?: string;
  services: number;
  endpoints: number;
}

interface Entry {
  spec: RemoteClusterSpec;
  key: string;
  registry?: Registry;
  error?: string;
  unsub?: () => void;
  unhealthySince?: number;
  expired: boolean;
  synced: boolean;
}

/** Every remote cluster named by a remote cluster Secret, as one registry. */
export class RemoteClusters implements Registry {
  readonly name = 'clusters';
  private readonly notifier = new ChangeNotifier();
  private readonly secrets = new Map<string, StoredObject>();
  private readonly entries = new Map<string, Entry>();
  private watch?: Watch;
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly graceMs: number;
  private stopped = false;

  constructor(private readonly opts: RemoteClustersOptions) {
    this.now = opts.now ?? Date.now;
    this.graceMs = opts.graceMs ?? DEFAULT_REMOTE_GRACE_MS;
  }

  /** Reads the Secrets, starts a registry per remote cluster and watches the Secrets. */
  async start(): Promise<void> {
    const { items, revision } = await this.opts.store.list('Secret', this.opts.namespace);
    for (const o of items) if (isRemoteSecret(o)) this.secrets.set(o.metadata.name, o);
    this.watch = this.opts.store.watch({ kind: 'Secret', namespace: this.opts.namespace }, (ev) => {
      const had = this.secrets.has(ev.object.metadata.name);
      if (ev.type === 'DELETED' || !isRemoteSecret(ev.object)) this.secrets.delete(ev.object.metadata.name);
      else this.secrets.set(ev.object.metadata.name, ev.object);
      if (had || this.secrets.has(ev.object.metadata.name)) this.reconcile();
    }, { fromRevision: revision });
    this.reconcile();
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
    this.timer.unref?.();
  }

  /** The merged view of every remote whose endpoints are not expired. */
  view(): RegistryView {
    const views: RegistryView[] = [];
    for (const e of this.entries.values()) {
      if (!e.registry || e.expired) continue;
      views.push(e.spec.kind === 'kubernetes' ? stampKubernetes(e.registry.view(), e.spec) : e.registry.view());
    }
    return mergeViews(views);
  }

  /** Subscribes to changes of any remote. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }

  /** One status per remote cluster (/debug/registryz, bowline_registry_up). */
  statuses(): RegistryStatus[] {
    return [...this.entries.values()].map((e) => {
      const st = e.registry?.status?.() ?? { registry: `cluster:${e.spec.name}`, target: e.spec.secret, healthy: false };
      return e.error ? { ...st, healthy: false, error: e.error } : st;
    });
  }

  /** Every remote cluster with its state (`GET /v1/clusters`, `bowline cluster list`). */
  list(): RemoteClusterInfo[] {
    return [...this.entries.values()].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1)).map((e) => {
      const st = e.registry?.status?.();
      const v = e.registry && !e.expired ? e.registry.view() : undefined;
      let server = '';
      try { server = kubeconfigTarget(e.spec.kubeconfig).server; } catch {}
      const error = e.error ?? (st && !st.healthy ? st.error : undefined);
      const state: RemoteClusterInfo['state'] = e.error ? 'invalid'
        : st?.healthy ? 'synced'
        : error?.includes('BOWLINE_E_CA_ROOT_MISMATCH') || error?.includes('BOWLINE_E_CLUSTER_MESH_ID_MISMATCH') ? 'refused'
        : e.expired ? 'expired'
        : e.synced ? 'unreachable' : 'pending';
      return { name: e.spec.name, kind: e.spec.kind, secret: e.spec.secret, server, state, ...(error ? { error } : {}), ...(st?.lastSync ? { lastSync: st.lastSync } : {}), services: v?.services.length ?? 0, endpoints: v?.endpoints.length ?? 0 };
    });
  }

  /** Stops every remote and the watch. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.entries.values()].map((e) => this.drop(e)));
    this.entries.clear();
  }

  /** Brings the running remotes in line with the Secrets. */
  private reconcile(): void {
    if (this.stopped) return;
    const wanted = new Map<string, RemoteClusterSpec>();
    for (const s of [...this.secrets.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
      let specs: RemoteClusterSpec[];
      try {
        specs = clustersOfSecret(s, this.opts.openSecret(s));
      } catch (err) {
        this.opts.log?.(`clusters: Secret ${s.metadata.namespace}/${s.metadata.name} cannot be opened: ${(err as Error).message}`);
        continue;
      }
      for (const spec of specs) {
        if (spec.name === this.opts.ownCluster) continue;
        if (wanted.has(spec.name)) {
          this.opts.log?.(`clusters: cluster ${spec.name} is named by Secrets ${wanted.get(spec.name)!.secret} and ${spec.secret}; using the first`);
          continue;
        }
        wanted.set(spec.name, spec);
      }
    }
    let changed = false;
    for (const [name, e] of this.entries) {
      const w = wanted.get(name);
      if (w && JSON.stringify(w) === e.key) continue;
      this.entries.delete(name);
      void this.drop(e);
      changed = true;
      if (!w) this.opts.log?.(`clusters: cluster ${name} removed (its endpoints are dropped)`);
    }
    for (const [name, spec] of wanted) {
      if (this.entries.has(name)) continue;
      this.entries.set(name, this.open(spec));
      changed = true;
    }
    if (changed) this.notifier.emit();
  }

  private open(spec: RemoteClusterSpec): Entry {
    const e: Entry = { spec, key: JSON.stringify(spec), expired: false, synced: false };
    const log = (line: string) => this.opts.log?.(line);
    try {
      e.registry = spec.kind === 'bowline'
        ? new BowlineRemoteRegistry({ cluster: spec.name, kubeconfig: spec.kubeconfig, localRoots: this.opts.localRoots, localMeshId: this.opts.localMeshId, log, ...(this.opts.backoffMs ? { backoffMs: this.opts.backoffMs } : {}) })
        : new KubernetesRegistry({ name: `cluster:${spec.name}`, kubeconfigText: spec.kubeconfig, domains: this.opts.domains, log: (level, line) => { if (level !== 'debug') log(line); } });
    } catch (err) {
      e.error = `BOWLINE_E_CLUSTER_INVALID: Secret ${spec.secret}, cluster ${spec.name}: ${(err as Error).message}`;
      log(`clusters: ${e.error}`);
      return e;
    }
    log(`clusters: watching ${spec.kind} cluster ${spec.name} (Secret ${spec.secret})`);
    e.unsub = e.registry.onChange(() => {
      this.observe(e);
      this.notifier.emit();
    });
    e.registry.start().then(() => { this.observe(e); this.notifier.emit(); }, (err: Error) => {
      e.error = `BOWLINE_E_CLUSTER_INVALID: cluster ${spec.name}: ${err.message}`;
      log(`clusters: ${e.error}`);
      this.notifier.emit();
    });
    return e;
  }

  /** Follows a remote's health: unhealthy since when, and its endpoints back when it answers again. */
  private observe(e: Entry): boolean {
    const healthy = e.registry?.status?.().healthy ?? true;
    if (healthy) {
      e.synced = true;
      e.unhealthySince = undefined;
      if (e.expired) {
        e.expired = false;
        this.opts.log?.(`clusters: cluster ${e.spec.name} answers again; its endpoints are back`);
        return true;
      }
      return false;
    }
    e.unhealthySince ??= this.now();
    return false;
  }

  private tick(): void {
    let changed = false;
    for (const e of this.entries.values()) {
      if (this.observe(e)) changed = true;
      if (!e.expired && e.unhealthySince !== undefined && this.now() - e.unhealthySince >= this.graceMs) {
        e.expired = true;
        changed = true;
        this.opts.log?.(`clusters: cluster ${e.spec.name} has not answered for ${Math.round((this.now() - e.unhealthySince) / 1000)} s (grace ${Math.round(this.graceMs / 1000)} s): its endpoints are dropped until it answers`);
      }
    }
    if (changed) this.notifier.emit();
  }

  private async drop(e: Entry): Promise<void> {
    e.unsub?.();
    try { await e.registry?.stop(); } catch {}
  }
}

/** A Kubernetes remote's endpoints carry its cluster id and network (the label, else the Secret's network annotation). */
function stampKubernetes(view: RegistryView, spec: RemoteClusterSpec): RegistryView {
  const topo = { cluster: spec.name, network: spec.network ?? '' };
  const endpoints = view.endpoints.map((e): Endpoint => {
    const network = e.network ?? networkOf(e.labels, topo);
    return { ...e, cluster: spec.name, ...(network ? { network } : {}) };
  });
  const workloads = view.workloads.filter(isNetworkGateway).map((w): Workload => ({ ...w, cluster: spec.name }));
  return { ...view, endpoints, workloads };
}
