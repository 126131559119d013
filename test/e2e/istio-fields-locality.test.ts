// DestinationRule localityLbSetting and warmup through real proxies: Istio YAML -> generators ->
// a Bowline sidecar that knows its locality (`bowline proxy --locality`, here in its node) ->
// which workload answers. Endpoints' localities come from the registry (the workloads'
// announcements). The clock of the proxy's cluster manager is injected (ejections, slow start).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { send, Sidecar, sleepAt, stopWorkloads, workload, type Instance, type Workload } from './fields-harness.js';

let local: Workload;
let zoneB: Workload;
let remote: Workload;
let mesh: Instance[];
const sidecars: Sidecar[] = [];
const HERE = sleepAt('us-east/zone-a/rack-1');

beforeAll(async () => {
  local = await workload('reviews-local');
  zoneB = await workload('reviews-zone-b');
  remote = await workload('reviews-eu');
  mesh = [
    { w: local, service: 'reviews', locality: 'us-east/zone-a/rack-1' },
    { w: zoneB, service: 'reviews', locality: 'us-east/zone-b/rack-9' },
    { w: remote, service: 'reviews', locality: 'eu-west/zone-x/rack-3' },
  ];
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
  for (const w of [local, zoneB, remote]) { w.status = 200; w.seen.length = 0; }
});

afterAll(async () => {
  await stopWorkloads([local, zoneB, remote]);
});

async function who(s: Sidecar, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await send(s.port, 'http://reviews:9080/');
    const k = r.status === 200 ? r.json.name : String(r.status);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

describe('localityLbSetting', () => {
  it('failover: traffic stays in the proxy\'s locality, fails over zone then region as endpoints are ejected, and comes back', async () => {
    let now = 1_000_000;
    const s = new Sidecar();
    sidecars.push(s);
    await s.start(mesh, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
    loadBalancer:
      localityLbSetting:
        enabled: true
        failover: [{from: us-east, to: eu-west}]
`, { proxy: HERE, now: () => now });
    expect(await who(s, 12)).toEqual({ 'reviews-local': 12 });
    local.status = 503; // the local endpoint fails once and is ejected; its retry already goes to zone-b
    expect(await who(s, 12)).toEqual({ 'reviews-zone-b': 12 });
    zoneB.status = 503;
    expect(await who(s, 12)).toEqual({ 'reviews-eu': 12 });
    local.status = 200;
    zoneB.status = 200;
    now += 31_000; // ejections over: back to the local endpoint
    expect(await who(s, 12)).toEqual({ 'reviews-local': 12 });
  });

  it('failoverPriority: endpoints matching the proxy on more of the listed keys come first', async () => {
    const s = new Sidecar();
    sidecars.push(s);
    await s.start(mesh, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
    loadBalancer: {localityLbSetting: {failoverPriority: [topology.kubernetes.io/region]}}
`, { proxy: HERE });
    // Same region (either zone) first; the other region only when both are gone.
    expect(await who(s, 12)).toEqual({ 'reviews-local': 6, 'reviews-zone-b': 6 });
  });

  it('without outlier detection there is no failover order (Istio): every locality gets traffic', async () => {
    const s = new Sidecar();
    sidecars.push(s);
    await s.start(mesh, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {localityLbSetting: {enabled: true}}}
`, { proxy: HERE });
    expect(await who(s, 12)).toEqual({ 'reviews-local': 4, 'reviews-zone-b': 4, 'reviews-eu': 4 });
  });

  it('distribute: locality weights for proxies in the `from` locality, none to localities not listed', async () => {
    const s = new Sidecar();
    sidecars.push(s);
    await s.start(mesh, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        enabled: true
        distribute:
        - from: us-east/zone-a/*
          to: {"us-east/zone-a/*": 80, "us-east/zone-b/*": 20}
`, { proxy: HERE });
    expect(await who(s, 100)).toEqual({ 'reviews-local': 80, 'reviews-zone-b': 20 });
    // A proxy elsewhere is not covered by the rule: plain round robin.
    const other = new Sidecar();
    sidecars.push(other);
    await other.start(mesh, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: us-east/zone-a/*, to: {"us-east/zone-a/*": 100}}]}}}
`, { proxy: sleepAt('eu-west/zone-x/rack-3') });
    expect(await who(other, 9)).toEqual({ 'reviews-local': 3, 'reviews-zone-b': 3, 'reviews-eu': 3 });
  });
});

describe('DestinationRule warmup', () => {
  it('an endpoint that joins ramps up from minimumPercent to its full weight over the duration', async () => {
    let now = 5_000_000;
    const s = new Sidecar();
    sidecars.push(s);
    const yaml = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 100s, minimumPercent: 10, aggression: 1}}}
`;
    const two = mesh.slice(0, 2);
    await s.start(two.slice(0, 1), yaml, { now: () => now });
    expect(await who(s, 5)).toEqual({ 'reviews-local': 5 });
    await s.apply(two, yaml); // zone-b's endpoint joins now: weight 10 %
    expect(await who(s, 110)).toEqual({ 'reviews-local': 100, 'reviews-zone-b': 10 });
    now += 50_000; // half way: 50 %
    const half = await who(s, 150);
    expect(half['reviews-zone-b']).toBeGreaterThanOrEqual(49);
    expect(half['reviews-zone-b']).toBeLessThanOrEqual(51);
    now += 50_000; // warmed up: equal shares
    expect(await who(s, 20)).toEqual({ 'reviews-local': 10, 'reviews-zone-b': 10 });
  });
});
