/**
 * The mesh controller: keeps the current MeshSnapshot, built from the store's config resources
 * (normalised; legacy MeshPolicy/Policy mapped to PeerAuthentication; the `istio` ConfigMap's
 * mesh config) and the registries. Changes are debounced (quiet period) with a maximum delay,
 * so a burst of writes produces one snapshot.
 */
import { isKind, legacyToPeerAuthentication, normalize, parseMeshConfig } from '../api/index.js';
import { kindNames } from '../api/kinds.js';
import { credentialKey, decodeCredential, type Credential } from '../model/credential.js';
import type { MeshConfig } from '../api/types/mesh.js';
import type { Resource } from '../api/types/meta.js';
import { buildSnapshot, type MeshSnapshot } from '../model/snapshot.js';
import { DEFAULT_DOMAINS, type DomainSettings } from '../model/service.js';
import type { Registry } from '../registry/registry.js';
import { startInformer } from '../store/informer.js';
import type { Store, StoredObject, Watch } from '../store/store.js';
import type { VipAllocator } from './vips.js';

/** Options of the controller. */
export interface ControllerOptions {
  store: Store;
  registry: Registry;
  /** The mesh config (the control plane's MeshConfigSource feeds updates through `setMesh`). */
  mesh: MeshConfig;
  /** Also read the `istio` ConfigMap of the root namespace from the store (standalone use, e.g. the benchmark). Default false. */
  readConfigMap?: boolean;
  domains?: DomainSettings;
  /** Quiet period before rebuilding (default 20 ms). */
  debounceMs?: number;
  /** Longest a change waits while changes keep coming (default 100 ms). */
  maxDelayMs?: number;
  now?: () => number;
  /** Allocates virtual IPs for services without addresses (bowline up always passes one; tests may not). */
  vips?: VipAllocator;
  /** Opens a stored Secret's sealed `data` (base64 values); without it Secrets give no credentials. */
  openSecret?: (obj: StoredObject) => Record<string, string>;
  /** Where a Secret that cannot be opened is reported (default: nowhere). */
  log?: (line: string) => void;
  /** This control plane's network (`bowline up --network`), for proxies that do not name theirs. */
  network?: string;
}

/** Builds snapshots from the store and the registries. */
export class MeshController {
  private objects = new Map<string, StoredObject>();
  private watch?: Watch;
  private unsub?: () => void;
  private snap?: MeshSnapshot;
  private listeners = new Set<(s: MeshSnapshot) => void>();
  private timer?: NodeJS.Timeout;
  private firstPendingAt = 0;
  private readonly now: () => number;
  /** Number of snapshots built. */
  builds = 0;
  /** Milliseconds the last build took. */
  lastBuildMs = 0;

  constructor(private readonly opts: ControllerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads everything, builds the first snapshot and starts watching. */
  async start(): Promise<MeshSnapshot> {
    await this.opts.registry.start();
    await this.opts.vips?.start();
    // Listed again (and a snapshot built) whenever the watch expires.
    let listed = false;
    this.watch = await startInformer(this.opts.store, {
      kinds: [...kindNames, 'ConfigMap', 'Secret'], watch: {},
      onList: (items) => {
        this.objects = new Map(items.map((o) => [key(o), o]));
        if (listed) this.schedule();
        listed = true;
      },
      onEvent: (ev) => {
        if (ev.type === 'DELETED') this.objects.delete(key(ev.object));
        else this.objects.set(key(ev.object), ev.object);
        this.schedule();
      },
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    this.unsub = this.opts.registry.onChange(() => this.schedule());
    this.rebuild();
    return this.snap!;
  }

  /** The current snapshot. */
  current(): MeshSnapshot {
    return this.snap!;
  }

  /** Calls `fn` with every new snapshot; returns the unsubscribe function. */
  onSnapshot(fn: (s: MeshSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.watch?.close();
    this.unsub?.();
    this.opts.vips?.stop();
    await this.opts.registry.stop();
  }

  /** Notes a change now; the snapshot is rebuilt after the quiet period, or at the max delay. */
  schedule(): void {
    const now = this.now();
    if (!this.firstPendingAt) this.firstPendingAt = now;
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.min(this.opts.debounceMs ?? 20, Math.max(0, this.firstPendingAt + (this.opts.maxDelayMs ?? 100) - now));
    this.timer = setTimeout(() => this.rebuild(), wait);
  }

  /** Replaces the mesh config (from the control plane's mesh config source) and rebuilds. */
  setMesh(m: MeshConfig): void {
    this.opts.mesh = m;
    this.schedule();
  }

  private meshConfig(): MeshConfig {
    if (!this.opts.readConfigMap) return this.opts.mesh;
    const root = (this.opts.mesh.rootNamespace as string) ?? 'istio-system';
    const cm = this.objects.get(`ConfigMap/${root}/istio`) as { data?: { mesh?: unknown } } | undefined;
    if (cm && typeof cm.data?.mesh === 'string') {
      const { mesh, violations } = parseMeshConfig(cm.data.mesh);
      if (!violations.some((v) => v.severity === 'error')) return mesh;
    }
    return this.opts.mesh;
  }

  /** TLS credentials of the stored Secrets (decoded once per stored version). */
  private credentials(): Map<string, Credential> {
    const out = new Map<string, Credential>();
    const open = this.opts.openSecret;
    if (!open) return out;
    for (const o of this.objects.values()) {
      if (o.kind !== 'Secret') continue;
      let c = decoded.get(o);
      if (c === undefined) {
        try {
          c = decodeCredential(open(o)) ?? null;
        } catch (err) {
          this.opts.log?.(`Secret ${o.metadata.namespace}/${o.metadata.name} cannot be opened: ${(err as Error).message}`);
          c = { problem: `it cannot be opened: ${(err as Error).message}` };
        }
        decoded.set(o, c);
      }
      if (c) out.set(credentialKey(o.metadata.namespace ?? 'default', o.metadata.name), c);
    }
    return out;
  }

  private rebuild(): void {
    this.timer = undefined;
    const changedAt = this.firstPendingAt || this.now();
    this.firstPendingAt = 0;
    const t0 = performance.now();
    const mesh = this.meshConfig();
    const configs: Resource[] = [];
    for (const o of this.objects.values()) {
      if (!isKind(o.kind)) continue;
      let r = normalized.get(o);
      if (!r) {
        try {
          r = normalize(o as unknown as Resource);
          // Cluster-scoped kinds (MeshPolicy) are stored under a placeholder namespace by the config API.
          if (r.metadata.namespace === CLUSTER_SCOPE_NAMESPACE) {
            const { namespace: _ns, ...metadata } = r.metadata;
            r = { ...r, metadata };
          }
        } catch {
          continue;
        }
        normalized.set(o, r);
      }
      if (r.kind === 'MeshPolicy' || r.kind === 'Policy') configs.push(...legacyToPeerAuthentication(r, { rootNamespace: mesh.rootNamespace }).resources);
      configs.push(r);
    }
    const credentials = this.credentials();
    const view = this.opts.registry.view();
    if (this.opts.vips) view.services = this.opts.vips.assign(view.services);
    this.snap = buildSnapshot({ configs, ...view, mesh, domains: this.opts.domains ?? DEFAULT_DOMAINS, credentials, ...(this.opts.network ? { network: this.opts.network } : {}) }, this.snap, changedAt);
    this.builds++;
    this.lastBuildMs = performance.now() - t0;
    if (this.snap.changed.size) for (const l of this.listeners) l(this.snap);
  }
}

/** The namespace the config API stores cluster-scoped kinds under (src/control/kinds.ts). */
const CLUSTER_SCOPE_NAMESPACE = '_cluster';

const normalized = new WeakMap<StoredObject, Resource>();
/** A stored Secret's credential (null: not a TLS Secret), per stored version. */
const decoded = new WeakMap<StoredObject, Credential | null>();

function key(o: StoredObject): string {
  return `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
}
