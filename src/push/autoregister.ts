/**
 * WorkloadGroup auto-registration (Istio's autoRegistration): a proxy whose hello names a
 * WorkloadGroup (`bowline proxy --workload-group`, what `bowline join` starts) is registered as a
 * WorkloadEntry created from the group's template -- its one registration, instead of the
 * universal one. The entry is named `GROUP-ADDRESS`, carries the template's labels, service
 * account, ports, network and locality, the proxy's address, `security.istio.io/tlsMode: istio`,
 * and Istio's annotations (`istio.io/autoRegistrationGroup`, `istio.io/workloadController`,
 * `istio.io/connectedAt`), and is owned by the group. ServiceEntries (and Services) select it by
 * label, as in Istio.
 *
 * Liveness is a lease, like universal registrations: a raw key `registry/autoregistered/NS/NAME`
 * with a TTL, renewed while the stream lives. When it runs out (the proxy has been gone for the
 * grace period, default 30 s) the entry is deleted, by whichever control plane sees the expiry;
 * at start, entries whose lease is gone (expired while no control plane ran) are deleted too.
 * A group that does not exist, or whose template names another service account than the one the
 * stream proved, refuses the registration (the proxy is told why and retries).
 *
 * Health (Istio's): a group with a `probe` marks its entries `proxy.istio.io/health-checks-enabled`;
 * the proxy runs the probe and reports it (`health`, protocol 8), recorded as the entry's
 * `status.conditions[type=Healthy]`. Such an entry is unhealthy -- its endpoints get no traffic --
 * until its proxy reports it healthy (serviceentry registry: entryHealthy). A proxy that stops for
 * good says `leave` and its entry is deleted at once, not after the grace period.
 */
import type { WorkloadEntrySpec } from '../api/types/networking.js';
import type { Announcement, Registration } from '../registry/universal/universal.js';
import { isStoreError, type Store, type StoredObject, type Watch } from '../store/store.js';

/** Key prefix of the leases of auto-registered WorkloadEntries. */
export const AUTOREG_PREFIX = 'registry/autoregistered/';
/** Istio's annotation naming the group an entry was created from. */
export const GROUP_ANNOTATION = 'istio.io/autoRegistrationGroup';
const CONTROLLER_ANNOTATION = 'istio.io/workloadController';
const CONNECTED_ANNOTATION = 'istio.io/connectedAt';
const PROXY_ANNOTATION = 'bowline.io/proxy-id';
/** Istio's annotation: the entry's health comes from its proxy's probe (status condition Healthy). */
export const HEALTH_CHECKS_ANNOTATION = 'proxy.istio.io/health-checks-enabled';
/** Istio's condition type for a WorkloadEntry's probe result. */
export const HEALTHY_CONDITION = 'Healthy';

/** Why a registration was refused (the push server closes the stream with this code). */
export class AutoRegistrationError extends Error {
  readonly code = 'BOWLINE_E_PUSH_WORKLOAD_GROUP';
  override name = 'AutoRegistrationError';
}

interface GroupSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  template?: WorkloadEntrySpec;
  probe?: Record<string, unknown>;
}

/** One status condition, Kubernetes-shaped (Istio's WorkloadEntry `Healthy`). */
interface Condition { type: string; status: 'True' | 'False'; lastProbeTime: string; lastTransitionTime: string; reason?: string; message?: string }

/** The WorkloadEntry name for a group member at `address` (Istio: GROUP-IP). */
export function autoEntryName(group: string, address: string): string {
  return `${group}-${address.replace(/[:%]/g, '-')}`.toLowerCase();
}

/** Options: lease length (the grace period after a stream closes), timers (tests inject fakes). */
export interface AutoRegistrarOptions {
  ttlMs?: number;
  log?: (line: string) => void;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (h: unknown) => void;
}

/** Creates WorkloadEntries for proxies joining a WorkloadGroup, and removes them after their grace period. */
export class AutoRegistrar {
  private watch?: Watch;
  private readonly ttlMs: number;

  constructor(private readonly store: Store, private readonly opts: AutoRegistrarOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 30_000;
  }

  /** Deletes entries whose lease is gone and follows lease expiry. */
  async start(): Promise<void> {
    const { entries, revision } = await this.store.listRaw(AUTOREG_PREFIX);
    const live = new Set(entries.map((e) => e.key));
    const { items } = await this.store.list('WorkloadEntry');
    for (const we of items) {
      if (we.metadata.annotations?.[GROUP_ANNOTATION] && !live.has(leaseKey(we.metadata.namespace, we.metadata.name))) await this.remove(we.metadata.namespace, we.metadata.name, 'its proxy did not come back while no control plane ran');
    }
    this.watch = this.store.watchRaw(AUTOREG_PREFIX, (ev) => {
      if (ev.type !== 'DELETED') return;
      const [ns, name] = ev.object.key.slice(AUTOREG_PREFIX.length).split('/').map(decodeURIComponent);
      if (ns && name) void this.remove(ns, name, `its proxy has been disconnected for ${this.ttlMs} ms`);
    }, { fromRevision: revision });
  }

  /** Stops following leases (entries stay until their lease runs out). */
  stop(): void {
    this.watch?.close();
  }

  /** Registers a proxy of a WorkloadGroup; throws AutoRegistrationError when the group refuses it. */
  async register(proxyId: string, a: Announcement & { workloadGroup: string }): Promise<Registration> {
    let group: StoredObject;
    try {
      group = await this.store.get('WorkloadGroup', a.namespace, a.workloadGroup);
    } catch (err) {
      if (isStoreError(err, 'NotFound')) throw new AutoRegistrationError(`WorkloadGroup ${a.namespace}/${a.workloadGroup} does not exist: apply it (bowline vm bundle -f applies it) before the workload joins`);
      throw err;
    }
    const spec = (group as unknown as { spec?: GroupSpec }).spec ?? {};
    const tpl = spec.template ?? {};
    const sa = tpl.serviceAccount ?? 'default';
    if (sa !== a.serviceAccount) throw new AutoRegistrationError(`WorkloadGroup ${a.namespace}/${a.workloadGroup} runs as service account "${sa}", but the proxy proved "${a.serviceAccount}": make a bundle for the group's service account`);
    const name = autoEntryName(a.workloadGroup, a.address);
    const key = leaseKey(a.namespace, name);
    await this.store.putRaw(key, proxyId, { ttlMs: this.ttlMs });
    const entrySpec: WorkloadEntrySpec = {
      ...tpl,
      address: a.address,
      labels: { ...(spec.metadata?.labels ?? {}), ...(tpl.labels ?? {}), ...a.labels, ...(a.tlsMode === 'disabled' ? {} : { 'security.istio.io/tlsMode': 'istio' }) },
      serviceAccount: sa,
      ...(a.locality && !tpl.locality ? { locality: a.locality } : {}),
    };
    const now = new Date((this.opts.now ?? Date.now)()).toISOString();
    const entry: StoredObject = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: {
        name, namespace: a.namespace,
        labels: entrySpec.labels!,
        annotations: {
          ...(spec.metadata?.annotations ?? {}), [GROUP_ANNOTATION]: a.workloadGroup, [CONTROLLER_ANNOTATION]: 'bowline', [CONNECTED_ANNOTATION]: now, [PROXY_ANNOTATION]: proxyId,
          ...(spec.probe ? { [HEALTH_CHECKS_ANNOTATION]: 'true' } : {}),
        },
        ownerReferences: [{ apiVersion: group.apiVersion, kind: 'WorkloadGroup', name: a.workloadGroup, uid: group.metadata.uid, controller: true }],
      },
      spec: entrySpec,
    };
    try {
      await this.store.create(entry);
    } catch (err) {
      if (!isStoreError(err, 'AlreadyExists')) throw err;
      // A reconnect: the health its proxy reported stays until the proxy reports again.
      const old = await this.store.get('WorkloadEntry', a.namespace, name).catch(() => undefined);
      const status = (old as { status?: unknown } | undefined)?.status;
      await this.store.update(spec.probe && status ? { ...entry, status } as StoredObject : entry);
    }
    this.opts.log?.(`autoregistration: WorkloadEntry ${a.namespace}/${name} for proxy ${proxyId} (WorkloadGroup ${a.workloadGroup})`);
    const si = this.opts.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms).unref());
    const ci = this.opts.clearInterval ?? ((h: unknown) => clearInterval(h as NodeJS.Timeout));
    const timer = si(() => {
      this.store.keepAlive(key).catch(() => this.store.putRaw(key, proxyId, { ttlMs: this.ttlMs }).catch(() => {}));
    }, Math.max(100, Math.floor(this.ttlMs / 3)));
    return {
      // Labels or services changed on a reconnect: the entry follows its template, nothing to rewrite per hello.
      update: async () => {},
      close: () => ci(timer),
      health: (healthy, message) => this.recordHealth(a.namespace, name, proxyId, healthy, message),
      remove: async () => {
        ci(timer);
        await this.store.deleteRaw(key);
        await this.remove(a.namespace, name, `its proxy ${proxyId} left`);
      },
    };
  }

  /** Writes the probe result as the entry's Healthy condition (only for the proxy that owns the entry; retried on a conflicting write). */
  private async recordHealth(ns: string, name: string, proxyId: string, healthy: boolean, message?: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let we: StoredObject;
      try {
        we = await this.store.get('WorkloadEntry', ns, name);
      } catch (err) {
        if (isStoreError(err, 'NotFound')) return;
        throw err;
      }
      if (we.metadata.annotations?.[PROXY_ANNOTATION] !== proxyId) return;
      const now = new Date((this.opts.now ?? Date.now)()).toISOString();
      const status = ((we as { status?: { conditions?: Condition[] } }).status ?? {});
      const old = (status.conditions ?? []).find((c) => c.type === HEALTHY_CONDITION);
      const value = healthy ? 'True' : 'False';
      const cond: Condition = {
        type: HEALTHY_CONDITION, status: value, lastProbeTime: now, lastTransitionTime: old?.status === value ? old.lastTransitionTime : now,
        ...(healthy ? {} : { reason: 'HealthCheckFailed', message: message ?? 'the probe failed' }),
      };
      const next = { ...we, status: { ...status, conditions: [...(status.conditions ?? []).filter((c) => c.type !== HEALTHY_CONDITION), cond] } } as StoredObject;
      try {
        await this.store.update(next);
        if (old?.status !== value) this.opts.log?.(`autoregistration: WorkloadEntry ${ns}/${name} ${healthy ? 'healthy' : `unhealthy: ${cond.message}`}`);
        return;
      } catch (err) {
        if (!isStoreError(err, 'Conflict')) throw err;
      }
    }
  }

  private async remove(ns: string, name: string, why: string): Promise<void> {
    try {
      const we = await this.store.get('WorkloadEntry', ns, name);
      if (!we.metadata.annotations?.[GROUP_ANNOTATION]) return;
      // Reconnected meanwhile (a new lease): keep it.
      if (await this.store.getRaw(leaseKey(ns, name))) return;
      await this.store.delete('WorkloadEntry', ns, name, we.metadata.resourceVersion);
      this.opts.log?.(`autoregistration: WorkloadEntry ${ns}/${name} removed: ${why}`);
    } catch (err) {
      if (!isStoreError(err, 'NotFound') && !isStoreError(err, 'Conflict')) this.opts.log?.(`autoregistration: WorkloadEntry ${ns}/${name} not removed: ${(err as Error).message}`);
    }
  }
}

function leaseKey(ns: string, name: string): string {
  return `${AUTOREG_PREFIX}${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
}
