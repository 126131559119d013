/**
 * Leader election among control-plane replicas on a coordination.k8s.io Lease (as Kubernetes'
 * own controllers do): the holder renews `renewTime` every `renewMs`; another replica takes the
 * Lease over once it has seen no renewal for `leaseDurationSeconds` by its own clock (the time it
 * observed the last change, not the holder's `renewTime`: replicas' clocks may differ), with a
 * conditional update so that exactly one wins. A released Lease (no holder) is taken at once.
 * Only the leader writes resource status and patches webhook caBundles.
 */
import { systemClock } from '../clock.js';
import type { Clock } from '../store.js';
import { microTime } from './raw-keys.js';
import { KubeCallError, KubeRest } from './rest.js';

/** How to elect. */
export interface LeaderElectionOptions {
  kubeconfig?: string;
  namespace: string;
  /** The Lease's name (default bowline-leader). */
  name?: string;
  /** This replica's identity (default hostname + pid). */
  identity: string;
  /** How long a leader that stops renewing keeps the Lease (default 15 s; env BOWLINE_LEADER_LEASE_MS). */
  leaseMs?: number;
  /** How often the leader renews and the others look (default a third of leaseMs). */
  renewMs?: number;
  clock?: Clock;
  /** Called with true when this replica becomes the leader, false when it stops being it. */
  onChange(leader: boolean): void;
  log(line: string): void;
}

/** A running election. */
export interface LeaderElection {
  isLeader(): boolean;
  /** Stops renewing and releases the Lease when held (the next replica takes over at once). */
  stop(): Promise<void>;
}

/** Starts electing; the first round runs before this resolves. */
export async function startLeaderElection(o: LeaderElectionOptions): Promise<LeaderElection> {
  const rest = new KubeRest(o.kubeconfig);
  const clock = o.clock ?? systemClock;
  const name = o.name ?? 'bowline-leader';
  const leaseMs = o.leaseMs ?? 15_000;
  const renewMs = o.renewMs ?? Math.max(200, Math.floor(leaseMs / 3));
  const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(o.namespace)}/leases`;
  let leader = false;
  let stopped = false;
  let timer: unknown;
  /** The holder's record as last seen, and when (this replica's clock). */
  let observed: { record: string; at: number } | undefined;
  const set = (v: boolean) => {
    if (v === leader) return;
    leader = v;
    o.log(`leader election: ${o.identity} ${v ? 'is now the leader' : 'is no longer the leader'} (Lease ${o.namespace}/${name})`);
    o.onChange(v);
  };
  const spec = (transitions: number) => ({ holderIdentity: o.identity, leaseDurationSeconds: Math.max(1, Math.ceil(leaseMs / 1000)), acquireTime: microTime(clock.now()), renewTime: microTime(clock.now()), leaseTransitions: transitions });

  async function round(): Promise<void> {
    try {
      let cur: Record<string, any> | undefined;
      try {
        cur = await rest.call('GET', `${path}/${name}`);
      } catch (err) {
        if (!(err instanceof KubeCallError && err.status === 404)) throw err;
      }
      if (!cur) {
        await rest.call('POST', path, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: o.namespace }, spec: spec(0) });
        return set(true);
      }
      const s = cur.spec ?? {};
      const record = JSON.stringify([s.holderIdentity, s.renewTime, s.leaseTransitions]);
      if (observed?.record !== record) observed = { record, at: clock.now() };
      const expired = !s.holderIdentity || observed.at + Number(s.leaseDurationSeconds ?? 0) * 1000 <= clock.now();
      if (s.holderIdentity === o.identity) {
        await rest.call('PUT', `${path}/${name}`, { ...cur, spec: { ...s, renewTime: microTime(clock.now()), leaseDurationSeconds: Math.max(1, Math.ceil(leaseMs / 1000)) } });
        return set(true);
      }
      if (expired) {
        await rest.call('PUT', `${path}/${name}`, { ...cur, spec: spec(Number(s.leaseTransitions ?? 0) + 1) });
        return set(true);
      }
      set(false);
    } catch (err) {
      // A lost race (409) or an unreachable apiserver: not the leader until a round succeeds.
      if (!(err instanceof KubeCallError && err.status === 409)) o.log(`leader election: ${(err as Error).message}`);
      set(false);
    }
  }

  const loop = async () => {
    if (stopped) return;
    await round();
    if (!stopped) timer = clock.setTimeout(() => void loop(), renewMs);
  };
  await loop();
  return {
    isLeader: () => leader,
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (!leader) return;
      set(false);
      try {
        const cur = await rest.call('GET', `${path}/${name}`);
        if (cur.spec?.holderIdentity === o.identity) await rest.call('PUT', `${path}/${name}`, { ...cur, spec: { ...cur.spec, holderIdentity: '', renewTime: microTime(0) } });
      } catch {}
    },
  };
}
