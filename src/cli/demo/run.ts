// `bowline demo`: brings up the control plane, every Bookinfo workload with its sidecar
// (or, with --no-mesh, the apps wired directly), and the ingress gateway on --port.
import { proxyArgv } from '../../proxy/node-flags.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readPortsFile } from '../ports-file.js';
import path from 'node:path';
import { Progress } from './progress.js';
import { Supervisor, type Managed } from './supervisor.js';
import type { Server } from 'node:net';
import { bindForChild, handOver, holdPort, type HeldPort } from './ports.js';
import { tokenFile as mintTokenFile } from './tokens.js';
import { logLine, httpReady, httpGet, START_TIMEOUT_MS, StartError } from './readiness.js';
import { DEMO_WORKLOADS, packageRoot, sampleScript, type DemoWorkload } from './workloads.js';
import { startCapturedWorkload } from './captured.js';
import type { DemoNetwork } from './netns.js';

/** How the demo runs. */
export interface DemoOptions {
  /** Port the gateway (or, with mesh off, productpage) serves on. */
  port: number;
  /** The demo's home (store, logs, ports files). */
  home: string;
  /** Run sidecars, control plane and gateway (true), or wire the apps directly (false). */
  mesh: boolean;
  /** Scenario YAML files to apply once everything is up. */
  scenarioFiles?: string[];
  progress?: Progress;
  /** Starts the processes; the caller owns it, so it can stop them whatever happens. Its log dir is HOME/logs. */
  supervisor: Supervisor;
  /** `--capture`: each workload in its namespace of this network (netns.ts, created and checked by the caller), traffic captured. */
  network?: DemoNetwork;
}

/** What the demo brought up. */
export interface DemoRunning {
  productPageUrl: string;
  /** The control plane's config API, when the mesh runs. */
  apiUrl?: string;
  logDir: string;
  supervisor: Supervisor;
  /** Each workload's sidecar outbound (HTTP_PROXY) URL, when the mesh runs without capture. */
  outbound: Record<string, string>;
  /** With `--capture`: the bridge and namespaces. */
  network?: DemoNetwork;
}

/** The `bowline` executable the demo starts its processes with. */
export const bowlineBin = path.join(packageRoot, 'bin', 'bowline');

/**
 * The `bowline proxy` flags of one sidecar. Its inbound (`--bind-port 9080=0`) and outbound
 * (`--outbound-port auto`) ports are picked and bound by the proxy at start, which announces the
 * real inbound port to the control plane; the demo reads both from the ports file. The token
 * gives it its SPIFFE identity (namespace default, service account bookinfo-APP) and the TLS stream.
 */
export function sidecarArgs(w: DemoWorkload, p: { push: string; appPort: number; portsFile: string; tokenFile: string }): string[] {
  return [
    'proxy', '--server', p.push, '--token-file', p.tokenFile, '--name', w.name, '--namespace', 'default', '--service-account', w.serviceAccount,
    '--labels', `app=${w.service},version=${w.version}`, '--service', `${w.service}:${w.servicePort}/HTTP`,
    '--app-port', String(p.appPort), '--bind-port', `${w.servicePort}=0`, '--outbound-port', 'auto',
    '--admin-port', '0', '--metrics-port', '0', '--ports-file', p.portsFile,
  ];
}

/** The `bowline proxy` flags of the ingress gateway: Gateway port 80 served on `port`, with its own identity. */
export function gatewayArgs(p: { push: string; port: number; portsFile: string; tokenFile: string }): string[] {
  return [
    'proxy', '--gateway', '--server', p.push, '--token-file', p.tokenFile, '--name', 'istio-ingressgateway', '--namespace', 'istio-system',
    '--service-account', 'istio-ingressgateway', '--labels', 'istio=ingressgateway,app=istio-ingressgateway',
    '--bind-port', `80=${p.port}`, '--admin-port', '0', '--metrics-port', '0', '--ports-file', p.portsFile,
  ];
}

/** Starts one sample app on an ephemeral loopback port (no mesh) and resolves once it listens. */
async function startApp(sup: Supervisor, w: DemoWorkload, env: Record<string, string>): Promise<{ m: Managed; port: number }> {
  const m = sup.start({ name: w.name, command: process.execPath, args: [sampleScript(w.script), '--port', '0', '--host', '127.0.0.1', ...(w.args ?? [])], env: { ...w.env, ...env } });
  const match = await logLine(m, /listening on http:\/\/127\.0\.0\.1:(\d+)/, 'listening line');
  return { m, port: Number(match[1]) };
}

/** Starts one sample app on `held`, the socket the demo bound for it (handed over by IPC), and resolves once it listens. */
export async function startAppOn(sup: Supervisor, w: DemoWorkload, held: { server: Server; port: number }, env: Record<string, string>): Promise<Managed> {
  const m = sup.start({ name: w.name, command: process.execPath, args: [sampleScript(w.script), '--socket-from-parent', '--host', '127.0.0.1', ...(w.args ?? [])], env: { ...w.env, ...env }, ipc: true });
  try {
    await handOver(m.proc, held.server);
    await logLine(m, new RegExp(`listening on http://127\\.0\\.0\\.1:${held.port}\\b`), 'listening line');
  } finally {
    held.server.close();
  }
  return m;
}

/** Runs `bowline ARGS` to completion (apply, ...); rejects with its output when it fails. */
export async function bowline(sup: Supervisor, name: string, args: string[], env: Record<string, string>): Promise<void> {
  const m = sup.start({ name, command: process.execPath, args: [bowlineBin, ...args], env, oneShot: true });
  const { code } = await m.exited;
  if (code !== 0) throw new StartError(m, `bowline ${args[0]} failed (exit ${code})`);
}

/** The demo's state file (HOME/demo.json): URLs, and each process's pid and log, for tools and tests. */
export interface DemoState {
  productPageUrl: string;
  apiUrl?: string;
  outbound: Record<string, string>;
  network?: DemoNetwork;
  processes: Array<{ name: string; pid: number | undefined; log: string }>;
}

function writeState(home: string, r: DemoRunning): void {
  const state: DemoState = {
    productPageUrl: r.productPageUrl, apiUrl: r.apiUrl, outbound: r.outbound, ...(r.network ? { network: r.network } : {}),
    processes: r.supervisor.processes.map((m) => ({ name: m.spec.name, pid: m.proc.pid, log: m.logPath })),
  };
  writeFileSync(path.join(home, 'demo.json'), JSON.stringify(state, null, 2) + '\n');
}

/** Where the demo's process logs go under its home. */
export function demoLogDir(home: string): string {
  return path.join(home, 'logs');
}

/** Brings the demo up; on failure the processes already started keep running until the caller stops them. */
export async function startDemo(opts: DemoOptions): Promise<DemoRunning> {
  // --port is held from here until its server starts: the ~20 processes started before it take
  // kernel-chosen ports, and one of them could otherwise land on --port.
  const held = await holdUserPort(opts.port);
  try {
    return await bringUp(opts, held);
  } finally {
    await held.release();
  }
}

async function bringUp(opts: DemoOptions, held: HeldPort): Promise<DemoRunning> {
  const progress = opts.progress ?? new Progress();
  const logDir = demoLogDir(opts.home);
  mkdirSync(logDir, { recursive: true });
  const sup = opts.supervisor;
  const running: DemoRunning = { productPageUrl: `http://localhost:${opts.port}/productpage`, logDir, supervisor: sup, outbound: {}, ...(opts.network ? { network: opts.network } : {}) };
  const byName = (n: string) => DEMO_WORKLOADS.find((w) => w.name === n)!;

  if (!opts.mesh) {
    const url = (p: number) => `http://127.0.0.1:${p}`;
    const started: Record<string, number> = {};
    for (const w of DEMO_WORKLOADS.filter((x) => x.service !== 'productpage')) {
      const env: Record<string, string> = { HTTP_PROXY: '', http_proxy: '' };
      if (w.service === 'reviews') env.RATINGS_URL = url(started['ratings-v1']!);
      started[w.name] = (await progress.step(`${w.name} (no sidecar)`, () => startApp(sup, w, env))).port;
    }
    await progress.step(`productpage-v1 on :${opts.port} (calls reviews-v2 directly)`, async () => {
      const w = byName('productpage-v1');
      await held.release();
      const m = sup.start({
        name: w.name, command: process.execPath, args: [sampleScript(w.script), '--port', String(opts.port), '--host', '127.0.0.1'],
        env: { HTTP_PROXY: '', http_proxy: '', DETAILS_URL: url(started['details-v1']!), REVIEWS_URL: url(started['reviews-v2']!), RATINGS_URL: url(started['ratings-v1']!) },
      });
      await httpReady(m, `http://127.0.0.1:${opts.port}/productpage`, 'product page', (r) => r.status === 200 && r.body.includes('The Comedy of Errors'));
    });
    writeState(opts.home, running);
    return running;
  }

  let api = '';
  let push = '';
  const env: Record<string, string> = { BOWLINE_HOME: opts.home };
  await progress.step('control plane', async () => {
    const portsFile = freshFile(path.join(opts.home, 'control-plane.ports.json'));
    // With --capture the proxies dial the TLS stream from their namespaces, over the bridge.
    const pushHost = opts.network?.hostAddress ?? '127.0.0.1';
    const m = sup.start({ name: 'control-plane', command: process.execPath, args: [bowlineBin, 'up', '--home', opts.home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', `${pushHost}:0`, '--ports-file', portsFile], env });
    const ports = await portsFromFile(m, portsFile, ['api', 'pushTls']);
    api = `http://127.0.0.1:${ports.api}`;
    push = `${pushHost}:${ports.pushTls}`; // the TLS stream: proxies with a token get certificates, auto-mTLS does the rest
    running.apiUrl = api;
    env.BOWLINE_SERVER = api;
    await httpReady(m, `${api}/apis/networking.istio.io/v1/namespaces/default/virtualservices`, 'config API answer', (r) => r.status < 500);
  });
  const networking = path.join(packageRoot, 'samples', 'networking');
  await progress.step('Bookinfo gateway, virtual service and destination rules applied', () =>
    bowline(sup, 'apply-bookinfo', ['apply', '-f', path.join(networking, 'bookinfo-gateway.yaml'), '-f', path.join(networking, 'destination-rule-all.yaml'), '--server', api], env));

  // The gateway binds --port as soon as its config arrives (Gateway and routes are applied).
  // It answers 503 until the workloads are up (checked at the end).
  let gw: Managed | undefined;
  await progress.step(`ingress gateway listening on :${opts.port}`, async () => {
    const portsFile = freshFile(path.join(opts.home, 'istio-ingressgateway.ports.json'));
    const tokenFile = await mintTokenFile(opts.home, api, { namespace: 'istio-system', serviceAccount: 'istio-ingressgateway', workload: 'istio-ingressgateway' });
    // --port goes to the gateway still bound (over IPC): it is never free for another process to take.
    gw = sup.start({ name: 'istio-ingressgateway', command: process.execPath, args: proxyArgv(bowlineBin, [...gatewayArgs({ push, port: opts.port, portsFile, tokenFile }), '--sockets-from-parent']), env, ipc: true });
    await held.handTo(gw.proc);
    await httpReady(gw, `http://127.0.0.1:${opts.port}/productpage`, `an answer on :${opts.port}`, () => true);
  });
  // Workloads start side by side. Every port is bound by its owner or handed to it still bound:
  // the demo binds the app's port, the sidecar (told that app port) binds its inbound and outbound
  // ports itself and announces them, then the app starts on its socket with HTTP_PROXY = the outbound.
  const network = opts.network;
  await Promise.all(DEMO_WORKLOADS.map((w) =>
    progress.step(`${w.name} with its sidecar (mTLS identity default/${w.serviceAccount})${network ? ` in namespace ${network.namespaces[w.name]!.name}, captured` : ''}`, async () => {
      const tokenFile = await mintTokenFile(opts.home, api, { namespace: 'default', serviceAccount: w.serviceAccount, workload: w.name });
      if (network) {
        await startCapturedWorkload(sup, w, network.namespaces[w.name]!, { push, home: opts.home, tokenFile, env });
        return;
      }
      const appSocket = await bindForChild();
      try {
        const portsFile = freshFile(path.join(opts.home, `${w.name}.ports.json`));
        const side = sup.start({ name: `${w.name}-sidecar`, command: process.execPath, args: proxyArgv(bowlineBin, sidecarArgs(w, { push, appPort: appSocket.port, portsFile, tokenFile })), env });
        const listeners = await proxyListeners(side, portsFile, ['outbound', `inbound|${w.servicePort}`]);
        const proxyUrl = `http://127.0.0.1:${listeners.outbound}`;
        running.outbound[w.name] = proxyUrl;
        await startAppOn(sup, w, appSocket, { HTTP_PROXY: proxyUrl, http_proxy: proxyUrl, NO_PROXY: '', no_proxy: '' });
      } finally {
        appSocket.server.close();
      }
    })));
  await progress.step(`product page through the ingress gateway on :${opts.port}`, async () => {
    await httpReady(gw!, `http://127.0.0.1:${opts.port}/productpage`, 'product page through the gateway', (r) => r.status === 200 && r.body.includes('The Comedy of Errors'), 20_000);
  });
  for (const file of opts.scenarioFiles ?? []) {
    await progress.step(`scenario ${path.basename(file)} applied`, () => bowline(sup, `apply-${path.basename(file, '.yaml')}`, ['apply', '-f', file, '--server', api], env));
  }
  writeState(opts.home, running);
  return running;
}

/** Holds --port until its server starts (ports.ts holdPort); taken meanwhile: the demo's port-taken error. */
export async function holdUserPort(port: number): Promise<HeldPort> {
  try {
    return await holdPort(port);
  } catch (err) {
    const code = (err as Error).message;
    throw new Error(`port ${port} is not available (${code === 'EADDRINUSE' ? 'another program is listening on it' : code}) [BOWLINE_E_DEMO_PORT_TAKEN]; choose another port with --port`);
  }
}

/** Removes a ports file left by an earlier run in the same --home, so only this run's ports are read. */
export function freshFile(file: string): string {
  rmSync(file, { force: true });
  return file;
}

/**
 * Waits until a proxy's ports file names every listener in `names` (written once a config from the
 * control plane is applied: a refused config, e.g. a port it cannot bind, never gets there) and its
 * admin `/ready` answers; resolves to the listeners' ports.
 */
export async function proxyListeners(m: Managed, portsFile: string, names: string[]): Promise<Record<string, number>> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const ports = readPortsFile(portsFile, ['admin']) as { admin: number; listeners?: Record<string, number> } | undefined;
    if (ports && names.every((n) => typeof ports.listeners?.[n] === 'number')) {
      await httpReady(m, `http://127.0.0.1:${ports.admin}/ready`, 'admin /ready');
      return ports.listeners!;
    }
    if (!Supervisor.alive(m)) throw new StartError(m, `${m.spec.name} exited before its listeners were up`);
    if (Date.now() > deadline) throw new StartError(m, `${m.spec.name}: no ${names.join(', ')} listener in ${portsFile} after ${START_TIMEOUT_MS / 1000} s (config from the control plane not applied?)`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until `portsFile` (JSON written by `--ports-file`) names every port in `keys`. */
export async function portsFromFile(m: Managed, portsFile: string, keys: string[]): Promise<Record<string, number>> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const ports = readPortsFile(portsFile, keys);
    if (ports) return ports;
    if (!Supervisor.alive(m)) throw new StartError(m, `${m.spec.name} exited before writing ${portsFile}`);
    if (Date.now() > deadline) throw new StartError(m, `${m.spec.name}: ${portsFile} has no ${keys.join('/')} port after ${START_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True when the product page answers through `url` (used by tests and the final check). */
export async function productPageUp(url: string): Promise<boolean> {
  const r = await httpGet(url);
  return !!r && r.status === 200 && r.body.includes('The Comedy of Errors');
}
