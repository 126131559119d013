// DestinationRule traffic policy proven end to end: Istio YAML -> the control plane's generators ->
// a real Bowline sidecar on real sockets -> which workload answers. Each policy is tried at every
// level of the rule Istio merges (trafficPolicy, its portLevelSettings, a subset's trafficPolicy and
// that subset's portLevelSettings): load balancer (simple, consistentHash), outlier detection and
// connection pool. src/api/enforcement.ts points here.
import type { Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { reviewsForFile, send, type Sidecar, type Workload } from './fields-harness.js';
import { waitFor } from '../support/wait.js';

let v1: Workload;
let v2: Workload;
const { sidecar, sidecars } = reviewsForFile((r) => ({ v1, v2 } = r));
/** Open server-side sockets per workload (for connection-pool assertions). */
const sockets = new Map<Workload, Set<Socket>>();
const accepted = new Map<Workload, number>();

beforeAll(() => {
  for (const w of [v1, v2]) {
    sockets.set(w, new Set());
    accepted.set(w, 0);
    w.server.on('connection', (s: Socket) => {
      accepted.set(w, accepted.get(w)! + 1);
      sockets.get(w)!.add(s);
      s.on('close', () => sockets.get(w)!.delete(s));
    });
  }
});

type Level = 'trafficPolicy' | 'portLevelSettings' | 'subset' | 'subset portLevelSettings';
const LEVELS: Level[] = ['trafficPolicy', 'portLevelSettings', 'subset', 'subset portLevelSettings'];

/** Indents every line of `yaml` by `n` spaces. */
const indent = (yaml: string, n: number) => yaml.trimEnd().split('\n').map((l) => ' '.repeat(n) + l).join('\n');

/**
 * A DestinationRule for reviews carrying `policy` (YAML of TrafficPolicy fields) at `level`, and for
 * the subset levels a VirtualService sending every request to the subset `all` (both endpoints).
 * Retries are off so each request is one attempt.
 */
function placed(policy: string, level: Level): string {
  const tp = level === 'trafficPolicy' ? `  trafficPolicy:\n${indent(policy, 4)}\n`
    : level === 'portLevelSettings' ? `  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 9080}\n${indent(policy, 6)}\n` : '';
  const sub = level === 'subset' ? `    trafficPolicy:\n${indent(policy, 6)}\n`
    : level === 'subset portLevelSettings' ? `    trafficPolicy:\n      portLevelSettings:\n      - port: {number: 9080}\n${indent(policy, 8)}\n` : '';
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
${tp}  subsets:
  - name: all
    labels: {app: reviews}
${sub}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - retries: {attempts: 0}
    route: [{destination: {host: reviews${level.startsWith('subset') ? ', subset: all' : ''}}}]
`;
}

async function answers(s: Sidecar, n: number, opts: { path?: string; headers?: Record<string, string> } = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await send(s.port, `http://reviews:9080${opts.path ?? '/'}`, { headers: opts.headers ?? {} });
    out.push(r.status === 200 ? r.json.name : String(r.status));
  }
  return out;
}

describe('DestinationRule loadBalancer', () => {
  it('simple: ROUND_ROBIN alternates, RANDOM follows the random draw, LEAST_REQUEST avoids a busy endpoint', async () => {
    for (const level of LEVELS) {
      const rr = await sidecar(placed('loadBalancer: {simple: ROUND_ROBIN}', level));
      const got = await answers(rr, 6);
      expect(new Set(got), level).toEqual(new Set(['reviews-v1', 'reviews-v2']));
      for (let i = 1; i < got.length; i++) expect(got[i], `${level}: ${got.join(',')}`).not.toBe(got[i - 1]);

      const random = await sidecar(placed('loadBalancer: {simple: RANDOM}', level), { random: () => 0.99 });
      expect(new Set(await answers(random, 6)).size, level).toBe(1);

      // LEAST_REQUEST compares two candidates drawn at random. The draws alternate between the first and the
      // last endpoint, so the two candidates of a pick are always both endpoints (whatever else draws in between).
      let draw = 0;
      const lr = await sidecar(placed('loadBalancer: {simple: LEAST_REQUEST}', level), { random: () => (draw++ % 2 === 0 ? 0 : 0.99) });
      // One request held at whichever endpoint gets it (both hold), awaited there before any other is sent:
      // that endpoint has one active request, the other none.
      v1.hold = true;
      v2.hold = true;
      let busyReply: Awaited<ReturnType<typeof send>> | Error | undefined;
      void send(lr.port, 'http://reviews:9080/busy').then((r) => { busyReply = r; }, (err: Error) => { busyReply = err; });
      try {
        const busy = (await waitFor(() => (v1.held.length + v2.held.length === 1 ? (v1.held.length ? v1 : v2) : undefined), { timeoutMs: 10_000, what: `${level}: the held request at a workload` }))!;
        const free = busy === v1 ? v2 : v1;
        free.hold = false;
        expect(await answers(lr, 6), `${level}: busy ${busy.name}`).toEqual(Array(6).fill(free.name));
      } finally {
        // Always let the held request go, so neither the sidecar's close nor the next case waits on it.
        for (const w of [v1, v2]) { w.hold = false; w.release(); }
      }
      const reply = await waitFor(() => busyReply, { timeoutMs: 10_000, what: `${level}: the held request answered once released` });
      expect(reply instanceof Error ? reply.message : reply!.status, level).toBe(200);

      for (const s of sidecars.splice(0)) await s.close();
      for (const w of [v1, v2]) w.seen.length = 0;
    }
  });

  it('consistentHash: httpHeaderName, httpQueryParameterName, useSourceIp and httpCookie (name, path, ttl) keep a key on one endpoint', async () => {
    for (const level of LEVELS) {
      const h = await sidecar(placed('loadBalancer:\n  consistentHash: {httpHeaderName: x-user}', level));
      const spread = new Set<string>();
      for (const user of ['ann', 'bob', 'cyd', 'dee', 'eve', 'fay', 'gus', 'hal']) {
        const got = new Set(await answers(h, 4, { headers: { 'x-user': user } }));
        expect(got.size, `${level} ${user}`).toBe(1);
        spread.add([...got][0]!);
      }
      expect(spread.size, level).toBe(2);

      const q = await sidecar(placed('loadBalancer:\n  consistentHash: {httpQueryParameterName: user}', level));
      const qspread = new Set<string>();
      for (const user of ['ann', 'bob', 'cyd', 'dee', 'eve', 'fay', 'gus', 'hal']) {
        const got = new Set(await answers(q, 4, { path: `/?user=${user}` }));
        expect(got.size, `${level} ?user=${user}`).toBe(1);
        qspread.add([...got][0]!);
      }
      expect(qspread.size, level).toBe(2);

      const ip = await sidecar(placed('loadBalancer:\n  consistentHash: {useSourceIp: true}', level));
      expect(new Set(await answers(ip, 6)).size, level).toBe(1);

      const c = await sidecar(placed('loadBalancer:\n  consistentHash:\n    httpCookie: {name: session, path: /shop, ttl: 90s}', level));
      const first = await send(c.port, 'http://reviews:9080/shop/cart');
      const setCookie = String(first.headers['set-cookie']?.[0] ?? '');
      expect(setCookie, level).toMatch(/^session="[0-9a-f]+"; Max-Age=90; Path=\/shop; HttpOnly$/);
      const cookie = setCookie.split(';')[0]!;
      expect(new Set(await answers(c, 6, { path: '/shop/cart', headers: { cookie } })), level).toEqual(new Set([first.json.name]));
      for (const s of sidecars.splice(0)) await s.close();
    }
  });
});

describe('DestinationRule outlierDetection', () => {
  it('consecutive5xxErrors and consecutiveGatewayErrors eject a failing endpoint for baseEjectionTime; maxEjectionPercent 0 and minHealthPercent keep it in use', async () => {
    for (const level of LEVELS) {
      let now = 1_000_000;
      const clock = { now: () => now };
      const five = await sidecar(placed('loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}', level), clock);
      v1.status = 500;
      const got = await answers(five, 10);
      expect(got.filter((x) => x === '500'), `${level}: ${got.join(',')}`).toHaveLength(2);
      expect(got.slice(-6), level).toEqual(Array(6).fill('reviews-v2'));
      v1.status = 200;
      now += 31_000; // past baseEjectionTime: v1 is back
      expect(new Set(await answers(five, 4)), level).toEqual(new Set(['reviews-v1', 'reviews-v2']));

      const gw = await sidecar(placed('loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutiveGatewayErrors: 2, consecutive5xxErrors: 0, baseEjectionTime: 30s, maxEjectionPercent: 100}', level), clock);
      v1.status = 500; // a 5xx that is no gateway error: never ejected by this policy
      expect((await answers(gw, 8)).filter((x) => x === '500'), level).toHaveLength(4);
      v1.status = 502;
      const g = await answers(gw, 10);
      expect(g.filter((x) => x === '502'), `${level}: ${g.join(',')}`).toHaveLength(2);
      expect(g.slice(-6), level).toEqual(Array(6).fill('reviews-v2'));

      const never = await sidecar(placed('loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 0}', level), clock);
      v1.status = 503;
      expect((await answers(never, 8)).filter((x) => x === '503'), level).toHaveLength(4);

      const panic = await sidecar(placed('loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 100, minHealthPercent: 60}', level), clock);
      expect((await answers(panic, 8)).filter((x) => x === '503').length, level).toBeGreaterThanOrEqual(3);
      v1.status = 200;
      for (const s of sidecars.splice(0)) await s.close();
    }
  });
});

describe('DestinationRule connectionPool', () => {
  it('maxConnections with http1MaxPendingRequests answer 503 over the limit; maxRequestsPerConnection and idleTimeout close upstream connections', async () => {
    for (const level of LEVELS) {
      const p = await sidecar(placed('loadBalancer: {simple: ROUND_ROBIN}\nconnectionPool:\n  tcp: {maxConnections: 1}\n  http: {http1MaxPendingRequests: 1}', level));
      v1.hold = true;
      v2.hold = true;
      const inFlight = [send(p.port, 'http://reviews:9080/a'), send(p.port, 'http://reviews:9080/b')];
      await waitFor(() => v1.held.length + v2.held.length === 1, { what: 'one request upstream' });
      const over = await send(p.port, 'http://reviews:9080/c');
      expect(over.status, level).toBe(503);
      expect(p.records.at(-1)!.flags, level).not.toBe(0);
      v1.hold = false;
      v2.hold = false;
      v1.release();
      v2.release();
      const statuses = (await Promise.all(inFlight)).map((r) => r.status);
      expect(statuses, level).toEqual([200, 200]);

      const before = accepted.get(v1)! + accepted.get(v2)!;
      const per = await sidecar(placed('connectionPool:\n  http: {maxRequestsPerConnection: 1}', level));
      await answers(per, 4);
      expect(accepted.get(v1)! + accepted.get(v2)! - before, level).toBe(4);
      for (const s of sidecars.splice(0)) await s.close();
      await waitFor(() => sockets.get(v1)!.size + sockets.get(v2)!.size === 0, { what: 'the closed sidecars\' connections gone' });

      const idle = await sidecar(placed('connectionPool:\n  http: {idleTimeout: 0.2s}', level));
      await answers(idle, 2);
      await waitFor(() => sockets.get(v1)!.size + sockets.get(v2)!.size === 0, { what: 'the idle upstream connections closed' });
      for (const s of sidecars.splice(0)) await s.close();
      for (const w of [v1, v2]) w.seen.length = 0;
    }
  });
});
