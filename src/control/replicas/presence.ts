/**
 * Replica presence: each control-plane replica on a shared store (etcd, or a cluster's apiserver)
 * keeps a small record under `replicas/ID` with a TTL, renewed while it runs and deleted on a clean
 * close, so that its peers know where to ask for the proxies connected to it (`/debug/syncz`,
 * `/debug/config_dump`, `bowline explain`: src/control/replicas/debug.ts). Beside it, the replica
 * keeps its peer credential: an API token of scope `replica` with the same TTL (api-tokens.ts),
 * whose secret only this process holds.
 */
import { isStoreError, type Store } from '../../store/index.js';
import type { ApiTokens } from '../api-tokens.js';

/** The raw-key prefix of presence records (docs/store.md). */
export const REPLICA_PREFIX = 'replicas/';

/** How long a presence record outlives its last renewal by default (renewed every third of it). */
export const DEFAULT_PRESENCE_TTL_MS = 15_000;

/** What a replica publishes of itself. */
export interface ReplicaRecord {
  /** The replica's id (`--replica-id`, default HOSTNAME-PID). */
  id: string;
  /** Base URL of its API listener (config API and /debug/*) as its peers reach it. */
  apiUrl: string;
  /** When it started (ISO 8601). */
  startedAt: string;
}

/** Parses a stored presence record; undefined when it is not one. */
export function parseReplicaRecord(value: string): ReplicaRecord | undefined {
  try {
    const r = JSON.parse(value) as ReplicaRecord;
    return typeof r.id === 'string' && r.id !== '' && typeof r.apiUrl === 'string' && /^https?:\/\//.test(r.apiUrl) && typeof r.startedAt === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Every replica with a live presence record, sorted by id (damaged records are left out). */
export async function listReplicas(store: Store): Promise<ReplicaRecord[]> {
  const { entries } = await store.listRaw(REPLICA_PREFIX);
  return entries.map((e) => parseReplicaRecord(e.value)).filter((r): r is ReplicaRecord => r !== undefined).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The running publication: the peer credential to send, and `close()` (deletes both keys). */
export interface ReplicaPresence {
  readonly record: ReplicaRecord;
  /** The bearer token this replica sends to its peers (scope `replica`); changes when re-minted. */
  token(): string;
  /** Renews both keys now, re-creating an expired one (a timer calls it every ttl/3); never throws (failures are logged). */
  renew(): Promise<void>;
  close(): Promise<void>;
}

/** The key a record is kept under. */
export function replicaKey(id: string): string {
  return REPLICA_PREFIX + encodeURIComponent(id);
}

/**
 * Publishes `record` with `ttlMs` and the replica's peer token, renews both every ttl/3 (re-creating
 * what expired, e.g. after the store was unreachable for longer than the TTL), and deletes both on close.
 */
export async function publishPresence(o: { store: Store; tokens: ApiTokens; record: ReplicaRecord; ttlMs?: number; log(line: string): void }): Promise<ReplicaPresence> {
  const ttlMs = o.ttlMs ?? DEFAULT_PRESENCE_TTL_MS;
  const key = replicaKey(o.record.id);
  const value = JSON.stringify(o.record);
  let peer = await o.tokens.mintReplicaToken(o.record.id, ttlMs);
  await o.store.putRaw(key, value, { ttlMs });
  let closed = false;
  let failing = false;
  const renew = async (): Promise<void> => {
    try {
      await o.store.keepAlive(key).catch(async (err) => {
        if (!isStoreError(err, 'NotFound')) throw err;
        await o.store.putRaw(key, value, { ttlMs });
      });
      await o.tokens.renewReplicaToken(peer.id).catch(async (err) => {
        if (!isStoreError(err, 'NotFound')) throw err;
        peer = await o.tokens.mintReplicaToken(o.record.id, ttlMs);
      });
      if (failing) o.log(`replicas: presence of ${o.record.id} renewed again`);
      failing = false;
    } catch (err) {
      // Logged once per outage: the store's own logs say more; the next tick tries again.
      if (!failing) o.log(`replicas: cannot renew the presence of ${o.record.id} (${(err as Error).message}); peers stop seeing this replica if it lasts ${ttlMs} ms`);
      failing = true;
    }
  };
  let running: Promise<void> | undefined;
  const tick = (): Promise<void> => {
    if (closed) return Promise.resolve();
    running ??= renew().finally(() => { running = undefined; });
    return running;
  };
  const timer = setInterval(() => void tick(), Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    record: o.record,
    token: () => peer.token,
    renew: tick,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await running;
      await Promise.allSettled([o.store.deleteRaw(key), o.tokens.revokeReplicaToken(peer.id)]);
    },
  };
}

/**
 * The API URL this replica tells its peers: `advertise` when given (`bowline up --advertise-api`), else
 * the bound URL; a wildcard listener (0.0.0.0, ::) is reached at `hostAddress` (the host's first
 * non-loopback IPv4 address, which the API's TLS certificate then also names).
 */
export function advertisedApiUrl(o: { scheme: 'http' | 'https'; listenHost: string; port: number; advertise?: string; hostAddress?: string }): string {
  if (o.advertise) return o.advertise.replace(/\/+$/, '');
  const wildcard = o.listenHost === '0.0.0.0' || o.listenHost === '::' || o.listenHost === '';
  const host = wildcard ? o.hostAddress ?? '127.0.0.1' : o.listenHost;
  return `${o.scheme}://${host.includes(':') ? `[${host}]` : host}:${o.port}`;
}
