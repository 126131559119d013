/**
 * explain's facts on replicas that share a store: a proxy connected to a peer replica is connected
 * (its status from the peer's syncz, its configuration and certificate facts from the peer's
 * config_dump), exactly as the replica holding it would see it. explain itself stays a pure,
 * synchronous function of its sources: it is run, the peer facts it asked for and did not have are
 * fetched (in parallel), and it is run again, until it asks for nothing new (at most once per proxy).
 */
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyConfig } from '../../proxy-config/types.js';
import type { CertificateFacts, ProxyStatus } from '../../push/server/connection.js';
import type { PushServer } from '../../push/server/server.js';
import type { ReplicaParts } from '../replicas/peers.js';
import { gatherProxies, type ReplicaProxyStatus } from '../replicas/proxies.js';
import type { Explanation } from './types.js';
import type { ExplainSources } from './workloads.js';

/** What a peer's config_dump gives of one proxy. */
interface PeerFacts {
  config: ProxyConfig;
  certificate?: CertificateFacts;
}

/** The newest stream of each proxy id (a proxy that just moved may show on two replicas). */
function newestById(proxies: readonly ReplicaProxyStatus[]): ReplicaProxyStatus[] {
  const by = new Map<string, ReplicaProxyStatus>();
  for (const p of proxies) if (!by.get(p.id) || p.connectedAt > by.get(p.id)!.connectedAt) by.set(p.id, p);
  return [...by.values()];
}

/** The facts in a peer's config_dump body, or a sentence saying why there are none. */
export function peerFacts(status: number, body: unknown): PeerFacts | string {
  const b = body as { config?: { listeners?: unknown }; certificate?: CertificateFacts; message?: unknown } | null;
  if (status !== 200) return `answered ${status}${typeof b?.message === 'string' ? `: ${b.message}` : ''}`;
  if (typeof b?.config !== 'object' || b.config === null || !Array.isArray(b.config.listeners)) return 'answered without a proxy configuration';
  return { config: b.config as ProxyConfig, ...(b.certificate && typeof b.certificate === 'object' ? { certificate: b.certificate } : {}) };
}

/**
 * Runs `run` over the facts of every replica: this one's push server, and each peer's for the proxies
 * connected there. Peers that do not answer are named in the explanation's warnings; their proxies
 * are evaluated as not connected.
 */
export async function explainAcrossReplicas(run: (src: ExplainSources) => Explanation, o: { snapshot: MeshSnapshot; now: number; server: PushServer; replicas?: ReplicaParts; ready?: Promise<void> }): Promise<Explanation> {
  const { server, replicas } = o;
  const local = server.status();
  if (!replicas) {
    await o.ready;
    return run({ snapshot: o.snapshot, now: o.now, proxies: local, configOf: (id) => server.configDump(id), certificateOf: (id) => server.identityOf(id) });
  }
  // `ready`: what `run` reads besides the proxies (the handler's traffic), gathered meanwhile.
  const [all] = await Promise.all([gatherProxies(replicas.self, local, replicas.peers), o.ready]);
  const warnings = all.unreachable.map((u) => `replica ${u.id} (${u.apiUrl}) did not answer (${u.error}): proxies connected to it are evaluated as not connected`);
  if (all.peersUnknown) warnings.push(`${all.peersUnknown}: only the proxies connected to replica ${replicas.self.id} are known`);
  let proxies: ProxyStatus[] = newestById(all.proxies);
  const holder = new Map(proxies.map((p) => [p.id, (p as ReplicaProxyStatus).replica]));
  const isLocal = (id: string) => holder.get(id) === replicas.self.id;
  const fetched = new Map<string, PeerFacts>();
  for (;;) {
    const wanted = new Set<string>();
    const want = (id: string): PeerFacts | undefined => {
      const f = fetched.get(id);
      if (!f && holder.has(id)) wanted.add(id);
      return f;
    };
    const src: ExplainSources = {
      snapshot: o.snapshot, now: o.now, proxies,
      configOf: (id) => (isLocal(id) ? server.configDump(id) : want(id)?.config),
      certificateOf: (id) => (isLocal(id) ? server.identityOf(id) : want(id)?.certificate),
    };
    let out: Explanation | undefined;
    try {
      out = run(src);
    } catch (err) {
      // Without a peer's facts yet, explain may fail where it will not with them: fetch first, then judge.
      if (wanted.size === 0) throw err;
    }
    if (out && wanted.size === 0) {
      out.warnings.push(...warnings);
      return out;
    }
    await Promise.all([...wanted].map(async (id) => {
      const replica = holder.get(id)!;
      const peer = all.peers.get(replica);
      let why: string;
      try {
        const r = peer ? await replicas.peers.get(peer, `/debug/config_dump?local=1&proxy=${encodeURIComponent(id)}`) : undefined;
        const facts = r ? peerFacts(r.status, r.body) : 'is not known';
        if (typeof facts !== 'string') { fetched.set(id, facts); return; }
        why = facts;
      } catch (err) {
        why = `did not answer (${(err as Error).message})`;
      }
      // The proxy left that replica (it reconnects elsewhere) or the replica stopped answering: not connected, said so.
      proxies = proxies.filter((p) => p.id !== id);
      holder.delete(id);
      warnings.push(`proxy ${id} is connected to replica ${replica}, which ${why}: it is evaluated as not connected`);
    }));
  }
}
