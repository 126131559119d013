import { describe, expect, it } from 'vitest';
import type { Cluster, ClusterLoadAssignment, Endpoint } from '../../proxy-config/types.js';
import { ClusterManager } from './manager.js';
import type { PickContext } from './types.js';

/** A deterministic pseudo-random source (mulberry32). */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function eps(n: number, extra: Partial<Endpoint> = {}): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({ address: '127.0.0.1', port: 9000 + i, ...extra }));
}

function setup(c: Partial<Cluster>, endpoints: Endpoint[], opts: { now?: () => number; random?: () => number } = {}): ClusterManager {
  const cm = new ClusterManager(opts);
  const cluster: Cluster = { name: 'c', discovery: 'eds', protocol: 'http1', ...c };
  cm.update([cluster], [{ cluster: 'c', endpoints }]);
  return cm;
}

function tally(cm: ClusterManager, n: number, ctx: (i: number) => PickContext = () => ({}), report = true): Record<number, number> {
  const out: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const r = cm.pick('c', ctx(i));
    if (!r) continue;
    out[r.endpoint.port] = (out[r.endpoint.port] ?? 0) + 1;
    if (report) cm.report(r.endpoint, { status: 200 });
  }
  return out;
}

describe('load balancing', () => {
  it('ROUND_ROBIN rotates evenly, and by weight when weights differ', () => {
    expect(tally(setup({}, eps(3)), 300)).toEqual({ 9000: 100, 9001: 100, 9002: 100 });
    const weighted = setup({ loadBalancer: { policy: 'ROUND_ROBIN' } }, [{ address: '127.0.0.1', port: 1, weight: 1 }, { address: '127.0.0.1', port: 2, weight: 3 }]);
    expect(tally(weighted, 400)).toEqual({ 1: 100, 2: 300 });
  });

  it('RANDOM spreads roughly evenly with a seeded random', () => {
    const t = tally(setup({ loadBalancer: { policy: 'RANDOM' } }, eps(4), { random: seeded(1) }), 4000);
    for (const v of Object.values(t)) expect(Math.abs(v - 1000)).toBeLessThan(120);
  });

  it('LEAST_REQUEST prefers endpoints with fewer active requests (power of two choices)', () => {
    const cm = setup({ loadBalancer: { policy: 'LEAST_REQUEST' } }, eps(2), { random: seeded(7) });
    const busy = cm.pick('c')!.endpoint; // held open: one active request
    const other = busy.port === 9000 ? 9001 : 9000;
    const t = tally(cm, 100);
    // Whenever both candidates differ the idle one wins; only draws of the busy one twice go to it.
    expect(t[other]!).toBeGreaterThan(60);
    expect(t[busy.port] ?? 0).toBeLessThan(40);
  });

  it('skips unhealthy and draining endpoints; none usable means undefined (503 UH)', () => {
    const cm = setup({}, [{ address: '127.0.0.1', port: 1, health: 'unhealthy' }, { address: '127.0.0.1', port: 2 }, { address: '127.0.0.1', port: 3, health: 'draining' }]);
    expect(tally(cm, 10)).toEqual({ 2: 10 });
    const dead = setup({}, [{ address: '127.0.0.1', port: 1, health: 'unhealthy' }]);
    expect(dead.pick('c')).toBeUndefined();
    expect(dead.pick('nope')).toBeUndefined();
    expect(dead.snapshot()[0]!.noHealthyUpstream).toBe(1);
  });

  it('exclude avoids endpoints already tried, unless nothing else is left', () => {
    const cm = setup({}, eps(2));
    const first = cm.pick('c')!.endpoint;
    cm.report(first, { status: 503 });
    for (let i = 0; i < 5; i++) {
      const r = cm.pick('c', { exclude: new Set([first]) })!;
      expect(r.endpoint).not.toBe(first);
      cm.report(r.endpoint, { status: 200 });
    }
    const single = setup({}, eps(1));
    const only = single.pick('c')!.endpoint;
    expect(single.pick('c', { exclude: new Set([only]) })!.endpoint).toBe(only);
  });

  it('pick counts active requests and report ends them', () => {
    const cm = setup({}, eps(1));
    const r = cm.pick('c')!;
    expect(cm.snapshot()[0]!.endpoints[0]).toMatchObject({ active: 1, requests: 1 });
    cm.report(r.endpoint, { status: 500 });
    expect(cm.snapshot()[0]!.endpoints[0]).toMatchObject({ active: 0, requests: 1, errors: 1 });
  });
});

describe('consistent hash', () => {
  it('the same header value always lands on the same endpoint, and values spread', () => {
    const cm = setup({ loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { httpHeaderName: 'x-user' } } }, eps(4));
    const where = (u: string) => cm.pick('c', { header: (n) => (n === 'x-user' ? u : undefined) })!.endpoint.port;
    for (let i = 0; i < 50; i++) expect(where('user-' + (i % 5))).toBe(where('user-' + (i % 5)));
    const t = tally(cm, 2000, (i) => ({ header: () => 'u' + i }));
    for (const v of Object.values(t)) expect(v).toBeGreaterThan(300);
  });

  it('is stable when endpoints change little: adding one of 5 moves about 1/6 of the keys', () => {
    const cm = setup({ loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { useSourceIp: true } } }, eps(5));
    const before = Array.from({ length: 1000 }, (_, i) => cm.pick('c', { sourceIp: `10.0.${i >> 8}.${i & 255}` })!.endpoint.port);
    cm.update([{ name: 'c', discovery: 'eds', protocol: 'http1', loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { useSourceIp: true } } }], [{ cluster: 'c', endpoints: eps(6) }]);
    const after = Array.from({ length: 1000 }, (_, i) => cm.pick('c', { sourceIp: `10.0.${i >> 8}.${i & 255}` })!.endpoint.port);
    const moved = before.filter((p, i) => p !== after[i]).length;
    expect(moved).toBeLessThan(300);
    // every key that moved went to the new endpoint
    for (let i = 0; i < 1000; i++) if (before[i] !== after[i]) expect(after[i]).toBe(9005);
  });

  it('an ejected / unhealthy endpoint sends its keys to the next one on the ring, others stay', () => {
    const lb = { policy: 'ROUND_ROBIN' as const, consistentHash: { httpQueryParameterName: 'id' } };
    const cm = setup({ loadBalancer: lb }, eps(3));
    const before = Array.from({ length: 300 }, (_, i) => cm.pick('c', { query: () => String(i) })!.endpoint.port);
    const e = eps(3);
    e[1]!.health = 'unhealthy';
    cm.update([{ name: 'c', discovery: 'eds', protocol: 'http1', loadBalancer: lb }], [{ cluster: 'c', endpoints: e }]);
    const after = Array.from({ length: 300 }, (_, i) => cm.pick('c', { query: () => String(i) })!.endpoint.port);
    for (let i = 0; i < 300; i++) {
      if (before[i] !== 9001) expect(after[i]).toBe(before[i]);
      else expect(after[i]).not.toBe(9001);
    }
  });

  it('cookie: absent -> Set-Cookie with path and ttl; the cookie then sticks to that endpoint', () => {
    const cm = setup({ loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { httpCookie: { name: 'user', path: '/', ttlMs: 60_000 } } } }, eps(5), { random: seeded(3) });
    for (let k = 0; k < 10; k++) {
      const first = cm.pick('c', { cookie: () => undefined })!;
      expect(first.setCookie).toMatch(/^user="[0-9a-f]{16}"; Max-Age=60; Path=\/; HttpOnly$/);
      const value = /"(.*)"/.exec(first.setCookie!)![1]!;
      for (let i = 0; i < 5; i++) {
        const again = cm.pick('c', { cookie: (n) => (n === 'user' ? value : undefined) })!;
        expect(again.setCookie).toBeUndefined();
        expect(again.endpoint).toBe(first.endpoint);
      }
    }
  });

  it('cookie without ttl is not issued (Envoy), and weights shape the ring', () => {
    const cm = setup({ loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { httpCookie: { name: 'u' } } } }, eps(2));
    expect(cm.pick('c', { cookie: () => undefined })!.setCookie).toBeUndefined();
    const w = setup({ loadBalancer: { policy: 'ROUND_ROBIN', consistentHash: { httpHeaderName: 'k' } } }, [{ address: '127.0.0.1', port: 1, weight: 1 }, { address: '127.0.0.1', port: 2, weight: 3 }]);
    const t = tally(w, 4000, (i) => ({ header: () => 'k' + i }));
    expect(t[2]! / 4000).toBeGreaterThan(0.65);
    expect(t[2]! / 4000).toBeLessThan(0.85);
  });
});

describe('outlier detection', () => {
  const od = { consecutive5xxErrors: 3, intervalMs: 1000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100 };

  function clock() {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => { t += ms; } };
  }

  function fail(cm: ClusterManager, port: number, n: number, status = 503): void {
    const ep = cm.get('c')!.endpoints.find((e) => e.port === port)!;
    for (let i = 0; i < n; i++) cm.report(ep, { status });
  }

  it('ejects after consecutive 5xx, for baseEjectionTime x ejections, then unejects', () => {
    const clk = clock();
    const cm = setup({ outlierDetection: od }, eps(3), { now: clk.now });
    fail(cm, 9000, 2);
    fail(cm, 9000, 1, 200); // a success resets the count
    fail(cm, 9000, 2);
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(false);
    fail(cm, 9000, 1);
    expect(cm.snapshot()[0]!.endpoints[0]).toMatchObject({ ejected: true, ejections: 1, ejectedUntil: clk.now() + 30_000 });
    expect(tally(cm, 30)).toEqual({ 9001: 15, 9002: 15 });
    clk.advance(29_999);
    expect(tally(cm, 2)[9000]).toBeUndefined();
    clk.advance(1);
    expect(tally(cm, 3)).toEqual({ 9000: 1, 9001: 1, 9002: 1 });
    // second ejection soon after lasts twice as long
    fail(cm, 9000, 3);
    expect(cm.snapshot()[0]!.endpoints[0]).toMatchObject({ ejected: true, ejections: 2, ejectedUntil: clk.now() + 60_000 });
    clk.advance(60_000);
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(false);
    // after many healthy intervals the multiplier has decayed back to 1
    clk.advance(10 * 1000);
    fail(cm, 9000, 3);
    expect(cm.snapshot()[0]!.endpoints[0]).toMatchObject({ ejections: 3, ejectedUntil: clk.now() + 30_000 });
  });

  it('consecutive gateway errors count 502/503/504 and connect failures; a 500 resets them', () => {
    const cm = setup({ outlierDetection: { ...od, consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 } }, eps(2), { now: clock().now });
    const ep = cm.get('c')!.endpoints[0]!;
    cm.report(ep, { status: 502 });
    cm.report(ep, { status: 500 });
    cm.report(ep, { connectFailure: true });
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(false);
    cm.report(ep, { timeout: true });
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(true);
  });

  it('consecutiveLocalOriginFailures counts connect failures apart from 5xx responses', () => {
    const cm = setup({ outlierDetection: { ...od, consecutive5xxErrors: 2, consecutiveLocalOriginFailures: 3 } }, eps(2), { now: clock().now });
    const ep = cm.get('c')!.endpoints[0]!;
    cm.report(ep, { connectFailure: true });
    cm.report(ep, { status: 503 });
    cm.report(ep, { connectFailure: true });
    cm.report(ep, { reset: true });
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(false); // a response came between: local count restarted
    cm.report(ep, { timeout: true });
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(true);
  });

  it('consecutive5xxErrors defaults to 5; neutral outcomes change nothing', () => {
    const cm = setup({ outlierDetection: { intervalMs: 1000, baseEjectionTimeMs: 1000, maxEjectionPercent: 100 } }, eps(2), { now: clock().now });
    const ep = cm.get('c')!.endpoints[0]!;
    for (let i = 0; i < 4; i++) { cm.report(ep, { status: 500 }); cm.report(ep, {}); }
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(false);
    cm.report(ep, { status: 500 });
    expect(cm.snapshot()[0]!.endpoints[0]!.ejected).toBe(true);
  });

  it('maxEjectionPercent caps ejections, but one endpoint can always be ejected', () => {
    const cm = setup({ outlierDetection: { ...od, maxEjectionPercent: 50 } }, eps(4), { now: clock().now });
    for (const p of [9000, 9001, 9002, 9003]) fail(cm, p, 3);
    expect(cm.snapshot()[0]!.endpoints.filter((e) => e.ejected)).toHaveLength(2);
    const small = setup({ outlierDetection: { ...od, maxEjectionPercent: 10 } }, eps(3), { now: clock().now });
    fail(small, 9000, 3);
    fail(small, 9001, 3);
    expect(small.snapshot()[0]!.endpoints.map((e) => e.ejected)).toEqual([true, false, false]);
  });

  it('minHealthPercent: below it every endpoint is used again (panic)', () => {
    const cm = setup({ outlierDetection: { ...od, minHealthPercent: 75 } }, eps(2), { now: clock().now });
    fail(cm, 9000, 3);
    expect(tally(cm, 4)).toEqual({ 9000: 2, 9001: 2 });
    expect(cm.snapshot()[0]!.panicPicks).toBe(4);
    const noPanic = setup({ outlierDetection: od }, eps(2), { now: clock().now });
    fail(noPanic, 9000, 3);
    expect(tally(noPanic, 4)).toEqual({ 9001: 4 });
  });

  it('update keeps ejection state for endpoints that persist and drops removed ones', () => {
    const clk = clock();
    const cm = setup({ outlierDetection: od }, eps(3), { now: clk.now });
    fail(cm, 9001, 3);
    const next: ClusterLoadAssignment = { cluster: 'c', endpoints: [...eps(2), { address: '127.0.0.1', port: 9100 }] };
    cm.update([{ name: 'c', discovery: 'eds', protocol: 'http1', outlierDetection: od }], [next]);
    const snap = cm.snapshot()[0]!.endpoints;
    expect(snap.map((e) => [e.port, e.ejected])).toEqual([[9000, false], [9001, true], [9100, false]]);
    cm.update([], []);
    expect(cm.has('c')).toBe(false);
  });
});

describe('cluster kinds', () => {
  it('dns clusters use their dnsHosts when no assignment is given', () => {
    const cm = new ClusterManager();
    cm.update([{ name: 'ext', discovery: 'dns', protocol: 'http1', dnsHosts: [{ host: 'localhost', port: 80 }] }], []);
    expect(cm.pick('ext')!.endpoint.key).toBe('localhost:80');
  });
});
