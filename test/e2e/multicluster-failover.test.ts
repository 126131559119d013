// Issue 16's failover acceptance across three "clouds" (network namespaces, only east-west gateways
// reachable across; multicluster-clouds-harness.ts): greeter in cloud A (us-east/zone-a) discovers
// messenger in cloud B (us-east/zone-b) and cloud C (eu-west/zone-c) with `bowline cluster add`;
// with localityLbSetting failover (us-east -> eu-west) and outlier detection, killing B's messenger
// moves greeter's calls to C with no failed request after the ejection (the sidecar's bounded
// retries cover the request that found B dead), and they move back to B when it returns.
// maxEjectionPercent is 50 (one of the two gateway endpoints): B's death ejects B, but C, the
// failover target, cannot be ejected on top of it. With 100 a single 5xx or reset from C under
// load (Envoy counts local-origin failures as 5xx unless split) ejected C too and, minHealthPercent
// being 0 (no panic mode), left no endpoint for baseEjectionTime: 5 s of failed calls, as Envoy
// documents. The test is about failing over to C, so the policy says C stays.
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { MESH_STRICT, sharedRoot } from './multicluster-harness.js';
import { canBuildClouds, Clouds, fetchIn, loadIn, type Cloud } from './multicluster-clouds-harness.js';

const clouds = new Clouds();
let a: Cloud;
let b: Cloud;
let c: Cloud;
let messengerB: Child;
let greeterSidecar: Child;
const GREETER = 'http://127.0.0.1:19080/greeter';
const from = (body: string) => /Greetings from (cluster-\d)/.exec(body)?.[1] ?? 'no message';

const failover = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: messenger, namespace: default}
spec:
  host: messenger.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 5s, maxEjectionPercent: 50}
    loadBalancer:
      localityLbSetting:
        enabled: true
        failover: [{from: us-east, to: eu-west}]
`;

/** A cloud with messenger (naming its cluster) behind a sidecar in `locality`, its east-west gateway exposing its control plane. */
async function messengerCloud(cloud: Cloud, locality: string): Promise<Child> {
  cloud.apply('strict', MESH_STRICT);
  cloud.apply('expose-services', readFileSync(join(repoRoot, 'samples/multicluster/expose-services.yaml'), 'utf8'));
  cloud.apply('expose-control-plane', readFileSync(join(repoRoot, 'samples/multicluster/expose-control-plane.yaml'), 'utf8').replace('10.0.0.2', cloud.address));
  const app = await cloud.app('messenger', 18080, { MESSENGER_CLUSTER: cloud.cluster });
  await cloud.sidecar('messenger', 'messenger', 8080, 18080, { locality });
  await cloud.eastWestGateway();
  return app;
}

/** `bowline cluster add` of `remote` in cloud A, with a registry-read token of the remote. */
function addCluster(remote: Cloud): void {
  const t = remote.cli(['api-token', 'create', '--scope', 'registry-read', `reader-${a.cluster}`]);
  const tokenFile = join(a.home, `${remote.cluster}.token`);
  writeFileSync(tokenFile, t.out.trim() + '\n');
  const add = a.cli(['cluster', 'add', remote.cluster, '--server', `http://${remote.address}:15012`, '--token', tokenFile]);
  if (add.status !== 0) throw new Error(add.out + add.err);
}

describe.skipIf(!canBuildClouds)('three clouds: locality failover across clusters', () => {
  beforeAll(async () => {
    [a, b, c] = clouds.build([{ name: 'a', cluster: 'cluster-1', network: 'network-1' }, { name: 'b', cluster: 'cluster-2', network: 'network-2' }, { name: 'c', cluster: 'cluster-3', network: 'network-3' }]);
    const cacerts = await sharedRoot(join(a.home, 'pki'), ['cluster-1', 'cluster-2', 'cluster-3']);
    await Promise.all([a.up(cacerts['cluster-1']!), b.up(cacerts['cluster-2']!), c.up(cacerts['cluster-3']!)]);
    [messengerB] = await Promise.all([messengerCloud(b, 'us-east/zone-b'), messengerCloud(c, 'eu-west/zone-c')]);
    a.apply('strict', MESH_STRICT);
    a.apply('failover', failover);
    greeterSidecar = await a.sidecar('greeter', 'greeter', 9080, 19080, { outbound: 15001, locality: 'us-east/zone-a' });
    await a.app('greeter', 19080, { HTTP_PROXY: 'http://127.0.0.1:15001', MESSENGER_URL: 'http://messenger.default.svc.cluster.local:8080' });
    addCluster(b);
    addCluster(c);
  }, 150_000);

  afterAll(async () => {
    await clouds.teardown();
  });

  it('greeter discovers both clusters and prefers its own region (cluster-2)', async () => {
    await waitFor(() => {
      const eps = a.cli(['proxy-config', 'greeter.default', 'endpoints', '-o', 'json']).out;
      try {
        const m = (JSON.parse(eps) as Array<{ cluster: string; endpoints: Array<{ address: string; port: number }> }>).find((x) => x.cluster === 'outbound|8080||messenger.default.svc.cluster.local');
        return m?.endpoints.length === 2;
      } catch { return false; }
    }, { timeoutMs: 40_000, what: 'both gateways in greeter\'s endpoints' });
    await waitFor(() => from(fetchIn(a, GREETER).body) === 'cluster-2', { timeoutMs: 30_000, what: 'postcard from cluster-2' });
    const r = await loadIn(a, GREETER, { rps: 10, count: 20, tally: (body: string) => (/Greetings from (cluster-\d)/.exec(body)?.[1] ?? 'no message') });
    expect(r.tally).toEqual({ 'cluster-2': 20 });
  }, 90_000);

  it("killing B's messenger moves the calls to C with no failed request after the ejection, and back when B returns", async () => {
    const load = loadIn(a, GREETER, { rps: 20, count: 160, tally: (body: string) => (/Greetings from (cluster-\d)/.exec(body)?.[1] ?? 'no message') });
    await new Promise((r) => setTimeout(r, 2000)); // let the first calls go to B, then kill it mid-run
    const killed = new Promise((r) => messengerB.proc.once('exit', r));
    messengerB.proc.kill('SIGKILL');
    await killed;
    const r = await load;
    const seq = r.sequence;
    const firstC = seq.indexOf('cluster-3');
    process.stdout.write(`multicluster failover: ${JSON.stringify(r.tally)}; first answer from cluster-3 at request ${firstC} of ${seq.length}\n`);
    if (r.failures > 0 || seq.slice(Math.max(0, firstC)).some((s) => s !== 'cluster-3' && s !== 'cluster-2')) {
      process.stdout.write(`greeter's sidecar log (last 40 lines):\n${greeterSidecar.output().split('\n').slice(-40).join('\n')}\n`);
    }
    expect(seq[0]).toBe('cluster-2');
    expect(firstC).toBeGreaterThan(0);
    // After the ejection every call is answered, from cluster-3 (until B's ejection time is over and B is still dead: retried to C).
    expect(seq.slice(firstC).filter((s) => s !== 'cluster-3' && s !== 'cluster-2')).toEqual([]);
    expect(r.failures).toBe(0);
    // B returns (same app port in its namespace): after the ejection time the calls go back to it.
    messengerB = await b.app('messenger', 18080, { MESSENGER_CLUSTER: 'cluster-2' });
    await waitFor(() => from(fetchIn(a, GREETER).body) === 'cluster-2', { timeoutMs: 40_000, intervalMs: 500, what: 'postcard from cluster-2 again' });
    const back = await loadIn(a, GREETER, { rps: 10, count: 20, tally: (body: string) => (/Greetings from (cluster-\d)/.exec(body)?.[1] ?? 'no message') });
    expect(back.tally).toEqual({ 'cluster-2': 20 });
  }, 120_000);
});
