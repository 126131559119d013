/**
 * List-then-watch of a store that lists again when its watch expires, as Kubernetes' informers
 * relist on 410 Gone: the embedded and etcd stores expire a watch whose revision was compacted
 * away; a Kubernetes apiserver also expires one that starts before a just-created CRD's watch
 * cache (`--config-source kubernetes` on a fresh cluster). Without this, a consumer whose watch
 * expired would keep its last state forever.
 */
import type { Store, StoredObject, Watch, WatchEvent } from './store.js';

/** What to list and follow. */
export interface InformerOptions {
  /** Kinds listed at start and at every relist. */
  kinds: readonly string[];
  /** The watch filter (default: the single kind of `kinds` when there is one, else every kind). */
  watch?: { kind?: string; namespace?: string };
  namespace?: string;
  /** Every listed object, at start and after each relist: the consumer replaces its state. */
  onList(items: StoredObject[]): void;
  onEvent(ev: WatchEvent): void;
  /** Where relists are reported. */
  log?(line: string): void;
}

/** Lists and watches; the first list's failure rejects, later ones are retried with a backoff (100 ms to 5 s). */
export async function startInformer(store: Store, o: InformerOptions): Promise<Watch> {
  const filter = o.watch ?? (o.kinds.length === 1 ? { kind: o.kinds[0]!, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}) } : {});
  let closed = false;
  let watch: Watch | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = 100;
  const sync = async (): Promise<void> => {
    const revision = await store.revision();
    const items: StoredObject[] = [];
    for (const kind of o.kinds) items.push(...(await store.list(kind, o.namespace)).items);
    if (closed) return;
    o.onList(items);
    watch = store.watch(filter, (ev) => { delay = 100; o.onEvent(ev); }, {
      fromRevision: revision,
      onError: (err) => {
        if (closed) return;
        o.log?.(`watch of ${o.kinds.join(', ')} ended (${err.message}): listing again`);
        watch = undefined;
        again();
      },
    });
  };
  const again = () => {
    timer = setTimeout(() => {
      timer = undefined;
      sync().catch((err: Error) => {
        o.log?.(`listing ${o.kinds.join(', ')} again failed (${err.message}); retrying in ${delay} ms`);
        delay = Math.min(delay * 2, 5_000);
        if (!closed) again();
      });
    }, delay);
  };
  await sync();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watch?.close();
    },
  };
}
