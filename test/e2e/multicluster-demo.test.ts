// `bowline demo --multicluster` as a user runs it (issue 16 item 7): two clusters on this machine,
// cluster-1 on network-1 (greeter, the ingress gateway) and cluster-2 on network-2 (messenger), each
// with its control plane under one shared root and its east-west gateway. The printed URL ends in
// /greeter and shows messenger's message naming cluster-2, delivered over mTLS (messenger saw
// greeter's SPIFFE id); greeter's sidecar knows messenger only as cluster-2's east-west gateway,
// found by `bowline cluster add` (no ServiceEntry); Ctrl-C stops every process and removes the home.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { repoRoot, runBowline, startBowline } from '../support/process.js';
import { alive, built, request, startDemo, type Demo } from './bookinfo-harness.js';

const canRun = built && existsSync(join(repoRoot, 'dist/samples/postcard/greeter.js'));
let demo: Demo | undefined;
let clusters: Array<{ name: string; network: string; apiUrl: string; home: string }> = [];

describe.skipIf(!canRun)('bowline demo --multicluster', () => {
  beforeAll(async () => {
    demo = await startDemo(['--multicluster'], 150_000, 'The postcard is up in');
    clusters = (JSON.parse(readFileSync(join(demo.home, 'demo.json'), 'utf8')) as { clusters: typeof clusters }).clusters;
  }, 160_000);

  afterAll(async () => {
    await demo?.interrupt();
  });

  it("prints the postcard URL ending in /greeter; it shows messenger's message from cluster-2, mTLS end to end", async () => {
    const url = new RegExp(`open (http://localhost:${demo!.port}/greeter)\\s*$`, 'm').exec(demo!.child.output())?.[1];
    expect(url, demo!.child.output()).toBeDefined();
    expect(clusters.map((c) => `${c.name}/${c.network}`)).toEqual(['cluster-1/network-1', 'cluster-2/network-2']);
    const page = await request(url!.replace('localhost', '127.0.0.1'));
    expect(page.status).toBe(200);
    expect(page.text).toContain('<p class="message">Greetings from cluster-2!</p>');
    expect(page.text).toContain('messenger saw the sender as spiffe://cluster.local/ns/default/sa/greeter');
  });

  it("greeter's sidecar reaches messenger only through cluster-2's east-west gateway, discovered with bowline cluster add", async () => {
    const [one, two] = clusters as [typeof clusters[0], typeof clusters[0]];
    const env = { env: { BOWLINE_HOME: one.home } };
    const list = await runBowline(['cluster', 'list', '--server', one.apiUrl], env);
    expect(list.out).toMatch(/cluster-2\s+bowline\s+\S+\s+synced\s+1\s+1/);
    expect((await runBowline(['cluster', 'list', '--server', two.apiUrl], env)).out).toMatch(/cluster-1\s+bowline\s+\S+\s+synced\s+1\s+1/);
    const eastWest = (readPortsFile(join(two.home, 'istio-eastwestgateway.ports.json'), ['admin']) as unknown as { listeners: Record<string, number> }).listeners['gateway|15443'];
    const messengerInbound = (readPortsFile(join(two.home, 'messenger.ports.json'), ['admin']) as unknown as { listeners: Record<string, number> }).listeners['inbound|8080'];
    const eps = JSON.parse((await runBowline(['proxy-config', 'greeter.default', 'endpoints', '-o', 'json', '--server', one.apiUrl], env)).out) as Array<{ cluster: string; endpoints: Array<{ address: string; port: number }> }>;
    const messenger = eps.find((c) => c.cluster === 'outbound|8080||messenger.default.svc.cluster.local');
    expect(messenger?.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual([`127.0.0.1:${eastWest}`]);
    expect(eastWest).not.toBe(messengerInbound);
    expect((await runBowline(['get', 'serviceentries', '-A', '-o', 'json', '--server', one.apiUrl], env)).out).not.toContain('messenger');
  });

  it('Ctrl-C stops every process of both clusters and removes the temporary home', async () => {
    const state = JSON.parse(readFileSync(join(demo!.home, 'demo.json'), 'utf8')) as { processes: Array<{ name: string; pid: number }> };
    expect(state.processes.map((p) => p.name)).toEqual(expect.arrayContaining(['cluster-1-control-plane', 'cluster-2-control-plane', 'cluster-1-istio-eastwestgateway', 'cluster-2-istio-eastwestgateway', 'cluster-1-greeter', 'cluster-2-messenger']));
    const home = demo!.home;
    expect(await demo!.interrupt()).toBe(0);
    demo = undefined;
    expect(state.processes.map((p) => p.pid).filter(alive)).toEqual([]);
    expect(existsSync(home)).toBe(false);
  }, 30_000);

  it('refuses --multicluster with --no-mesh, naming the flags to drop', async () => {
    const child = startBowline(['demo', '--multicluster', '--no-mesh']);
    expect(await child.exited()).not.toBe(0);
    expect(child.output()).toContain('--multicluster runs the postcard sample with the mesh: drop --no-mesh');
  });
});
