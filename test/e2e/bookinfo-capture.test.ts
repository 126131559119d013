// `bowline demo --capture` (root, Linux): each workload in its own network namespace on a bridge
// the demo creates, transparent capture in each, apps without proxy settings calling plain service
// names. The Bookinfo walkthroughs (shared with bookinfo-scenarios.test.ts) pass against it; the
// namespaces, bridge, veths and rules are gone after SIGTERM. The demo's names carry this test's
// prefix (vm + pid), so parallel runs and other tests' namespaces never collide.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { startDemo, signIn, built, meshMissing, alive, type Demo } from './bookinfo-harness.js';
import { useWalkthroughs, type WalkthroughState } from './bookinfo-walkthroughs.js';

const canRun = built && !meshMissing() && process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('iptables', ['--version']).status === 0
  && existsSync(`${repoRoot}native/original-dst/build/Release/original_dst.node`);
const PREFIX = `vm${process.pid.toString(36)}`;

interface NetworkState { prefix: string; bridge: string; hostAddress: string; namespaces: Record<string, { name: string; address: string; hostVeth: string }> }

const state: WalkthroughState = {};
const { cases } = useWalkthroughs(state, !canRun);
let demo: Demo;
let network: NetworkState;

const ip = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
const ours = (text: string) => text.split('\n').filter((l) => l.includes(PREFIX));

beforeAll(async () => {
  if (!canRun) return;
  demo = state.demo = await startDemo(['--capture', '--netns-prefix', PREFIX], 150_000);
  network = (demo.state as unknown as { network: NetworkState }).network;
  state.jason = await signIn(demo.base, 'jason');
}, 180_000);

afterAll(async () => {
  if (!canRun) return;
  if (demo && demo.child.proc.exitCode === null) await demo.interrupt();
  // Only when the demo failed to clean up (the test below says so): nothing of ours stays on the host.
  for (const l of ours(ip(['netns', 'list']).stdout)) ip(['netns', 'del', l.split(' ')[0]!]);
  for (const l of ours(ip(['-o', 'link', 'show']).stdout)) ip(['link', 'del', l.split(': ')[1]!.split('@')[0]!]);
});

describe.skipIf(!canRun)('bowline demo --capture: every workload in its own network namespace, captured, with plain service names', () => {
  it('one namespace per workload on the demo\'s bridge: addresses route over it, no default route, capture rules (with DNS) in each', () => {
    expect(network.prefix).toBe(PREFIX);
    const names = Object.values(network.namespaces);
    expect(names.length).toBe(8);
    const listed = ip(['netns', 'list']).stdout;
    for (const ns of names) {
      expect(listed).toContain(ns.name);
      expect(ip(['route', 'get', ns.address]).stdout).toContain(`dev ${network.bridge}`);
      expect(ip(['-n', ns.name, 'route', 'get', network.hostAddress]).stdout).toContain('dev eth0');
      expect(ip(['-n', ns.name, 'route', 'show', 'default']).stdout.trim()).toBe('');
      expect(ip(['link', 'show', ns.hostVeth]).stdout).toContain(`master ${network.bridge}`);
      const rules = spawnSync('ip', ['netns', 'exec', ns.name, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }).stdout;
      expect(rules).toContain('-A OUTPUT -p tcp -j BOWLINE_OUTPUT');
      expect(rules).toContain('-A BOWLINE_DNS -p udp -m udp --dport 53 -j REDIRECT --to-ports 15053');
    }
  });

  it('the apps run in their namespaces with no proxy settings', () => {
    for (const [workload, ns] of Object.entries(network.namespaces)) {
      const app = demo.state.processes.find((p) => p.name === workload)!;
      expect(spawnSync('ip', ['netns', 'identify', String(app.pid)], { encoding: 'utf8' }).stdout.trim()).toBe(ns.name);
      const env = readFileSync(`/proc/${app.pid}/environ`, 'utf8').split('\0');
      expect(env.filter((e) => /^(https?_proxy|HTTPS?_PROXY)=./.test(e))).toEqual([]);
    }
    expect(demo.state.outbound).toEqual({});
  });

  it('(g) sleep calls http://httpbin:8000 by its plain name from its namespace: the DNS proxy answers, the connection is captured, mTLS with sleep\'s SPIFFE id', () => {
    const r = spawnSync('ip', ['netns', 'exec', network.namespaces['sleep']!.name, 'env', '-u', 'HTTP_PROXY', '-u', 'http_proxy', process.execPath, `${repoRoot}dist/samples/sleep/sleep.js`, 'fetch', 'http://httpbin:8000/headers'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const headers = Object.fromEntries(Object.entries(JSON.parse(r.stdout).headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    expect(headers['x-forwarded-client-cert']).toContain('URI=spiffe://cluster.local/ns/default/sa/sleep');
    expect(headers['x-b3-traceid']).toMatch(/^[0-9a-f]{16,32}$/);
  });

  for (const k of ['a', 'd', 'f']) it(cases[k]!.name, cases[k]!.run, cases[k]!.timeoutMs);

  // Last: it stops the demo.
  it('SIGTERM stops every process and removes the namespaces, bridge, veths, resolv.conf files and the home', async () => {
    const pids = demo.state.processes.map((p) => p.pid);
    const exited = new Promise<number | null>((r) => demo.child.proc.once('exit', (c) => r(c)));
    demo.child.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor(() => pids.every((p) => !alive(p)), { what: 'every demo process gone' });
    expect(ours(ip(['netns', 'list']).stdout)).toEqual([]);
    expect(ours(ip(['-o', 'link', 'show']).stdout)).toEqual([]);
    expect((existsSync('/etc/netns') ? readdirSync('/etc/netns') : []).filter((d) => d.startsWith(`${PREFIX}-`))).toEqual([]);
    expect(ours(spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout)).toEqual([]);
    expect(existsSync(demo.home)).toBe(false);
  });
});
