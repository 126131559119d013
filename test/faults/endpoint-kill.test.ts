// Fault suite: an endpoint killed under load (issue 12 item 8). Service `hello` has three
// endpoints, each a sidecar in front of its own app process; the client calls it at 100 rps
// through its sidecar with a VirtualService retry policy (3 attempts on connect-failure,
// refused-stream, reset, gateway-error: an idempotent GET) and DestinationRule outlier detection
// (3 consecutive gateway errors eject for 60 s). Then, under load, one app process is killed
// (SIGKILL: its sidecar answers 503 until the endpoint is ejected), and later a whole endpoint
// (the sidecar process: connections refused and reset until it is deregistered or ejected).
// Bound: 0 failed requests (every failed attempt is retried on another endpoint), and the killed
// app's endpoint is ejected after at most 3 + 16 failed attempts (the threshold plus the
// requests already in flight on the client's 16 connections). Each case prints a FIGURE line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Child } from '../support/process.js';
import { settle, TestMesh, type Sidecar } from '../e2e/mesh-harness.js';
import { waitFor } from '../support/wait.js';
import { figure, LoadClient } from './load.js';

const URL_ = 'http://hello:8000/';
const THRESHOLD = 3;
const CONNECTIONS = 16;
/** Requests per second: enough to keep every endpoint busy, low enough that a loaded 2-core machine is not saturated (p50 stays in ms). */
const RPS = 100;
const mesh = new TestMesh();
const apps = new Map<string, { child: Child; port: number }>();
const ends = new Map<string, Sidecar>();
let client: Sidecar;
let lc: LoadClient;

/** An app in its own process (so it can be killed), answering its name; resolves with its kernel-chosen port. */
async function appProcess(name: string): Promise<{ child: Child; port: number }> {
  const code = "const s=require('http').createServer((q,r)=>{q.resume();r.end(process.argv[1])});s.keepAliveTimeout=60000;s.listen(0,'127.0.0.1',()=>console.log('PORT '+s.address().port))";
  const child = start(process.execPath, ['-e', code, name]);
  const port = await waitFor(() => Number(/PORT (\d+)/.exec(child.output())?.[1] ?? 0), { timeoutMs: 10_000, what: `${name} app` });
  return { child, port: port! };
}

type EndpointStat = { port: number; ejected: boolean; ejections: number; errors: number; requests: number };
async function helloEndpoints(): Promise<EndpointStat[]> {
  const cl = (await (await fetch(`http://127.0.0.1:${client.admin}/clusters`)).json()) as Array<{ name: string; endpoints: EndpointStat[] }>;
  return cl.find((c) => c.name.startsWith('outbound|8000||hello.'))?.endpoints ?? [];
}
async function retries(): Promise<number> {
  return ((await (await fetch(`http://127.0.0.1:${client.admin}/stats`)).json()) as { upstreamRetries: number }).upstreamRetries;
}

beforeAll(async () => {
  await mesh.up();
  for (const x of ['a', 'b', 'c']) {
    const app = await appProcess(`hello-${x}`);
    apps.set(x, app);
    ends.set(x, await mesh.sidecar(`hello-${x}`, 'default', 'hello', 8000, 'app=hello', 'hello', [], app.port));
  }
  client = await mesh.sidecar('sleep', 'default', 'sleep', 9000);
  const applied = await mesh.apply('resilience', `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hello, namespace: default}
spec:
  host: hello
  trafficPolicy:
    outlierDetection: {consecutiveGatewayErrors: ${THRESHOLD}, consecutive5xxErrors: 0, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hello, namespace: default}
spec:
  hosts: [hello]
  http:
  - route: [{destination: {host: hello}}]
    retries: {attempts: 3, retryOn: "connect-failure,refused-stream,reset,gateway-error"}
`);
  expect(applied.code, applied.out).toBe(0);
  await settle(client.outbound, URL_, 200);
  lc = new LoadClient(client.outbound, URL_);
  // Every endpoint serves, and the client's sidecar holds the retry policy and the outlier settings.
  const seen = new Set<string>();
  await waitFor(async () => { seen.add((await lc.get()).body); return seen.size === 3; }, { timeoutMs: 20_000, what: `all three endpoints answer (${[...seen]})` });
  await waitFor(async () => {
    const dump = await (await fetch(`http://127.0.0.1:${client.admin}/config_dump`)).text();
    return new RegExp(`"consecutiveGatewayErrors":\\s*${THRESHOLD}`).test(dump) && /"attempts":\s*3/.test(dump);
  }, { timeoutMs: 20_000, what: 'retry policy and outlier detection in the client sidecar' });
}, 100_000);
afterAll(async () => {
  lc?.close();
  await mesh.down();
  for (const a of apps.values()) await a.child.stop();
}, 30_000);

describe('fault: endpoint killed under 100 rps', () => {
  it('an app process killed (SIGKILL) behind its sidecar: 0 failed requests; its endpoint ejected within threshold + in-flight attempts', async () => {
    await lc.load(RPS, 1000); // warm-up: keep-alive pools on every hop
    const a = ends.get('a')!;
    const retriesBefore = await retries();
    let killedAt = 0;
    const r = await lc.load(RPS, 5000, (t) => { if (!killedAt && t > 1000) { killedAt = t; apps.get('a')!.child.proc.kill('SIGKILL'); } });
    const epA = (await helloEndpoints()).find((e) => e.port === a.inbound);
    const retried = (await retries()) - retriesBefore;
    console.log(figure('endpoint app killed', r, `killed at ${killedAt} ms, failures at ${r.failedAt.join(',') || '-'} ms; ${retried} retries; killed endpoint: ${JSON.stringify(epA)}`));
    expect(killedAt).toBeGreaterThan(0);
    expect(r.failed).toBe(0);
    expect(r.sent).toBeGreaterThanOrEqual(RPS * 4.5);
    expect(epA, 'the killed app\'s endpoint is still registered (its sidecar lives)').toBeDefined();
    expect(epA!.ejected).toBe(true);
    expect(epA!.errors).toBeGreaterThanOrEqual(THRESHOLD);
    expect(epA!.errors).toBeLessThanOrEqual(THRESHOLD + CONNECTIONS);
    expect(retried).toBeGreaterThanOrEqual(THRESHOLD);
  }, 60_000);

  it('a whole endpoint killed (its sidecar process, SIGKILL): 0 failed requests; it leaves the client\'s endpoints or is ejected', async () => {
    const b = ends.get('b')!;
    const retriesBefore = await retries();
    let killedAt = 0;
    const r = await lc.load(RPS, 5000, (t) => { if (!killedAt && t > 1000) { killedAt = t; b.child.proc.kill('SIGKILL'); } });
    const eps = await helloEndpoints();
    const epB = eps.find((e) => e.port === b.inbound);
    const retried = (await retries()) - retriesBefore;
    console.log(figure('endpoint sidecar killed', r, `killed at ${killedAt} ms, failures at ${r.failedAt.join(',') || '-'} ms; ${retried} retries; killed endpoint now: ${epB ? JSON.stringify(epB) : 'removed'}; endpoints left ${eps.length}`));
    expect(killedAt).toBeGreaterThan(0);
    expect(r.failed).toBe(0);
    expect(r.sent).toBeGreaterThanOrEqual(RPS * 4.5);
    expect(epB === undefined || epB.ejected).toBe(true);
    // The survivor still answers everything.
    expect((await lc.get()).body).toBe('hello-c');
  }, 60_000);
});
