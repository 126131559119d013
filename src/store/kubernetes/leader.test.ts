// Leader election on a Lease, against a small Lease API on a real socket (GET, POST, conditional PUT
// answering 409 on a stale resourceVersion, as the apiserver does) and one hand-moved clock per
// replica: time only passes when a test moves it, so every expiry is exact and nothing sleeps.
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.js';
import { startLeaderElection, type LeaderElection } from './leader.js';
import { tempDir } from '../../../test/support/temp.js';

const NS = 'bowline-system';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const LEASE_MS = 3000; // leaseDurationSeconds 3; renewals every 1000 ms

/** The Lease API: one Lease, a resourceVersion per write, 409 on a stale update; `failWrites` answers 500. */
class LeaseApi {
  lease: Record<string, any> | undefined;
  failWrites = false;
  private rv = 0;
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const reply = (status: number, obj: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
        const fail = (status: number, reason: string) => reply(status, { kind: 'Status', status: 'Failure', reason, message: reason });
        if (req.method === 'GET' && req.url === `${LEASES}/bowline-leader`) return this.lease ? reply(200, this.lease) : fail(404, 'NotFound');
        if (req.method !== 'GET' && this.failWrites) return fail(500, 'InternalError');
        if (req.method === 'POST' && req.url === LEASES) {
          if (this.lease) return fail(409, 'AlreadyExists');
          return reply(201, this.store(JSON.parse(body)));
        }
        if (req.method === 'PUT' && req.url === `${LEASES}/bowline-leader`) {
          const o = JSON.parse(body) as Record<string, any>;
          if (!this.lease || o['metadata']?.resourceVersion !== this.lease['metadata'].resourceVersion) return fail(409, 'Conflict');
          return reply(200, this.store(o));
        }
        fail(404, 'NotFound');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private store(o: Record<string, any>): Record<string, any> {
    this.lease = { ...o, metadata: { ...o['metadata'], resourceVersion: String(++this.rv) } };
    return this.lease;
  }

  get holder(): string | undefined {
    return this.lease?.['spec']?.holderIdentity;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A replica's clock: `tick(ms)` moves it and resolves once the round that fell due has finished (the next one is scheduled). */
class ReplicaClock extends FakeClock {
  private scheduled: (() => void) | undefined;
  override setTimeout(fn: () => void, ms: number): unknown {
    const h = super.setTimeout(fn, ms);
    const s = this.scheduled;
    this.scheduled = undefined;
    s?.();
    return h;
  }
  async tick(ms: number): Promise<void> {
    const next = new Promise<void>((r) => (this.scheduled = r));
    this.advance(ms);
    await next;
  }
}

interface Replica {
  name: string;
  clock: ReplicaClock;
  election: LeaderElection;
  changes: boolean[];
  log: string[];
}

let api: LeaseApi;
let dir: string;
let kubeconfig: string;
const running: Replica[] = [];

beforeEach(async () => {
  api = new LeaseApi();
  await api.start();
  dir = tempDir('bowline-leader-');
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${api.port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: fake, user: u}}]
current-context: c
`);
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.election.stop();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function replica(name: string, start = Date.UTC(2026, 0, 1)): Promise<Replica> {
  const r: Replica = { name, clock: new ReplicaClock(start), election: undefined as unknown as LeaderElection, changes: [], log: [] };
  r.election = await startLeaderElection({ kubeconfig, namespace: NS, identity: name, leaseMs: LEASE_MS, clock: r.clock, onChange: (v) => r.changes.push(v), log: (l) => r.log.push(l) });
  running.push(r);
  return r;
}

describe('leader election on a Lease', () => {
  it('the first replica creates the Lease and leads; the next one follows', async () => {
    const a = await replica('a');
    const b = await replica('b');
    expect(a.election.isLeader(), a.log.join('\n')).toBe(true);
    expect(a.changes).toEqual([true]);
    expect(a.log).toEqual([`leader election: a is now the leader (Lease ${NS}/bowline-leader)`]);
    expect(b.election.isLeader()).toBe(false);
    expect(b.changes).toEqual([]);
    expect(api.holder).toBe('a');
    expect(api.lease!['spec']).toMatchObject({ leaseDurationSeconds: 3, leaseTransitions: 0 });
  });

  it('a leader that renews keeps the Lease for many lease durations', async () => {
    const a = await replica('a');
    const b = await replica('b', Date.UTC(2030, 5, 1)); // clocks differ between replicas: b never compares them
    const renewTimes = new Set<string>();
    for (let i = 0; i < 12; i++) { // 12 s: four lease durations
      await a.clock.tick(1000);
      renewTimes.add(api.lease!['spec'].renewTime);
      await b.clock.tick(1000);
      expect(b.election.isLeader(), `after ${i + 1} s`).toBe(false);
    }
    expect(a.election.isLeader()).toBe(true);
    expect(a.changes).toEqual([true]);
    expect(renewTimes.size).toBe(12);
    expect(api.lease!['spec'].leaseTransitions).toBe(0);
  });

  it('a leader that stops renewing loses the Lease once the lease duration has passed on the other replica\'s clock, not before', async () => {
    const a = await replica('a');
    const b = await replica('b');
    // a stops renewing (its clock never moves again: a hung process). b has seen the Lease at its time 0.
    await b.clock.tick(1000);
    await b.clock.tick(1000);
    expect(b.election.isLeader(), 'at 2 s').toBe(false);
    expect(api.holder).toBe('a');
    await b.clock.tick(1000); // 3 s without a change: expired
    expect(b.election.isLeader(), 'at 3 s').toBe(true);
    expect(b.changes).toEqual([true]);
    expect(api.lease!['spec']).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    // a wakes up: the Lease changed hands, so it does not lead any more (and says so).
    await a.clock.tick(1000);
    expect(a.election.isLeader()).toBe(false);
    expect(a.changes).toEqual([true, false]);
    expect(a.log.at(-1)).toBe(`leader election: a is no longer the leader (Lease ${NS}/bowline-leader)`);
    expect(api.holder).toBe('b');
  });

  it('exactly one of two waiting replicas takes an expired Lease over (the other\'s update is refused as stale)', async () => {
    await replica('a');
    const b = await replica('b');
    const c = await replica('c');
    for (let i = 0; i < 2; i++) await Promise.all([b.clock.tick(1000), c.clock.tick(1000)]);
    await Promise.all([b.clock.tick(1000), c.clock.tick(1000)]); // both see it expired and race for it
    expect([b, c].filter((r) => r.election.isLeader()).map((r) => r.name)).toEqual([api.holder]);
    expect(api.lease!['spec'].leaseTransitions).toBe(1);
    // The loser logs nothing about the lost race (a 409 is the expected outcome) and keeps following.
    const loser = b.election.isLeader() ? c : b;
    expect(loser.log).toEqual([]);
    await Promise.all([b.clock.tick(1000), c.clock.tick(1000)]);
    expect(loser.election.isLeader()).toBe(false);
  });

  it('a failed renewal ends the leadership at once; the next successful round takes it back', async () => {
    const a = await replica('a');
    api.failWrites = true;
    await a.clock.tick(1000);
    expect(a.election.isLeader()).toBe(false);
    expect(a.changes).toEqual([true, false]);
    expect(a.log.some((l) => /^leader election: PUT .*bowline-leader: InternalError$/.test(l)), a.log.join('\n')).toBe(true);
    api.failWrites = false;
    await a.clock.tick(1000); // still its own Lease: renewed, leading again
    expect(a.election.isLeader()).toBe(true);
    expect(a.changes).toEqual([true, false, true]);
  });

  it('stop releases the Lease: the other replica takes it at its next round, without waiting for expiry', async () => {
    const a = await replica('a');
    const b = await replica('b');
    await a.election.stop();
    running.splice(running.indexOf(a), 1);
    expect(a.changes).toEqual([true, false]);
    expect(api.holder).toBe('');
    await b.clock.tick(1000);
    expect(b.election.isLeader()).toBe(true);
    expect(api.holder).toBe('b');
  });
});
