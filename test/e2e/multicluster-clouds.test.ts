// Issue 16's acceptance across "clouds" (network namespaces on separate subnets, only east-west
// gateways reachable across, multicluster-clouds-harness.ts): greeter in cloud A shows the postcard
// with messenger's message from cloud B over mTLS end to end (messenger's sidecar saw greeter's
// SPIFFE id), first through the seed's hand-written `.global` ServiceEntry, then with
// `bowline cluster add` (B's control plane read through B's east-west gateway) and no
// ServiceEntry; cross-cluster vs local p99 at 200 rps in the same run; B's control plane killed:
// traffic keeps flowing on the last endpoints. (multicluster-failover.test.ts: the third cloud.)
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { MESH_STRICT, seedGlobalServiceEntry, sharedRoot } from './multicluster-harness.js';
import { canBuildClouds, Clouds, compareIn, fetchIn, inNs, loadIn, routeTo, tcpOpens, type Cloud } from './multicluster-clouds-harness.js';
import type { Child } from '../support/process.js';

const clouds = new Clouds();
let a: Cloud;
let b: Cloud;
let greeter: Child;
const GREETER = 'http://127.0.0.1:19080/greeter';
const GREETER_ID = 'spiffe://cluster.local/ns/default/sa/greeter';

const controlPlaneExposure = (address: string) => readFileSync(join(repoRoot, 'samples/multicluster/expose-control-plane.yaml'), 'utf8').replace('10.0.0.2', address);

/** Waits until the postcard in cloud A shows `text`. */
async function postcardShows(text: string): Promise<string> {
  let last = '';
  await waitFor(() => { last = fetchIn(a, GREETER).body; return last.includes(text); }, { timeoutMs: 40_000, intervalMs: 300, what: `postcard showing "${text}"; last:\n${last}` });
  return last;
}

describe.skipIf(!canBuildClouds)('two clouds, only east-west gateways reachable across', () => {
  beforeAll(async () => {
    [a, b] = clouds.build([{ name: 'a', cluster: 'cluster-1', network: 'network-1' }, { name: 'b', cluster: 'cluster-2', network: 'network-2' }]);
    const cacerts = await sharedRoot(join(a.home, 'pki'), ['cluster-1', 'cluster-2']);
    await Promise.all([a.up(cacerts['cluster-1']!), b.up(cacerts['cluster-2']!)]);
    a.apply('strict', MESH_STRICT);
    b.apply('strict', MESH_STRICT);
    for (const f of ['expose-services', 'expose-global']) b.apply(f, readFileSync(join(repoRoot, 'samples/multicluster', `${f}.yaml`), 'utf8'));
    b.apply('expose-control-plane', controlPlaneExposure(b.address));
    await b.app('messenger', 18080, { MESSENGER_CLUSTER: 'cluster-2' });
    await b.sidecar('messenger', 'messenger', 8080, 18080, { locality: 'us-east/zone-b' });
    await b.eastWestGateway();
    // Cloud A: greeter (its sidecar's outbound on 15001 is the app's HTTP_PROXY) and a local messenger for the p99 baseline.
    await a.app('messenger', 18081, { MESSENGER_CLUSTER: 'cluster-1' });
    await a.sidecar('local-messenger', 'local-messenger', 8080, 18081);
    await a.sidecar('greeter', 'greeter', 9080, 19080, { outbound: 15001, locality: 'us-east/zone-a', extra: ['--dns', '--dns-port', '15053'] });
    greeter = await a.app('greeter', 19080, { HTTP_PROXY: 'http://127.0.0.1:15001', MESSENGER_URL: 'http://messenger.default.global:8080' });
  }, 120_000);

  afterAll(async () => {
    await clouds.teardown();
  });

  it('cross-cloud traffic goes over the veths the test made, and only the gateway ports are reachable', () => {
    expect(routeTo(a, b.address)).toMatch(new RegExp(`${b.address.replace(/\./g, '\\.')} via 10\\.161\\.1\\.1 dev eth0`));
    expect(tcpOpens(a, b.address, 15443)).toBe(true);
    expect(tcpOpens(a, b.address, 15012)).toBe(true);
    expect(tcpOpens(a, b.address, 8080)).toBe(false); // messenger's own sidecar
    expect(tcpOpens(a, b.address, 15014)).toBe(false); // B's control plane API
  });

  it("the seed's .global ServiceEntry: the postcard shows messenger's message from cluster-2, mTLS end to end", async () => {
    a.apply('global', seedGlobalServiceEntry(b.address, 15443));
    const page = await postcardShows('Greetings from cluster-2!');
    expect(page).toContain(`messenger saw the sender as ${GREETER_ID}`);
    // The sidecar's DNS proxy answers the .global name with the ServiceEntry's address (no stub domain, no istiocoredns).
    const dns = inNs(a.ns, [process.execPath, '-e', "const r=new (require('dns').promises.Resolver)();r.setServers(['127.0.0.1:15053']);r.resolve4('messenger.default.global').then((x)=>console.log(JSON.stringify(x)),(e)=>console.log(e.code))"]);
    expect(dns.out.trim()).toBe('["127.127.42.69"]');
  }, 60_000);

  it('bowline cluster add (through B\'s gateway) and no ServiceEntry: the postcard still comes from cluster-2', async () => {
    expect(a.cli(['delete', 'serviceentry', 'messenger-default', '-n', 'default']).status).toBe(0);
    const t = b.cli(['api-token', 'create', '--scope', 'registry-read', 'cluster-1']);
    const tokenFile = join(a.home, 'cluster-2.token');
    writeFileSync(tokenFile, t.out.trim() + '\n');
    const add = a.cli(['cluster', 'add', 'cluster-2', '--server', `http://${b.address}:15012`, '--token', tokenFile]);
    expect(add.status, add.out + add.err).toBe(0);
    expect(add.err).toContain('answers as cluster cluster-2 on network network-2');
    await greeter.stop();
    greeter = await a.app('greeter', 19080, { HTTP_PROXY: 'http://127.0.0.1:15001', MESSENGER_URL: 'http://messenger.default.svc.cluster.local:8080' });
    const page = await postcardShows('Greetings from cluster-2!');
    expect(page).toContain(`messenger saw the sender as ${GREETER_ID}`);
    expect(a.cli(['get', 'serviceentries', '-A', '-o', 'json']).out).not.toContain('messenger');
    // Greeter's sidecar knows messenger only as B's gateway on 15443, never messenger's own address.
    const eps = a.cli(['proxy-config', 'greeter.default', 'endpoints', '-o', 'json']).out;
    const messengerEps = (JSON.parse(eps) as Array<{ cluster: string; endpoints: Array<{ address: string; port: number }> }>).find((c) => c.cluster === 'outbound|8080||messenger.default.svc.cluster.local');
    expect(messengerEps?.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual([`${b.address}:15443`]);
    expect(a.cli(['cluster', 'list']).out).toMatch(/cluster-2\s+bowline\s+\S+\s+synced/);
  }, 90_000);

  it('cross-cluster added p99 at 200 rps against the local path, same run', async () => {
    // Both paths from greeter's sidecar at 200 rps, in alternating 0.5 s blocks (A B B A ...) of one
    // bounded run: 16 blocks, 800 measured requests per path after a warm-up of 100 each. Adjacent
    // blocks pair up (one of each path); the median of the pairs' p99 differences is the added p99
    // least disturbed by the machine's slow spells (other work on a shared machine stalls both paths).
    const r = await compareIn(a, { a: 'http://messenger.default.svc.cluster.local:8080/message', b: 'http://local-messenger.default.svc.cluster.local:8080/message' },
      { rps: 200, perBlock: 100, blocks: 16, warmup: 100, proxyPort: 15001, check: { a: 'cluster-2', b: 'cluster-1' } });
    const cross = r.a;
    const local = r.b;
    const diffs = cross.blockP99.map((c, i) => c - local.blockP99[i]!).sort((x, y) => x - y);
    const median = (l: number[]) => (l.length % 2 ? l[(l.length - 1) / 2]! : (l[l.length / 2 - 1]! + l[l.length / 2]!) / 2);
    const f = (n: number) => n.toFixed(2);
    process.stdout.write(`multicluster p99 at 200 rps (${cross.count} requests per path, alternating 0.5 s blocks): local ${f(local.p99)} ms (p50 ${f(local.p50)}), cross-cluster via east-west gateway ${f(cross.p99)} ms (p50 ${f(cross.p50)}); added p99 pooled ${f(cross.p99 - local.p99)} ms, median of paired blocks ${f(median(diffs))} ms; added p50 ${f(cross.p50 - local.p50)} ms\n`);
    process.stdout.write(`multicluster p99 per block (ms): local ${local.blockP99.map(f).join(' ')}; cross-cluster ${cross.blockP99.map(f).join(' ')}; failed: local ${local.failures}, cross-cluster ${cross.failures}; wrong cluster: local ${local.wrong}, cross-cluster ${cross.wrong}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    if (cross.failures + local.failures) process.stdout.write(`multicluster failed requests: ${JSON.stringify({ cross: cross.why, local: local.why })}\n`);
    // Every answer came from the right cluster. The figures, not a time bound, are the result; a
    // machine running many times more work than it has cores stalls processes for seconds, and a
    // request may then time out on either path: at most 1% may fail (each printed with its reason).
    expect(cross.count).toBe(800);
    expect(local.count).toBe(800);
    expect(cross.wrong).toBe(0);
    expect(local.wrong).toBe(0);
    expect(cross.failures).toBeLessThanOrEqual(8);
    expect(local.failures).toBeLessThanOrEqual(8);
  }, 90_000);

  it("B's control plane killed: cross-cluster traffic keeps working on the last endpoints", async () => {
    const exited = new Promise((r) => b.cp!.proc.once('exit', r));
    b.cp!.proc.kill('SIGKILL');
    await exited;
    await waitFor(() => /cluster-2\s+bowline\s+\S+\s+unreachable/.test(a.cli(['cluster', 'list']).out), { timeoutMs: 30_000, what: 'cluster-2 unreachable' });
    const listed = JSON.parse(a.cli(['cluster', 'list', '-o', 'json']).out) as Array<{ name: string; state: string; error?: string; endpoints: number }>;
    expect(listed.find((c) => c.name === 'cluster-2')).toMatchObject({ state: 'unreachable', endpoints: 1, error: expect.any(String) });
    const after = await loadIn(a, GREETER, { rps: 20, count: 40, tally: (body: string) => (/Greetings from (cluster-\d)/.exec(body)?.[1] ?? 'no message') });
    expect(after.tally).toEqual({ 'cluster-2': 40 });
    // Local traffic is unaffected by the remote's state.
    const local = await loadIn(a, 'http://local-messenger.default.svc.cluster.local:8080/message', { rps: 20, count: 20, proxyPort: 15001, tally: (body: string) => (/"cluster":"(cluster-\d)"/.exec(body)?.[1] ?? 'no message') });
    expect(local.tally).toEqual({ 'cluster-1': 20 });
  }, 60_000);
});
