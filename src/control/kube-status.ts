/**
 * With `--config-source kubernetes`, the mesh's status of VirtualServices and AuthorizationPolicies
 * (src/push/config-status.ts: validationMessages, conditions, observedGeneration) is written to
 * their `status` subresource in the apiserver, as istiod's status writer does, so that
 * `kubectl get vs -o yaml` shows it. Only the leader writes (src/store/kubernetes/leader.ts), as
 * field manager `bowline-REPLICA`; an object's status is written when it differs from what the
 * apiserver holds (compared with keys sorted: the apiserver returns a custom resource's keys
 * sorted), so a settled status is written once.
 */
import { kubeKind, objectPath } from '../store/kubernetes/kinds.js';
import { KubeRest } from '../store/kubernetes/rest.js';
import type { Store, StoredObject } from '../store/store.js';

/** What the writer reads and where it writes. */
export interface KubeStatusWriterOptions {
  kubeconfig?: string;
  store: Store;
  statusOf(obj: StoredObject): Record<string, unknown> | undefined;
  isLeader(): boolean;
  /** This replica's name: the field manager of its status writes is `bowline-NAME`. */
  replicaId: string;
  log(line: string): void;
}

/** JSON with every object's keys sorted: equal for equal values whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const KINDS = ['VirtualService', 'AuthorizationPolicy'];

/** A status writer: `sync()` after each new snapshot (runs one at a time; a call during a run runs once more after it). */
export function kubeStatusWriter(o: KubeStatusWriterOptions): { sync(): Promise<void> } {
  const rest = new KubeRest(o.kubeconfig);
  const manager = encodeURIComponent(`bowline-${o.replicaId}`.slice(0, 128));
  let running: Promise<void> | undefined;
  let again = false;
  const lastError = new Set<string>();
  // What this replica last wrote per object, with the object's resourceVersion it read then: until the
  // store's watch delivers the write (a newer resourceVersion), the store still shows the old status, and
  // comparing with it alone wrote the same status again on a busy apiserver.
  const written = new Map<string, { status: string; readAt: string | undefined }>();
  const once = async () => {
    if (!o.isLeader()) return;
    for (const kind of KINDS) {
      const k = kubeKind(kind)!;
      for (const obj of (await o.store.list(kind)).items) {
        const want = o.statusOf(obj);
        if (!want) continue;
        const have = (obj.status ?? {}) as Record<string, unknown>;
        const wanted = canonical(want);
        if (wanted === canonical(have)) continue;
        const key = `${kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
        const last = written.get(key);
        if (last && last.status === wanted && last.readAt === obj.metadata.resourceVersion) continue; // written; not yet seen back
        // A merge patch: keys the new status no longer has are removed with null.
        const patch: Record<string, unknown> = { ...want };
        for (const key of Object.keys(have)) if (!(key in want)) patch[key] = null;
        const what = `${kind} ${obj.metadata.namespace}/${obj.metadata.name}`;
        try {
          await rest.call('PATCH', `${objectPath(k, obj.metadata.namespace, obj.metadata.name)}/status?fieldManager=${manager}`, { status: patch }, 'application/merge-patch+json');
          written.set(key, { status: wanted, readAt: obj.metadata.resourceVersion });
          o.log(`status: wrote the status of ${what} (generation ${String(want.observedGeneration ?? '?')})`);
          lastError.delete(what);
        } catch (err) {
          if (!lastError.has(what)) o.log(`status: cannot write the status of ${what}: ${(err as Error).message}`);
          lastError.add(what);
        }
      }
    }
  };
  const sync = async (): Promise<void> => {
    if (running) { again = true; return running; }
    running = (async () => {
      do {
        again = false;
        try { await once(); } catch (err) { o.log(`status: ${(err as Error).message}`); }
      } while (again);
    })().finally(() => { running = undefined; });
    return running;
  };
  return { sync };
}
