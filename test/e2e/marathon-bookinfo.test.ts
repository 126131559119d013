// The DC/OS walkthrough on Bowline: Bookinfo discovered through the Marathon registry
// (`bowline up --marathon URL`), hosts `*.marathon.slave.mesos`, no Kubernetes API server.
// Marathon itself cannot run here (it needs Mesos and ZooKeeper): test/support/marathon.ts stands
// in for its REST API and event stream. Every workload is real: the Bookinfo sample app and its
// sidecar (`bowline proxy --endpoints-from platform`: its endpoints come from Marathon's task list),
// with a SPIFFE certificate from a bootstrap token, plus the ingress gateway.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bindForChild, handOver } from '../../src/cli/demo/ports.js';
import { readPortsFile } from '../../src/cli/ports-file.js';
import type { MarathonApp, MarathonTask } from '../../src/registry/marathon/types.js';
import { FakeMarathon } from '../support/marathon.js';
import { repoRoot, runBowline, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { built, request, reviewsVersions, signIn, untilReviews } from './bookinfo-harness.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('bowline-e2e-marathon-');
const sample = (f: string) => `${repoRoot}samples/marathon/${f}.yaml`;
const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';
const MESOS = 'marathon.slave.mesos';
const children: Array<{ stop(): Promise<void> }> = [];
const marathon = new FakeMarathon();
let api = '';
let pushTls = 0;
let base = '';
let jason = '';
const applied: string[] = [];

/** One Marathon task: a Bookinfo app and its sidecar, reported to the stand-in Marathon. */
interface Instance { task: MarathonTask; app: ChildProcess; sidecar: Child; admin: number }
const instances = new Map<string, Instance[]>();

function appDefinition(id: string, service: string, version: string): MarathonApp {
  return {
    id, instances: 0, tasks: [],
    labels: { istio: service, version, 'bowline.io/proxy': 'sidecar', 'bowline.io/service-account': `bookinfo-${service}` },
    portDefinitions: [{ port: 9080, name: 'http', protocol: 'tcp' }],
  };
}

async function token(service: string, name: string): Promise<string> {
  const r = await runBowline(['token', 'create', '--namespace', 'default', '--service-account', `bookinfo-${service}`, '--ttl', '10m', '--server', api]);
  expect(r.code, r.out + r.err).toBe(0);
  const file = join(home, `${name}.token`);
  writeFileSync(file, r.out.split('\n').find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l.trim()))!.trim() + '\n');
  return file;
}

/** Starts one instance of `appId` (app + sidecar), adds its task to Marathon and tells Marathon's event stream. */
async function launch(appId: string, service: string, version: string, script: string, args: string[] = []): Promise<Instance> {
  const n = (instances.get(appId)?.length ?? 0) + 1;
  const name = `${appId.slice(1)}-${n}`;
  const portsFile = join(home, `${name}.ports.json`);
  const held = await bindForChild();
  const sidecar = startBowline(['proxy', '--server', `127.0.0.1:${pushTls}`, '--token-file', await token(service, name), '--name', appId.slice(1), '--id', name,
    '--service-account', `bookinfo-${service}`, '--labels', `app=${service},version=${version}`, '--service', `${service}:9080/HTTP`, '--app-port', String(held.port),
    '--bind-port', '9080=0', '--outbound-port', 'auto', '--endpoints-from', 'platform', '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', portsFile]);
  children.push(sidecar);
  const ports = (await waitFor(() => {
    const p = readPortsFile(portsFile, ['admin']) as unknown as { admin: number; listeners?: Record<string, number> } | undefined;
    return p?.listeners?.['outbound'] && p.listeners['inbound|9080'] ? { admin: p.admin, outbound: p.listeners['outbound'], inbound: p.listeners['inbound|9080'] } : undefined;
  }, { timeoutMs: 20_000, what: () => `${name} sidecar listeners:\n${sidecar.output()}` }))!;
  const proxy = `http://127.0.0.1:${ports.outbound}`;
  const env = { ...process.env, HTTP_PROXY: proxy, http_proxy: proxy, NO_PROXY: '', no_proxy: '', POD_NAME: `${appId.slice(1)}-${n}`,
    DETAILS_URL: `http://details.${MESOS}:9080`, REVIEWS_URL: `http://reviews.${MESOS}:9080`, RATINGS_URL: `http://ratings.${MESOS}:9080` };
  const app = spawn(process.execPath, [`${repoRoot}dist/samples/bookinfo/${script}`, '--socket-from-parent', '--host', '127.0.0.1', ...args], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push({ stop: async () => { if (app.exitCode === null) { app.kill('SIGTERM'); await new Promise((r) => app.once('exit', r)); } } });
  try {
    await handOver(app, held.server);
  } finally {
    held.server.close();
  }
  const task: MarathonTask = { id: `${appId.slice(1).replace(/\//g, '_')}.${n}`, appId, host: '127.0.0.1', ports: [ports.inbound], state: 'TASK_RUNNING', version: '2026-12-01T00:00:00.000Z' };
  const inst = { task, app, sidecar, admin: ports.admin };
  instances.set(appId, [...(instances.get(appId) ?? []), inst]);
  return inst;
}

/** Publishes the current tasks of `appId` in Marathon (as a deployment finishing would). */
function publish(appId: string, service: string, version: string): void {
  const def = appDefinition(appId, service, version);
  const tasks = (instances.get(appId) ?? []).map((i) => i.task);
  marathon.apps.set(appId, { ...def, instances: tasks.length, tasks });
}

async function bowline(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runBowline([...args, '--server', api]);
  return { code: r.code, out: r.out + r.err };
}
async function apply(...files: string[]): Promise<void> {
  for (const f of files) {
    const r = await bowline(['apply', '-f', sample(f)]);
    expect(r.code, r.out).toBe(0);
    applied.push(f);
  }
}
const versions = (n: number, cookie?: string) => reviewsVersions(base, n, cookie);
const until = (version: string, cookie?: string, n = 10) => untilReviews(base, version, cookie, n);
/** Endpoints a proxy holds for the reviews service (its admin /clusters). */
async function reviewsEndpoints(admin: number): Promise<string[]> {
  const clusters = await new Promise<Array<{ name: string; endpoints?: Array<{ address: string; port: number }> }>>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: admin, path: '/clusters', agent: false }, (res) => {
      let t = ''; res.setEncoding('utf8'); res.on('data', (c) => { t += c; }); res.on('end', () => { try { resolve(JSON.parse(t)); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
  const c = clusters.find((x) => x.name === `outbound|9080||reviews.default.svc.cluster.local`);
  return (c?.endpoints ?? []).map((e) => `${e.address}:${e.port}`).sort();
}

const skip = !built;

beforeAll(async () => {
  if (skip) return;
  await marathon.start();
  children.push({ stop: () => marathon.stop() });
  const meshFile = join(home, 'mesh.yaml');
  writeFileSync(meshFile, 'enableAutoMtls: false\n'); // the walkthrough is Istio 1.0's: clients use mTLS only when a DestinationRule says so
  const portsFile = join(home, 'cp.ports.json');
  const cp = startBowline(['up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--mesh-config', meshFile, '--ports-file', portsFile, '--marathon', marathon.url], { env: { BOWLINE_HOME: home } });
  children.push(cp);
  await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 20_000, what: () => `bowline up:\n${cp.output()}` });
  const ports = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; pushTls: number };
  api = `http://127.0.0.1:${ports.api}`;
  pushTls = ports.pushTls;
  await apply('bookinfo-gateway', 'destination-rule-all');
  applied.length = 0; // the gateway and subsets stay for every test

  const apps: Array<[string, string, string, string, string[]]> = [
    ['/details', 'details', 'v1', 'details.js', []],
    ['/ratings', 'ratings', 'v1', 'ratings.js', []],
    ['/reviews-v1', 'reviews', 'v1', 'reviews.js', ['--service-version', 'v1']],
    ['/reviews-v2', 'reviews', 'v2', 'reviews.js', ['--service-version', 'v2']],
    ['/reviews-v3', 'reviews', 'v3', 'reviews.js', ['--service-version', 'v3']],
    ['/productpage', 'productpage', 'v1', 'productpage.js', []],
  ];
  await Promise.all(apps.map(async ([id, svc, v, script, args]) => {
    const inst = await launch(id, svc, v, script, args);
    publish(id, svc, v);
    marathon.emit(marathon.statusUpdate(id, inst.task, 'TASK_RUNNING'));
  }));

  const gwPorts = join(home, 'gateway.ports.json');
  const gw = startBowline(['proxy', '--gateway', '--server', `127.0.0.1:${pushTls}`, '--token-file', await token('gateway', 'gateway'), '--name', 'istio-ingressgateway', '--namespace', 'default',
    '--labels', 'istio=ingressgateway', '--bind-port', '80=0', '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', gwPorts]);
  children.push(gw);
  const gwPort = await waitFor(() => {
    const l = (readPortsFile(gwPorts, ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners ?? {};
    return Object.entries(l).find(([k]) => k !== 'outbound')?.[1];
  }, { timeoutMs: 20_000, what: () => `gateway listener:\n${gw.output()}` });
  base = `http://127.0.0.1:${gwPort}`;
  await waitFor(async () => (await request(`${base}/productpage`)).text.includes('The Comedy of Errors'), { timeoutMs: 30_000, intervalMs: 200, what: () => `the product page through the gateway:\n${cp.output().slice(-3000)}` });
  jason = await signIn(base, 'jason');
}, 150_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
});
afterEach(async () => {
  if (skip) return;
  for (const f of applied.splice(0).reverse()) await bowline(['delete', '-f', sample(f)]);
});

describe.skipIf(skip)('the DC/OS Bookinfo walkthrough through the Marathon registry (hosts *.marathon.slave.mesos)', () => {
  it('knows Bookinfo from Marathon alone: Mesos-DNS names, every version, and no endpoint twice', async () => {
    const r = await fetch(`${api}/debug/registryz`);
    const z = await r.json() as { registries: Array<{ registry: string; healthy: boolean }>; services: Array<{ hostname: string; aliases: string[]; source: string }>; endpoints: Record<string, unknown[]> };
    expect(z.registries).toEqual([expect.objectContaining({ registry: 'marathon', healthy: true })]);
    const reviews = z.services.find((s) => s.hostname === 'reviews.default.svc.cluster.local')!;
    expect(reviews.source).toBe('marathon');
    expect(reviews.aliases).toContain('reviews.marathon.slave.mesos');
    expect(z.endpoints['reviews.default.svc.cluster.local']).toHaveLength(3);
    expect(await (await fetch(`${api}/metrics`)).text()).toMatch(/^bowline_registry_up\{registry="marathon"\} 1$/m);
    await waitFor(async () => new Set(await versions(30)).size === 3, { timeoutMs: 15_000, what: 'all three versions' });
  });

  it('routes everyone to reviews v3, then jason to v2 and everyone else to v3', async () => {
    await apply('virtual-service-all-v1');
    await until('v1');
    expect((await request(`${base}/productpage`)).text).not.toContain('class="stars');
    await apply('virtual-service-reviews-v3');
    await until('v3');
    expect((await request(`${base}/productpage`)).text).toContain('stars-red');
    await apply('virtual-service-reviews-jason-v2-v3');
    await until('v2', jason);
    await until('v3');
    expect((await request(`${base}/productpage`, { headers: { cookie: jason } })).text).toContain('stars-black');
  });

  it('the 7 s ratings delay for jason: the page gives up after ~6 s', async () => {
    await apply('virtual-service-all-v1', 'virtual-service-reviews-jason-v2-v3');
    await until('v2', jason);
    await apply('virtual-service-ratings-test-delay');
    const slow = (await waitFor(async () => {
      const r = await request(`${base}/productpage`, { headers: { cookie: jason } });
      return r.text.includes(REVIEWS_UNAVAILABLE) ? r : undefined;
    }, { timeoutMs: 40_000, intervalMs: 100, what: 'reviews unavailable for jason' }))!;
    expect(slow.ms).toBeGreaterThan(5500);
    expect(slow.ms).toBeLessThan(9000);
    expect((await request(`${base}/productpage`)).ms).toBeLessThan(3000);
  });

  it('50/50 between v1 and v3, then 100 % v3', async () => {
    await apply('virtual-service-all-v1');
    await until('v1');
    await apply('virtual-service-reviews-50-v3');
    await waitFor(async () => (await versions(10)).includes('v3'), { timeoutMs: 15_000, what: 'v3 in the split' });
    const seen = await versions(200);
    const v1 = seen.filter((v) => v === 'v1').length / seen.length;
    expect(seen.filter((v) => v === 'v1' || v === 'v3')).toHaveLength(200);
    expect(Math.abs(v1 - 0.5)).toBeLessThanOrEqual(0.07);
    await apply('virtual-service-reviews-v3');
    await until('v3', undefined, 20);
  }, 90_000);

  it('MeshPolicy alone: 503 and authn check says CONFLICT; a DestinationRule ISTIO_MUTUAL for *.marathon.slave.mesos: OK', async () => {
    // As in the walkthrough, no per-service DestinationRule: one for a host would win over the mesh-wide one (Istio's precedence).
    expect((await bowline(['delete', '-f', sample('destination-rule-all')])).code).toBe(0);
    await apply('mesh-policy-mtls');
    await waitFor(async () => (await request(`${base}/productpage`)).status === 503, { timeoutMs: 20_000, intervalMs: 100, what: '503 under STRICT with plaintext clients' });
    const bad = await bowline(['authn', 'check', 'productpage.default']);
    expect(bad.code, bad.out).toBe(1);
    expect(bad.out).toContain('CONFLICT');
    await apply('destination-rule-all-mtls');
    await waitFor(async () => (await request(`${base}/productpage`)).text.includes('The Comedy of Errors'), { timeoutMs: 20_000, intervalMs: 100, what: 'the page over mTLS' });
    const ok = await bowline(['authn', 'check', 'productpage.default']);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('ISTIO_MUTUAL');
    expect(ok.out).toContain('DestinationRule istio-system/default');
  });

  it('scaling reviews-v1 from 1 to 3 tasks (events out of order) reaches productpage\'s proxy within 1 s; a killed task leaves within 1 s', async () => {
    const pp = instances.get('/productpage')![0]!;
    expect(await reviewsEndpoints(pp.admin)).toHaveLength(3);
    const [a, b] = [await launch('/reviews-v1', 'reviews', 'v1', 'reviews.js', ['--service-version', 'v1']), await launch('/reviews-v1', 'reviews', 'v1', 'reviews.js', ['--service-version', 'v1'])];
    publish('/reviews-v1', 'reviews', 'v1');
    const t0 = Date.now();
    marathon.emit(marathon.statusUpdate('/reviews-v1', b.task, 'TASK_RUNNING'));
    marathon.emit({ eventType: 'deployment_step_success', plan: { target: { apps: [{ id: '/reviews-v1' }] } } });
    marathon.emit(marathon.statusUpdate('/reviews-v1', a.task, 'TASK_RUNNING'));
    await waitFor(async () => (await reviewsEndpoints(pp.admin)).length === 5, { timeoutMs: 5000, intervalMs: 10, what: '5 reviews endpoints at productpage' });
    const scaled = Date.now() - t0;
    expect(scaled).toBeLessThan(1000);

    instances.set('/reviews-v1', instances.get('/reviews-v1')!.filter((i) => i !== b));
    publish('/reviews-v1', 'reviews', 'v1');
    const t1 = Date.now();
    marathon.emit(marathon.statusUpdate('/reviews-v1', b.task, 'TASK_KILLED'));
    await waitFor(async () => !(await reviewsEndpoints(pp.admin)).includes(`127.0.0.1:${b.task.ports![0]}`), { timeoutMs: 5000, intervalMs: 10, what: 'killed task gone' });
    const killed = Date.now() - t1;
    expect(killed).toBeLessThan(1000);
    process.stdout.write(`marathon scaling: 1 -> 3 tasks at productpage's proxy in ${scaled} ms; killed task gone in ${killed} ms\n`);
    await b.sidecar.stop();
    b.app.kill('SIGTERM');
  });
});
