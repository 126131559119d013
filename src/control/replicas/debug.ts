/**
 * /debug/syncz and /debug/config_dump across replicas (what `istioctl` does by asking every istiod,
 * done here by the replica asked): syncz lists every live replica's proxies, each with the replica
 * holding its stream, and names the replicas that did not answer; config_dump of a proxy held by a
 * peer is fetched from that peer; statsz adds every replica's traffic window (traffic.ts). `?local=1` answers from this replica alone: what peers ask each
 * other (no recursion). The caller was authenticated and authorized by the API listener before
 * (routes.ts); peers are asked with this replica's own `replica`-scope token (presence.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PushServer } from '../../push/server/server.js';
import type { Peers } from './peers.js';
import { statszFilter, statszPeriod } from '../../push/debug.js';
import { findReplicaProxy, gatherProxies } from './proxies.js';
import { gatherTraffic } from './traffic.js';

/** The push side's own debug handler (src/push/debug.ts): answers from this replica's push server. */
type LocalDebug = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body, null, 2) + '\n');
}

/** True when `?local=1` (or `true`) asks for this replica's proxies only. */
export function wantsLocal(url: URL): boolean {
  const v = url.searchParams.get('local');
  return v === '1' || v === 'true';
}

/** What the fan-out needs: this replica, its push server and its own debug handler, and its peers. */
export interface ReplicaDebugDeps {
  self: { id: string; apiUrl: string };
  server: PushServer;
  local: LocalDebug;
  peers: Peers;
  /** The version of the mesh snapshot this replica serves (syncz's `snapshotVersion`). */
  snapshotVersion(): unknown;
  now?: () => number;
}

/** Handles /debug/syncz, /debug/config_dump and /debug/statsz across replicas; other paths go to `local`. */
export function replicaDebugHandler(d: ReplicaDebugDeps): LocalDebug {
  const now = d.now ?? Date.now;
  return async (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== '/debug/syncz' && path !== '/debug/config_dump' && path !== '/debug/statsz') return d.local(req, res, url);
    if (wantsLocal(url)) return d.local(req, res, url);
    if (path === '/debug/statsz') {
      const period = statszPeriod(url, d.server.stats.windowMs);
      if (typeof period === 'string') {
        json(res, 400, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 400, reason: 'BOWLINE_E_DEBUG_QUERY', message: period });
        return true;
      }
      const filter = statszFilter(url);
      const t = await gatherTraffic(d.self, d.server.stats, d.peers, period, filter);
      json(res, 200, {
        now: now(), replica: d.self.id, periodMs: period, window: t.window.export(period, filter), replicas: t.replicas, unreachableReplicas: t.unreachable,
        ...(t.peersUnknown ? { peersUnknown: t.peersUnknown } : {}),
      });
      return true;
    }
    if (path === '/debug/config_dump') {
      const q = url.searchParams.get('proxy') ?? '';
      // Held here under that exact id: no need to ask anyone.
      if (d.server.status().some((s) => s.id === q)) return d.local(req, res, url);
      const all = await gatherProxies(d.self, d.server.status(), d.peers);
      const hit = findReplicaProxy(all.proxies, q);
      if (hit?.replica === d.self.id) return d.local(req, res, url);
      if (!hit) {
        const missing = all.unreachable.map((u) => `${u.id} (${u.error})`).concat(all.peersUnknown ? [all.peersUnknown] : []);
        json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'BOWLINE_E_PUSH_UNKNOWN_PROXY', message: `no proxy "${q}" is connected to any replica that answered (or the prefix is ambiguous): see /debug/syncz${missing.length ? `; not asked or not answering: ${missing.join('; ')}` : ''}`, ...(all.unreachable.length ? { unreachableReplicas: all.unreachable } : {}) });
        return true;
      }
      const peer = all.peers.get(hit.replica)!;
      let why: string;
      try {
        const r = await d.peers.get(peer, `/debug/config_dump?local=1&proxy=${encodeURIComponent(hit.id)}`);
        // 200, or 404 (the proxy left that replica since it was listed): the holder's own answer.
        if ((r.status === 200 || r.status === 404) && typeof r.body === 'object' && r.body !== null) {
          json(res, r.status, r.status === 200 ? { ...(r.body as object), replica: hit.replica } : r.body);
          return true;
        }
        // Anything else (a refusal of this replica's token ...) is the peer's failure, not the caller's.
        const message = (r.body as { message?: unknown } | null)?.message;
        why = `answered ${r.status}${typeof message === 'string' ? `: ${message}` : ''}`;
      } catch (err) {
        why = `did not answer: ${(err as Error).message}`;
      }
      json(res, 502, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 502, reason: 'BOWLINE_E_REPLICA_UNREACHABLE', message: `proxy ${hit.id} is connected to replica ${hit.replica} (${peer.apiUrl}), which ${why}`, unreachableReplicas: [{ id: peer.id, apiUrl: peer.apiUrl, error: why }] });
      return true;
    }
    const all = await gatherProxies(d.self, d.server.statusWithCertificates(), d.peers);
    // The local answer's shape (now, snapshotVersion: this replica's) with every replica's proxies, and who answered.
    json(res, 200, {
      now: now(), snapshotVersion: d.snapshotVersion(), replica: d.self.id,
      proxies: all.proxies, replicas: all.replicas, unreachableReplicas: all.unreachable,
      ...(all.peersUnknown ? { peersUnknown: all.peersUnknown } : {}),
    });
    return true;
  };
}
