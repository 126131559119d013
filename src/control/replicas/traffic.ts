/**
 * The mesh's recent traffic on replicas that share a store. A proxy reports its traffic over its push
 * stream, so each replica's window (src/push/server/stats-window.ts) holds the reports of the proxies
 * connected to it, and no report reaches two replicas. The mesh's traffic is the sum: this replica's
 * window plus each peer's (`GET /debug/statsz?local=1`, raw counts and latency buckets per slot, asked
 * in parallel with the peers' deadline), added slot by slot into a copy -- quantiles are taken from the
 * summed buckets, never averaged. A peer that does not answer is named; it never fails the whole.
 */
import { StatsWindow, type EdgeFilter, type EdgeStats, type SeriesPoint, type StatsExport } from '../../push/server/stats-window.js';
import type { Peers, UnreachableReplica } from './peers.js';
import type { ReplicaRecord } from './presence.js';

/** Every replica's traffic in one window, with who answered. */
export interface GatheredTraffic {
  /** A window holding this replica's slots and every answering peer's (query it as the local one). */
  window: StatsWindow;
  /** The replicas whose traffic is in `window` (this one first), with how many edges each gave. */
  replicas: Array<{ id: string; apiUrl?: string; edges: number }>;
  unreachable: UnreachableReplica[];
  /** Set when the presence records could not be read: only this replica's traffic is in `window`. */
  peersUnknown?: string;
}

/** The query of a peer's statsz for `periodMs` and `filter`. */
export function statszQuery(periodMs: number, filter: EdgeFilter = {}): string {
  const q = new URLSearchParams({ local: '1', periodMs: String(Math.round(periodMs)) });
  for (const k of ['service', 'workload', 'namespace'] as const) if (filter[k] !== undefined) q.set(k, filter[k]!);
  return `/debug/statsz?${q.toString()}`;
}

/** The export in a peer's statsz body, or a sentence saying why there is none. */
export function peerExport(status: number, body: unknown): StatsExport | string {
  const b = body as { window?: Partial<StatsExport>; message?: unknown } | null;
  if (status !== 200) return `answered ${status}${typeof b?.message === 'string' ? `: ${b.message}` : ''}`;
  const w = b?.window;
  if (typeof w !== 'object' || w === null || typeof w.slotMs !== 'number' || !Array.isArray(w.boundsMs) || !Array.isArray(w.slots)) return 'answered without a traffic window';
  if (!w.slots.every((s) => typeof s === 'object' && s !== null && typeof s.start === 'number' && Array.isArray(s.edges))) return 'answered a traffic window with malformed slots';
  return w as StatsExport;
}

/** Adds this replica's window and the peers' answers into one window (pure: the unit tests' entry). */
export function mergeTraffic(
  self: { id: string; apiUrl?: string }, local: StatsWindow, answers: ReadonlyArray<{ peer: ReplicaRecord; export: StatsExport } | { peer: ReplicaRecord; error: string }>,
  periodMs: number, filter: EdgeFilter = {},
): GatheredTraffic {
  const window = new StatsWindow({ slotMs: local.slotMs, windowMs: local.windowMs, maxKeys: Number.MAX_SAFE_INTEGER, now: local.now });
  const own = local.export(periodMs, filter);
  window.absorb(own);
  const replicas: GatheredTraffic['replicas'] = [{ id: self.id, ...(self.apiUrl ? { apiUrl: self.apiUrl } : {}), edges: own.slots.reduce((n, s) => n + s.edges.length, 0) }];
  const unreachable: UnreachableReplica[] = [];
  for (const a of answers) {
    if ('error' in a) { unreachable.push({ id: a.peer.id, apiUrl: a.peer.apiUrl, error: a.error }); continue; }
    try {
      const refused = window.absorb(a.export);
      const edges = a.export.slots.reduce((n, s) => n + s.edges.length, 0);
      replicas.push({ id: a.peer.id, apiUrl: a.peer.apiUrl, edges: edges - refused });
      if (refused > 0) unreachable.push({ id: a.peer.id, apiUrl: a.peer.apiUrl, error: `${refused} of its ${edges} edges were malformed and left out` });
    } catch (err) {
      unreachable.push({ id: a.peer.id, apiUrl: a.peer.apiUrl, error: `its traffic window cannot be added: ${(err as Error).message}` });
    }
  }
  replicas.sort((x, y) => (x.id === self.id ? -1 : y.id === self.id ? 1 : x.id < y.id ? -1 : 1));
  unreachable.sort((x, y) => (x.id < y.id ? -1 : 1));
  return { window, replicas, unreachable };
}

/** Asks every peer for its traffic over the last `periodMs` (matching `filter`) and adds it to this replica's. */
export async function gatherTraffic(self: { id: string; apiUrl?: string }, local: StatsWindow, peers: Peers, periodMs: number, filter: EdgeFilter = {}): Promise<GatheredTraffic> {
  let others: ReplicaRecord[];
  try {
    // A record at this replica's own URL is an earlier run of it (see gatherProxies).
    others = (await peers.others()).filter((r) => !self.apiUrl || r.apiUrl !== self.apiUrl);
  } catch (err) {
    return { ...mergeTraffic(self, local, [], periodMs, filter), peersUnknown: `the replicas' presence records cannot be read: ${(err as Error).message}` };
  }
  const answers = await Promise.all(others.map(async (peer) => {
    try {
      const r = await peers.get(peer, statszQuery(periodMs, filter));
      const x = peerExport(r.status, r.body);
      return typeof x === 'string' ? { peer, error: x } : { peer, export: x };
    } catch (err) {
      return { peer, error: (err as Error).message };
    }
  }));
  return mergeTraffic(self, local, answers, periodMs, filter);
}

/** Sentences naming the replicas whose traffic is missing from a gathered window (for explain's warnings, the dashboard's note). */
export function missingTraffic(t: GatheredTraffic): string[] {
  const out = t.unreachable.map((u) => `traffic reported to replica ${u.id} (${u.apiUrl}) is not included: ${u.error}`);
  if (t.peersUnknown) out.push(`${t.peersUnknown}: only the traffic reported to replica ${t.replicas[0]?.id ?? 'this one'} is included`);
  return out;
}

/** The dashboard's traffic (src/dashboard/api.ts TrafficSource) on replicas that share a store: every replica's, each answer kept `ttlMs`. */
export interface ReplicaTrafficSource {
  readonly name: 'push';
  graphEdges(periodMs: number): Promise<EdgeStats[]>;
  series(filter: EdgeFilter, periodMs: number): Promise<SeriesPoint[]>;
  /** Sentences naming the replicas the last answer is missing (missingTraffic). */
  missing(): string[];
}

/**
 * Every replica's traffic for the dashboard. Its pages poll every few seconds, each poll would ask
 * every peer again (and wait up to the peers' deadline for a silent one): one gathering per period and
 * filter is shared for `ttlMs` (default 2 s, under the pages' polling interval), by every viewer.
 */
export function replicaTrafficSource(self: { id: string; apiUrl?: string }, local: StatsWindow, peers: Peers, o: { ttlMs?: number; now?: () => number } = {}): ReplicaTrafficSource {
  const ttlMs = o.ttlMs ?? 2000;
  const now = o.now ?? Date.now;
  const cache = new Map<string, { at: number; gathered: Promise<GatheredTraffic> }>();
  let last: GatheredTraffic | undefined;
  const gather = (periodMs: number, filter: EdgeFilter): Promise<GatheredTraffic> => {
    const t = now();
    for (const [k, v] of cache) if (t - v.at >= ttlMs) cache.delete(k);
    const key = [periodMs, filter.service ?? '', filter.workload ?? '', filter.namespace ?? ''].join('\u0000');
    let hit = cache.get(key);
    if (!hit) {
      hit = { at: t, gathered: gatherTraffic(self, local, peers, periodMs, filter).then((g) => (last = g)) };
      // A gathering that failed is not kept (the next poll asks again).
      hit.gathered.catch(() => cache.delete(key));
      if (cache.size < 64) cache.set(key, hit);
    }
    return hit.gathered;
  };
  // What a peer's statsz takes: whole seconds from one to the window.
  const period = (ms: number): number => Math.min(local.windowMs, Math.max(1000, Math.round(ms) || local.windowMs));
  return {
    name: 'push',
    graphEdges: async (periodMs) => (await gather(period(periodMs), {})).window.graphEdges(periodMs),
    series: async (filter, periodMs) => (await gather(period(periodMs), filter)).window.series(filter, periodMs),
    missing: () => (last ? missingTraffic(last) : []),
  };
}
