/**
 * The proxies of every live replica: this replica's own (its push server's status) and each peer's
 * (`GET /debug/syncz?local=1`, asked in parallel with a deadline), each entry naming the replica
 * that holds its stream. A peer that does not answer is listed as unreachable; it never fails the whole.
 */
import type { ProxyStatus } from '../../push/server/connection.js';
import type { Peers, UnreachableReplica } from './peers.js';
import type { ReplicaRecord } from './presence.js';

/** A proxy and the replica its push stream is connected to. */
export type ReplicaProxyStatus = ProxyStatus & { replica: string };

/** What one peer said to `GET /debug/syncz?local=1`: its proxies, or why it did not answer. */
export type PeerSyncz = { peer: ReplicaRecord; proxies: ProxyStatus[] } | { peer: ReplicaRecord; error: string };

/** The proxies of every replica that answered, with the replicas asked. */
export interface GatheredProxies {
  /** Sorted by id, then replica (a proxy that just moved may briefly show on two). */
  proxies: ReplicaProxyStatus[];
  /** The replicas that answered (this one first), with their API URL and number of proxies. */
  replicas: Array<{ id: string; apiUrl?: string; proxies: number }>;
  unreachable: UnreachableReplica[];
  /** The record of each peer that answered, by id (where to ask for one of its proxies). */
  peers: Map<string, ReplicaRecord>;
  /** Set when the presence records could not be read (the store does not answer): the peers are unknown. */
  peersUnknown?: string;
}

/** The proxy list in a peer's syncz body, or a sentence saying why it is not one. */
export function peerProxies(status: number, body: unknown): ProxyStatus[] | string {
  const b = body as { proxies?: unknown; message?: unknown } | null;
  if (status !== 200) return `answered ${status}${typeof b?.message === 'string' ? `: ${b.message}` : ''}`;
  const list: unknown = b?.proxies;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'object' && p !== null && typeof (p as ProxyStatus).id === 'string')) return 'answered without a proxy list';
  return list as ProxyStatus[];
}

/** Merges this replica's proxies with its peers' answers (pure: the unit tests' entry). */
export function mergeProxies(self: { id: string; apiUrl?: string }, local: readonly ProxyStatus[], answers: readonly PeerSyncz[]): GatheredProxies {
  const proxies: ReplicaProxyStatus[] = local.map((p) => ({ ...p, replica: self.id }));
  const replicas: GatheredProxies['replicas'] = [{ id: self.id, ...(self.apiUrl ? { apiUrl: self.apiUrl } : {}), proxies: local.length }];
  const unreachable: UnreachableReplica[] = [];
  const peers = new Map<string, ReplicaRecord>();
  for (const a of answers) {
    if ('error' in a) {
      unreachable.push({ id: a.peer.id, apiUrl: a.peer.apiUrl, error: a.error });
      continue;
    }
    peers.set(a.peer.id, a.peer);
    replicas.push({ id: a.peer.id, apiUrl: a.peer.apiUrl, proxies: a.proxies.length });
    for (const p of a.proxies) proxies.push({ ...p, replica: a.peer.id });
  }
  proxies.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : x.replica < y.replica ? -1 : x.replica > y.replica ? 1 : 0));
  replicas.sort((x, y) => (x.id === self.id ? -1 : y.id === self.id ? 1 : x.id < y.id ? -1 : 1));
  unreachable.sort((x, y) => (x.id < y.id ? -1 : 1));
  return { proxies, replicas, unreachable, peers };
}

/** Asks every peer for its proxies (in parallel, each with the peers' deadline) and merges them with `local`. */
export async function gatherProxies(self: { id: string; apiUrl?: string }, local: readonly ProxyStatus[], peers: Peers): Promise<GatheredProxies> {
  let others: ReplicaRecord[];
  try {
    // A record at this replica's own URL is an earlier run of it (restarted with another id, its lease not ended yet).
    others = (await peers.others()).filter((r) => !self.apiUrl || r.apiUrl !== self.apiUrl);
  } catch (err) {
    // The store does not answer: the peers are unknown, this replica's own proxies are still the truth it has.
    return { ...mergeProxies(self, local, []), peersUnknown: `the replicas' presence records cannot be read: ${(err as Error).message}` };
  }
  const answers = await Promise.all(others.map(async (peer): Promise<PeerSyncz> => {
    try {
      const r = await peers.get(peer, '/debug/syncz?local=1');
      const proxies = peerProxies(r.status, r.body);
      return typeof proxies === 'string' ? { peer, error: proxies } : { peer, proxies };
    } catch (err) {
      return { peer, error: (err as Error).message };
    }
  }));
  return mergeProxies(self, local, answers);
}

/** The proxy `q` names among `proxies` (an exact id, else a unique prefix), the newest stream when it shows on two replicas. */
export function findReplicaProxy(proxies: readonly ReplicaProxyStatus[], q: string): ReplicaProxyStatus | undefined {
  let hits = proxies.filter((p) => p.id === q);
  if (hits.length === 0) {
    hits = proxies.filter((p) => p.id.startsWith(q));
    if (new Set(hits.map((p) => p.id)).size !== 1) return undefined;
  }
  return hits.reduce<ReplicaProxyStatus | undefined>((best, p) => (!best || p.connectedAt > best.connectedAt ? p : best), undefined);
}
