// Istio's Bookinfo walkthroughs, each a test against one `bowline demo` (real processes on
// loopback: control plane, every workload with its sidecar, the ingress gateway).
// (a) no rules (b) all-v1 (c) v3 (d) jason -> v2, others v3 (e) 7 s delay for jason: the timeout bug
// (f) 50/50 then 100 % v3 (g) sleep -> httpbin /headers shows trace headers (h) aborts
// (i) mTLS between every pair of proxies, with the identities the demo gave them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { repoRoot, runBowline } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { startDemo, request, signIn, built, meshMissing, demoDiagnostics, alive, reviewsVersions, untilReviews, type Demo } from './bookinfo-harness.js';

const run = promisify(execFile);
const net = (f: string) => `${repoRoot}samples/networking/${f}.yaml`;
const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';
const skip = !built || !!meshMissing();

let demo: Demo;
let jason: string;
const applied: string[] = [];

async function bowline(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runBowline([...args, '--server', demo.state.apiUrl!]);
  return { code: r.code, out: r.out + r.err };
}
async function apply(...files: string[]): Promise<void> {
  for (const f of files) {
    const r = await bowline(['apply', '-f', net(f)]);
    expect(r.code, r.out).toBe(0);
    applied.push(f);
  }
}
const versions = (n: number, cookie?: string) => reviewsVersions(demo.base, n, cookie);
const until = (version: string, cookie?: string, n = 10) => untilReviews(demo.base, version, cookie, n);

beforeAll(async () => {
  if (skip) return;
  demo = await startDemo([], 90_000);
  jason = await signIn(demo.base, 'jason');
}, 120_000);
afterAll(async () => { if (!skip && demo.child.proc.exitCode === null) await demo.interrupt(); });
afterEach(async (ctx) => {
  if (skip) return;
  // A failed walkthrough says which demo process died or refused its config, and where its log is.
  if (ctx.task.result?.state === 'fail') process.stderr.write(`${demoDiagnostics(demo)}\n`);
  for (const f of applied.splice(0).reverse()) await bowline(['delete', '-f', net(f)]);
});

describe.skipIf(skip)(`Bookinfo walkthroughs through bowline demo${skip ? ` (skipped: ${meshMissing() ?? 'not built'})` : ''}`, () => {
  it('(a) without rules, reviews v1, v2 and v3 all answer', async () => {
    await waitFor(async () => new Set(await versions(30)).size === 3, { timeoutMs: 15_000, what: 'all three versions' });
    expect(new Set(await versions(30))).toEqual(new Set(['v1', 'v2', 'v3']));
    const page = await request(`${demo.base}/productpage`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('The Comedy of Errors');
    expect(page.text).toContain('William Shakespeare');
  });

  it('(b) all-v1 sends everyone to reviews v1 (no stars)', async () => {
    await apply('virtual-service-all-v1');
    await until('v1');
    expect(await versions(20, jason)).toEqual(Array(20).fill('v1'));
    expect((await request(`${demo.base}/productpage`)).text).not.toContain('class="stars');
  });

  it('(c) reviews-v3 sends everyone to v3 (red stars)', async () => {
    await apply('virtual-service-all-v1', 'virtual-service-reviews-v3');
    await until('v3');
    expect((await request(`${demo.base}/productpage`)).text).toContain('stars-red');
  });

  it('(d) jason -> v2 (signed in through the form), everyone else -> v3', async () => {
    await apply('virtual-service-all-v1', 'virtual-service-reviews-jason-v2-v3');
    await until('v2', jason);
    await until('v3');
    const page = await request(`${demo.base}/productpage`, { headers: { cookie: jason } });
    expect(page.text).toContain('<strong id="signed-in-user">jason</strong>');
    expect(page.text).toContain('stars-black');
  });

  it('(e) a 7 s ratings delay for jason: productpage gives up after ~6 s (the timeout bug), and recovers when the rule is deleted', async () => {
    await apply('virtual-service-all-v1', 'virtual-service-reviews-test-v2');
    await until('v2', jason);
    await apply('virtual-service-ratings-test-delay');
    const slow = (await waitFor(async () => {
      const r = await request(`${demo.base}/productpage`, { headers: { cookie: jason } });
      return r.text.includes(REVIEWS_UNAVAILABLE) ? r : undefined;
    }, { timeoutMs: 40_000, intervalMs: 100, what: 'the reviews-unavailable message for jason' }))!;
    expect(slow.ms).toBeGreaterThan(5500);
    expect(slow.ms).toBeLessThan(9000);
    const anonymous = await request(`${demo.base}/productpage`);
    expect(anonymous.ms).toBeLessThan(3000);
    expect(anonymous.text).not.toContain(REVIEWS_UNAVAILABLE);

    expect((await bowline(['delete', '-f', net('virtual-service-ratings-test-delay')])).code).toBe(0);
    applied.splice(applied.indexOf('virtual-service-ratings-test-delay'), 1);
    const fast = (await waitFor(async () => {
      const r = await request(`${demo.base}/productpage`, { headers: { cookie: jason } });
      return r.text.includes('stars-black') ? r : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100, what: 'black stars again' }))!;
    expect(fast.ms).toBeLessThan(3000);
  });

  it('(f) 50/50 v1/v3 over 400 requests within +-5 %, then 100 % v3', async () => {
    await apply('virtual-service-all-v1');
    await until('v1');
    await apply('virtual-service-reviews-50-v3');
    await waitFor(async () => (await versions(10)).includes('v3'), { timeoutMs: 15_000, what: 'v3 in the split' });
    const seen = await versions(400);
    const v1 = seen.filter((v) => v === 'v1').length / seen.length;
    const v3 = seen.filter((v) => v === 'v3').length / seen.length;
    expect(v1 + v3).toBe(1);
    expect(Math.abs(v1 - 0.5)).toBeLessThanOrEqual(0.05);
    await apply('virtual-service-reviews-v3');
    await until('v3', undefined, 20);
  }, 120_000);

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

  it('(h) abort 500 on ratings for jason, then abort 555 on details', async () => {
    await apply('virtual-service-all-v1', 'virtual-service-reviews-test-v2');
    await until('v2', jason);
    await apply('virtual-service-ratings-test-abort');
    await waitFor(async () => (await request(`${demo.base}/productpage`, { headers: { cookie: jason } })).text.includes('Ratings service is currently unavailable'), { timeoutMs: 15_000, what: 'ratings unavailable for jason' });
    expect((await request(`${demo.base}/productpage`)).text).not.toContain('Ratings service is currently unavailable');

    await apply('virtual-service-details-abort-555');
    const api = (await waitFor(async () => {
      const r = await request(`${demo.base}/api/v1/products/0`);
      return r.status === 555 ? r : undefined;
    }, { timeoutMs: 15_000, what: 'details 555' }))!;
    expect(JSON.parse(api.text).error).toBe('Sorry, product details are currently unavailable for this book.');
    expect((await request(`${demo.base}/productpage`)).text).toContain('Sorry, product details are currently unavailable for this book.');
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
    expect(demo.child.output()).toContain(`[BOWLINE_E_DEMO_WORKLOAD_DIED]; its log: ${sidecar.log}`);
    expect((await request(`${demo.base}/productpage`)).text).toContain('The Comedy of Errors');
    const pids = demo.state.processes.map((p) => p.pid);
    expect(pids.length).toBeGreaterThanOrEqual(18); // control plane, gateway, 8 apps, 8 sidecars
    expect(await demo.interrupt()).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(demo.home)).toBe(false);
  });
});
