// Istio's Bookinfo walkthroughs, each a test against one `bowline demo` (real processes on
// loopback: control plane, every workload with its sidecar, the ingress gateway).
// (a) no rules (b) all-v1 (c) v3 (d) jason -> v2, others v3 (e) 7 s delay for jason: the timeout bug
// (f) 50/50 then 100 % v3 (g) sleep -> httpbin /headers shows trace headers (h) aborts
// (i) mTLS between every pair of proxies, with the identities the demo gave them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { repoRoot, runBowline } from '../support/process.js';
import { waitFor, waitForOutput } from '../support/wait.js';
import { startDemo, request, signIn, built, meshMissing, alive, type Demo } from './bookinfo-harness.js';
import { useWalkthroughs, type WalkthroughState } from './bookinfo-walkthroughs.js';

const run = promisify(execFile);
const skip = !built || !!meshMissing();

const state: WalkthroughState = {};
const { bowline, applied, cases } = useWalkthroughs(state, skip);
let demo: Demo;

beforeAll(async () => {
  if (skip) return;
  demo = state.demo = await startDemo([], 90_000);
  state.jason = await signIn(demo.base, 'jason');
}, 120_000);
afterAll(async () => { if (!skip && demo.child.proc.exitCode === null) await demo.interrupt(); });

describe.skipIf(skip)(`Bookinfo walkthroughs through bowline demo${skip ? ` (skipped: ${meshMissing() ?? 'not built'})` : ''}`, () => {
  for (const c of Object.values(cases)) it(c.name, c.run, c.timeoutMs);

  it('(g) sleep calls httpbin /headers through its sidecar: x-request-id and x-b3-traceid are there', async () => {
    const r = await run(process.execPath, [`${repoRoot}dist/samples/sleep/sleep.js`, 'fetch', 'http://httpbin:8000/headers'], {
      env: { ...process.env, HTTP_PROXY: demo.state.outbound['sleep']!, NO_PROXY: '' }, timeout: 20_000,
    });
    const headers = Object.fromEntries(Object.entries(JSON.parse(r.stdout).headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    expect(headers['x-request-id']).toMatch(/\S/);
    expect(headers['x-b3-traceid']).toMatch(/^[0-9a-f]{16,32}$/);
  });

  it('(i) mTLS on every hop (auto-mTLS with the tokens the demo minted): reviews saw productpage\'s SPIFFE id, authn check is all OK', async () => {
    for (let i = 0; i < 5; i++) expect((await request(`${demo.base}/productpage`)).status).toBe(200);
    // Every reviews sidecar's destination-side metrics: the caller's certificate identity, over mutual TLS.
    const reviewsMetrics = await Promise.all(['reviews-v1', 'reviews-v2', 'reviews-v3'].map(async (name) => {
      const ports = JSON.parse(readFileSync(`${demo.home}/${name}.ports.json`, 'utf8')) as { metrics: number };
      return (await request(`http://127.0.0.1:${ports.metrics}/stats/prometheus`)).text;
    }));
    const inbound = reviewsMetrics.join('\n').split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="destination"') && l.includes('source_workload="productpage-v1"'));
    expect(inbound.length).toBeGreaterThan(0);
    for (const l of inbound) {
      expect(l).toContain('source_principal="spiffe://cluster.local/ns/default/sa/bookinfo-productpage"');
      expect(l).toContain('destination_principal="spiffe://cluster.local/ns/default/sa/bookinfo-reviews"');
      expect(l).toContain('connection_security_policy="mutual_tls"');
    }
    // The gateway -> productpage hop too.
    const pp = JSON.parse(readFileSync(`${demo.home}/productpage-v1.ports.json`, 'utf8')) as { metrics: number };
    const fromGateway = (await request(`http://127.0.0.1:${pp.metrics}/stats/prometheus`)).text.split('\n').filter((l) => l.includes('reporter="destination"') && l.includes('source_workload="istio-ingressgateway"') && l.startsWith('istio_requests_total{'));
    expect(fromGateway.length).toBeGreaterThan(0);
    for (const l of fromGateway) expect(l).toContain('connection_security_policy="mutual_tls"');
    const check = await bowline(['authn', 'check']);
    expect(check.code, check.out).toBe(0);
    const rows = check.out.split('\n').filter((l) => /\.svc\.cluster\.local:\d+/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(6);
    for (const r of rows) expect(r, check.out).toMatch(/ISTIO_MUTUAL\s+auto-mTLS\s+OK\s*$/);
  });

  it('(t) every command of the README tour works as written (URL = the demo\'s API)', async () => {
    const readme = readFileSync(`${repoRoot}README.md`, 'utf8');
    const block = /## A tour[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const commands = block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
    expect(commands.length).toBeGreaterThanOrEqual(8);
    for (const c of commands) {
      expect(c).toMatch(/^npx bowline /);
      const args = c.replace(/^npx bowline /, '').replace('URL', demo.state.apiUrl!).split(/\s+/);
      const r = await runBowline(args);
      expect(r.code, `${c}\n${r.out}${r.err}`).toBe(0);
      if (args[0] === 'apply') applied.push(/samples\/networking\/(\S+)\.yaml/.exec(c)![1]!);
      if (args[0] === 'delete') applied.splice(applied.indexOf(/samples\/networking\/(\S+)\.yaml/.exec(c)![1]!), 1);
    }
    // With STRICT applied last, the page still works through the gateway (every hop has certificates).
    await waitFor(async () => (await request(`${demo.base}/productpage`)).status === 200, { timeoutMs: 15_000, what: 'the page under STRICT mTLS' });
  });

  // Last: it stops the demo.
  it('(z) a dying sidecar is reported with its log while the rest keeps serving; Ctrl-C stops every process and removes the home', async () => {
    const sidecar = demo.state.processes.find((p) => p.name === 'httpbin-v1-sidecar')!;
    process.kill(sidecar.pid, 'SIGKILL');
    await waitFor(() => demo.child.output().includes('httpbin-v1-sidecar exited'), { what: 'the death report' });
    // The report's line may reach us in two reads of the pipe: wait for its end too.
    await waitForOutput(demo.child, `[BOWLINE_E_DEMO_WORKLOAD_DIED]; its log: ${sidecar.log}`, { what: 'the death report names the log' });
    expect((await request(`${demo.base}/productpage`)).text).toContain('The Comedy of Errors');
    const pids = demo.state.processes.map((p) => p.pid);
    expect(pids.length).toBeGreaterThanOrEqual(18); // control plane, gateway, 8 apps, 8 sidecars
    expect(await demo.interrupt()).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(demo.home)).toBe(false);
  });
});
