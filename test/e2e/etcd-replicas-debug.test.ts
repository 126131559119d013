// Two control-plane replicas on one etcd, each holding the push stream of one real sidecar: the
// replica asked answers for both (proxy-status with its REPLICA column, config_dump of the other's
// proxy, explain with the other's proxy as connected: the same answer from either replica; the
// traffic each replica's proxies reported, added up for explain, the dashboard and /debug/statsz),
// over the peers' authenticated debug API; a replica that does not answer is named without delaying
// the answer, and a replica whose presence ended is simply gone.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { startControlPlane, type ControlPlane } from '../../src/control/control-plane.js';
import { replicaKey } from '../../src/control/replicas/presence.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import { startEtcd, type EtcdCluster } from '../../src/store/etcd/etcd-process.js';
import { runBowline, startBowline, type Child } from '../support/process.js';
import { tempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { call, settle } from './mesh-harness.js';

let etcd: EtcdCluster;
let a: ControlPlane;
let b: ControlPlane;
const homes: string[] = [];
const children: Child[] = [];
const servers: http.Server[] = [];
let productpage: { outbound: number };

/** A control-plane replica named `id` on the shared etcd; every API call needs a token (--require-token). */
async function replica(id: string, kekFile: string, extra: Partial<Parameters<typeof startControlPlane>[0]> = {}): Promise<ControlPlane> {
  const home = tempDir(`bowline-${id}-`);
  homes.push(home);
  return startControlPlane({
    home, store: etcd.url, replicaId: id, replicaPresenceTtlMs: 2000, requireToken: true, push: true, pushPlaintext: true, caKekFile: kekFile, dashboard: true,
    listenApi: '127.0.0.1:0', listenPush: '127.0.0.1:0', listenPushTls: '127.0.0.1:0', log: () => {}, ...extra,
  });
}

/** An app on port 0 answering `NAME METHOD PATH`. */
async function app(name: string): Promise<number> {
  const s = http.createServer((req, res) => res.end(`${name} ${req.method} ${req.url}`));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/** A real sidecar `name` of service `service` (port 9080) whose push stream goes to `cp` (its plaintext port: no certificate). */
async function sidecar(cp: ControlPlane, name: string, service: string, sa: string): Promise<{ outbound: number }> {
  const appPort = await app(name);
  const portsFile = join(homes[0]!, `${name}.ports.json`);
  const c = startBowline(['proxy', '--server', `127.0.0.1:${cp.ports.push}`, '--namespace', 'default', '--service-account', sa, '--name', name,
    '--labels', `app=${service},version=v1`, '--admin-port', '0', '--metrics-port', '0', '--stats-interval-ms', '300', '--service', `${service}:9080@${appPort}`,
    '--bind-port', '9080=0', '--outbound-port', 'auto', '--ports-file', portsFile]);
  children.push(c);
  const outbound = await waitFor(() => (readPortsFile(portsFile, ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners?.outbound, { timeoutMs: 15_000, what: () => `${name} ports file:\n${c.output()}` });
  return { outbound: outbound! };
}

/** GET `path` from replica `cp` with its admin token: status, JSON body, and how long it took. */
async function get(cp: ControlPlane, path: string, token = cp.adminToken): Promise<{ status: number; body: any; ms: number }> {
  const t0 = Date.now();
  const r = await fetch(cp.apiUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: await r.json(), ms: Date.now() - t0 };
}

let kekFile: string;
beforeAll(async () => {
  etcd = await startEtcd(1);
  kekFile = join(tempDir('bowline-kek-'), 'kek');
  writeFileSync(kekFile, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  a = await replica('replica-a', kekFile);
  b = await replica('replica-b', kekFile);
  productpage = await sidecar(a, 'productpage-v1', 'productpage', 'bookinfo-productpage');
  await sidecar(b, 'ratings-v1', 'ratings', 'bookinfo-ratings');
}, 120_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  for (const s of servers) s.close();
  await a?.close();
  await b?.close();
  await etcd?.stop();
});

describe('replicas on one etcd answer for each other\'s proxies', () => {
  it('syncz lists both replicas\' proxies with the replica holding each; config_dump reaches the other\'s proxy; the CLI shows REPLICA', async () => {
    const syncz = await waitFor(async () => {
      const r = await get(a, '/debug/syncz');
      return r.body.proxies?.length === 2 ? r.body : undefined;
    }, { timeoutMs: 20_000, what: 'both proxies in replica-a\'s syncz' });
    expect(syncz.proxies.map((p: any) => `${p.id}@${p.replica}`)).toEqual(['productpage-v1.default@replica-a', 'ratings-v1.default@replica-b']);
    expect(syncz.replicas.map((r: any) => r.id)).toEqual(['replica-a', 'replica-b']);
    expect(syncz.unreachableReplicas).toEqual([]);
    // ?local=1: only this replica's own (what the peers ask each other).
    expect((await get(a, '/debug/syncz?local=1')).body.proxies.map((p: any) => p.id)).toEqual(['productpage-v1.default']);
    // The peers' request is authenticated like any other: no token, no answer.
    expect((await get(b, '/debug/syncz?local=1', '')).status).toBe(401);

    const dump = await get(a, '/debug/config_dump?proxy=ratings');
    expect(dump.status, JSON.stringify(dump.body)).toBe(200);
    expect(dump.body.proxy).toBe('ratings-v1.default');
    expect(dump.body.replica).toBe('replica-b');
    expect(dump.body.config.node.workload).toBe('ratings-v1');
    expect(dump.body.certificate).toEqual({ rotations: 0 });

    const cli = await runBowline(['proxy-status', '--server', a.apiUrl], { env: { BOWLINE_HOME: homes[0]! } });
    expect(cli.code, cli.err + cli.out).toBe(0);
    expect(cli.out).toMatch(/^NAME\s+ROLE\s+LDS\s+RDS\s+CDS\s+EDS\s+SDS\s+REPLICA\s+LAST ACK\s+CONVERGENCE/);
    expect(cli.out).toMatch(/\nratings-v1\.default\s+sidecar\s+(\S+\s+){5}replica-b\s/);
    const cfg = await runBowline(['proxy-config', 'ratings', 'listeners', '--server', a.apiUrl], { env: { BOWLINE_HOME: homes[0]! } });
    expect(cfg.code, cfg.err).toBe(0);
    expect(cfg.out).toMatch(/inbound/);
  }, 60_000);

  it('the dashboard at either replica lists every replica\'s proxies, with the replica holding each', async () => {
    for (const cp of [a, b]) {
      const view = (await waitFor(async () => {
        const r = await get(cp, '/ui/api/proxies');
        return r.status === 200 && r.body.proxies?.length === 2 ? r.body : undefined;
      }, { timeoutMs: 20_000, what: `both proxies on ${cp === a ? 'replica-a' : 'replica-b'}'s dashboard` }))!;
      expect(view.proxies.map((p: any) => `${p.id}@${p.replica}`)).toEqual(['productpage-v1.default@replica-a', 'ratings-v1.default@replica-b']);
      expect(view.proxies.map((p: any) => p.certificate)).toEqual([{ rotations: 0 }, { rotations: 0 }]);
      expect(view.replicas.map((r: any) => r.id)).toEqual(cp === a ? ['replica-a', 'replica-b'] : ['replica-b', 'replica-a']);
      expect(view.unreachableReplicas).toEqual([]);
      // The Security page's certificates and the graph's proxy count cover both replicas too.
      const sec = await get(cp, '/ui/api/security');
      expect(sec.body.proxies.map((p: any) => `${p.id}@${p.replica}`)).toEqual(['productpage-v1.default@replica-a', 'ratings-v1.default@replica-b']);
      expect((await get(cp, '/ui/api/graph')).body.proxies).toBe(2);
    }
  }, 60_000);

  it('the traffic each replica\'s proxies reported adds up: /debug/statsz, the dashboard graph and explain at either replica', async () => {
    // productpage (its stream on replica-a) calls ratings (on replica-b): the caller's report goes to a, the callee's to b.
    await settle(productpage.outbound, 'http://ratings:9080/ratings/0', 200);
    const before = (await get(a, '/debug/statsz')).body;
    const sent = (before.window.slots as any[]).flatMap((sl) => sl.edges).filter((e: any) => e.reporter === 'source' && e.destination.service.startsWith('ratings.')).reduce((n: number, e: any) => n + e.n, 0);
    for (let i = 0; i < 20; i++) expect((await call(productpage.outbound, `http://ratings:9080/ratings/${i}`)).status).toBe(200);
    const total = sent + 20;
    const count = (body: any, reporter: string): number => (body.window.slots as any[]).flatMap((sl) => sl.edges)
      .filter((e: any) => e.reporter === reporter && e.source.workload === 'productpage-v1' && e.destination.service.startsWith('ratings.')).reduce((n: number, e: any) => n + e.n, 0);
    // Each replica's own window holds one side; the answer without ?local=1 holds both, from every replica.
    const merged = (await waitFor(async () => {
      const r = (await get(a, '/debug/statsz')).body;
      return count(r, 'source') >= total && count(r, 'destination') >= total ? r : undefined;
    }, { timeoutMs: 15_000, what: 'both sides of productpage -> ratings in replica-a\'s statsz' }))!;
    expect(merged.replicas.map((r: any) => r.id)).toEqual(['replica-a', 'replica-b']);
    expect(merged.unreachableReplicas).toEqual([]);
    const localA = (await get(a, '/debug/statsz?local=1')).body;
    const localB = (await get(b, '/debug/statsz?local=1')).body;
    expect([count(localA, 'source'), count(localA, 'destination')]).toEqual([count(merged, 'source'), 0]);
    expect([count(localB, 'source'), count(localB, 'destination')]).toEqual([0, count(merged, 'destination')]);
    // A malformed period is the caller's mistake, said so.
    expect((await get(a, '/debug/statsz?periodMs=soon')).status).toBe(400);

    // The graph at replica-a shows the edge as ratings' proxy reported it (to replica-b): the callee's report.
    const edge = (await waitFor(async () => {
      const g = (await get(a, '/ui/api/graph')).body;
      return g.edges?.find((e: any) => e.service.startsWith('ratings.') && e.reporter === 'destination' && e.requests >= total);
    }, { timeoutMs: 15_000, what: 'the productpage -> ratings edge from ratings\' report on replica-a\'s graph' }))!;
    expect(edge.errors).toBe(0);
    // explain at either replica quotes the same traffic.
    const q = `/debug/explain?${new URLSearchParams({ from: 'productpage', url: 'http://ratings:9080/ratings/0' })}`;
    const step = (body: any): any => body.destinations?.[0]?.steps.find((x: any) => x.step === 'traffic');
    const [atA, atB] = (await waitFor(async () => {
      const pair = [step((await get(a, q)).body), step((await get(b, q)).body)];
      return pair[0] && JSON.stringify(pair[0]) === JSON.stringify(pair[1]) ? pair : undefined;
    }, { timeoutMs: 10_000, what: 'the same traffic step at both replicas' }))!;
    expect(atA.decision).toMatch(/^\d+ requests, 0% errors$/);
    expect(Number(atA.decision.split(' ')[0])).toBeGreaterThanOrEqual(total);
    expect(atB).toEqual(atA);
  }, 60_000);

  it('explain sees the other replica\'s proxy as connected: the same answer asked at either replica, and the real one', async () => {
    await settle(productpage.outbound, 'http://ratings:9080/ratings/0', 200);
    const strict = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } };
    const created = await fetch(`${a.apiUrl}/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications`, { method: 'POST', headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(strict) });
    expect(created.status).toBe(201);
    // ratings' sidecar holds no workload certificate: on a STRICT port it refuses every connection.
    await waitFor(async () => (await call(productpage.outbound, 'http://ratings:9080/ratings/0')).status === 503, { timeoutMs: 20_000, what: 'ratings refused after STRICT' });
    const q = `/debug/explain?${new URLSearchParams({ from: 'productpage', url: 'http://ratings:9080/ratings/0' })}`;
    // Asked at either replica, the same answer (once both have seen the last ACKs: a push in flight is a warning).
    let last: unknown[] = [];
    const [atA] = (await waitFor(async () => {
      const pair = [await get(a, q), await get(b, q)] as const;
      last = pair.map((r) => r.body);
      return pair[0].status === 200 && JSON.stringify(pair[0].body) === JSON.stringify(pair[1].body) ? pair : undefined;
    }, { timeoutMs: 10_000, what: () => `the same explanation at both replicas:\n${JSON.stringify(last, null, 1)}` }))!;
    expect(atA.body.from.proxy).toBe('productpage-v1.default');
    expect(atA.body.warnings).toEqual([]);
    expect(atA.body.outcome.ok).toBe(false);
    const server = atA.body.destinations[0].steps.find((s: any) => s.step === 'server mTLS');
    expect(server.decision).toBe('ratings-v1.default: STRICT, no workload certificate');
    expect(server.reason).toContain('BOWLINE_E_IDENTITY_NO_CERTIFICATE');
    // From the proxy on the other replica too.
    const back = `/debug/explain?${new URLSearchParams({ from: 'ratings', url: 'http://productpage:9080/' })}`;
    const backA = await get(a, back);
    expect(backA.body.from.proxy).toBe('ratings-v1.default');
    expect(backA.body.from.config).toBe('the configuration of connected proxy ratings-v1.default');
    await waitFor(async () => JSON.stringify((await get(b, back)).body) === JSON.stringify((await get(a, back)).body), { timeoutMs: 10_000, what: 'the same explanation from ratings at both replicas' });
  }, 60_000);

  it('a replica that does not answer is named and does not hold up the answer; one whose presence ended is gone', async () => {
    // A replica that crashed while its presence lease runs: it accepts connections and never answers.
    const hung = http.createServer(() => {});
    servers.push(hung);
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    await a.store.putRaw(replicaKey('replica-c'), JSON.stringify({ id: 'replica-c', apiUrl: url, startedAt: new Date().toISOString() }), { ttlMs: 6000 });
    // The proxies, the traffic windows and explain, asked together (each waits for the silent replica's deadline).
    const [r, st, ex] = await Promise.all([get(a, '/debug/syncz'), get(a, '/debug/statsz'), get(a, `/debug/explain?${new URLSearchParams({ from: 'productpage', url: 'http://ratings:9080/ratings/0' })}`)]);
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(6000); // the peers' 2 s deadline, not a hang
    expect(r.body.unreachableReplicas).toEqual([{ id: 'replica-c', apiUrl: url, error: `${url}: no answer within 2000 ms` }]);
    expect(r.body.proxies.map((p: any) => p.id)).toEqual(['productpage-v1.default', 'ratings-v1.default']);
    // The traffic windows too: statsz and explain name the replica whose traffic is missing.
    expect(st.ms).toBeLessThan(6000);
    expect(st.body.unreachableReplicas).toEqual([{ id: 'replica-c', apiUrl: url, error: `${url}: no answer within 2000 ms` }]);
    expect(ex.ms).toBeLessThan(6000); // its proxies' fan-out and its traffic's at the same time
    expect(ex.body.warnings).toContain(`traffic reported to replica replica-c (${url}) is not included: ${url}: no answer within 2000 ms`);
    hung.closeAllConnections();
    // Its lease ends (nobody renews it): it is no longer a replica.
    await waitFor(async () => (await get(a, '/debug/syncz')).body.unreachableReplicas.length === 0, { timeoutMs: 15_000, what: 'replica-c\'s presence to end' });

    // replica-b stops: its record goes with it (once replica-a's store cache has seen the delete), and replica-a
    // answers for its own proxies alone, without naming replica-b unreachable.
    await b.close();
    const after = (await waitFor(async () => {
      const x = await get(a, '/debug/syncz');
      return x.body.replicas.length === 1 && x.body.unreachableReplicas.length === 0 ? x : undefined;
    }, { timeoutMs: 10_000, what: 'replica-b gone from replica-a\'s syncz' }))!;
    expect(after.body.replicas.map((x: any) => x.id)).toEqual(['replica-a']);
    expect(after.body.unreachableReplicas).toEqual([]);
    expect(after.body.proxies.map((p: any) => `${p.id}@${p.replica}`)).toEqual(['productpage-v1.default@replica-a']);

    // The dashboard names a replica that does not answer, as syncz does, and still lists what it has.
    await a.store.putRaw(replicaKey('replica-d'), JSON.stringify({ id: 'replica-d', apiUrl: url, startedAt: new Date().toISOString() }), { ttlMs: 4000 });
    const ui = (await waitFor(async () => {
      const x = await get(a, '/ui/api/proxies');
      return x.body.unreachableReplicas?.length === 1 ? x : undefined;
    }, { timeoutMs: 10_000, what: 'replica-d unreachable on replica-a\'s dashboard' }))!;
    expect(ui.body.unreachableReplicas).toEqual([{ id: 'replica-d', apiUrl: url, error: `${url}: no answer within 2000 ms` }]);
    expect(ui.body.proxies.map((p: any) => `${p.id}@${p.replica}`)).toEqual(['productpage-v1.default@replica-a']);
    hung.closeAllConnections();
  }, 60_000);
});

describe('replicas whose API is TLS (--api-tls)', () => {
  it('ask each other over HTTPS, verifying the certificates the shared CA issued them', async () => {
    // Their own key prefix in the same etcd: replica-a and replica-b are not their peers.
    const tls: ControlPlane[] = [];
    try {
      for (const id of ['tls-c', 'tls-d']) tls.push(await replica(id, kekFile, { store: await openEtcdStore({ endpoints: etcd.url, prefix: '/bowline-tls/' }), apiTls: true, ca: true }));
      const [c] = tls as [ControlPlane, ControlPlane];
      expect(c.apiUrl).toMatch(/^https:/);
      const body = await new Promise<any>((resolve, reject) => {
        https.get(`${c.apiUrl}/debug/syncz`, { ca: c.ca!.trustBundlePem(), headers: { authorization: `Bearer ${c.adminToken}` } }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve(JSON.parse(text)));
        }).on('error', reject);
      });
      expect(body.replicas.map((r: any) => r.id)).toEqual(['tls-c', 'tls-d']);
      expect(body.replicas[1].apiUrl).toBe(tls[1]!.apiUrl);
      expect(body.unreachableReplicas).toEqual([]);
    } finally {
      for (const cp of tls) await cp.close();
    }
  }, 60_000);
});
