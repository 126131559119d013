// `bowline demo --multicluster`: the postcard sample over two clusters on this machine. cluster-1
// (network-1) runs greeter and the ingress gateway serving /greeter on --port; cluster-2
// (network-2) runs messenger, whose message names its cluster. Each cluster has its own control
// plane (an intermediate of one shared root, `bowline ca`), its own east-west gateway (15443,
// AUTO_PASSTHROUGH), and reads the other with `bowline cluster add` (a registry-read token): greeter's
// sidecar knows messenger only as cluster-2's east-west gateway, and the call is mTLS end to end.
import { proxyArgv } from '../../proxy/node-flags.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCa } from '../commands/ca.js';
import { bindForChild, type HeldPort } from './ports.js';
import { Progress } from './progress.js';
import { httpGet, httpReady, START_TIMEOUT_MS } from './readiness.js';
import { bowline, bowlineBin, demoLogDir, freshFile, gatewayArgs, holdUserPort, portsFromFile, proxyListeners, sidecarArgs, startAppOn, type DemoState } from './run.js';
import { Supervisor, type Managed } from './supervisor.js';
import { tokenFile as mintTokenFile } from './tokens.js';
import { packageRoot, type DemoWorkload } from './workloads.js';

/** One cluster of the multi-cluster demo. */
export interface DemoCluster {
  name: string;
  network: string;
  /** Its control plane's config API. */
  apiUrl: string;
  /** Its home (store, logs of its control plane). */
  home: string;
}

/** What the multi-cluster demo brought up. */
export interface MulticlusterRunning {
  /** The postcard through cluster-1's ingress gateway: http://localhost:PORT/greeter. */
  postcardUrl: string;
  clusters: DemoCluster[];
  logDir: string;
  supervisor: Supervisor;
}

/** The demo's clusters: names and networks as in Istio's multi-network guides. */
export const DEMO_CLUSTERS = [
  { name: 'cluster-1', network: 'network-1' },
  { name: 'cluster-2', network: 'network-2' },
] as const;

/** The mesh id both control planes share. */
export const DEMO_MESH_ID = 'postcard-mesh';

/** greeter (cluster-1) and messenger (cluster-2), each a postcard sample app with its sidecar. */
export const POSTCARD_WORKLOADS: Record<'greeter' | 'messenger', DemoWorkload> = {
  greeter: { name: 'greeter', service: 'greeter', servicePort: 9080, version: 'v1', serviceAccount: 'greeter', script: 'postcard/greeter.js' },
  messenger: { name: 'messenger', service: 'messenger', servicePort: 8080, version: 'v1', serviceAccount: 'messenger', script: 'postcard/messenger.js' },
};

/** How the multi-cluster demo runs. */
export interface MulticlusterOptions {
  /** Port of cluster-1's ingress gateway (the postcard). */
  port: number;
  home: string;
  progress?: Progress;
  /** Starts the processes; the caller owns it. Its log dir is HOME/logs. */
  supervisor: Supervisor;
}

/** `bowline ca root` and one `bowline ca intermediate` per cluster under HOME/pki; resolves to each cluster's cacerts dir. */
export async function demoCaCerts(home: string, clusters: readonly string[]): Promise<Record<string, string>> {
  const pki = path.join(home, 'pki');
  const root = path.join(pki, 'root');
  // A kept --home already holds them: the CA keys are never overwritten, so reuse what is there.
  const run = async (args: string[], done: string) => {
    if (existsSync(done)) return;
    let said = '';
    if ((await runCa(args, { stdout: () => {}, stderr: (s) => { said += s; } })) !== 0) throw new Error(`bowline ca ${args.join(' ')} failed: ${said.trim()}`);
  };
  await run(['root', '-o', root], path.join(root, 'root-key.pem'));
  const out: Record<string, string> = {};
  for (const c of clusters) {
    out[c] = path.join(pki, c);
    await run(['intermediate', '--root', root, '--cluster', c, '-o', out[c]], path.join(out[c], 'ca-key.pem'));
  }
  return out;
}

/** Creates a registry-read API token at `apiUrl` (an admin call, allowed from loopback); resolves to the token. */
async function registryReadToken(apiUrl: string, name: string): Promise<string> {
  const r = await fetch(`${apiUrl}/v1/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, scope: 'registry-read' }), signal: AbortSignal.timeout(10_000) });
  const body = (await r.json().catch(() => ({}))) as { token?: string; message?: string };
  if (r.status !== 201 && r.status !== 200) throw new Error(`registry-read token at ${apiUrl}: POST /v1/auth/tokens answered ${r.status}: ${body.message ?? ''}`);
  if (!body.token) throw new Error(`registry-read token at ${apiUrl}: no token in the answer`);
  return body.token;
}

/** Brings the two clusters up; on failure the processes already started keep running until the caller stops them. */
export async function startMulticlusterDemo(opts: MulticlusterOptions): Promise<MulticlusterRunning> {
  // --port is held until cluster-1's ingress gateway gets it, still bound (as in the Bookinfo demo).
  const held = await holdUserPort(opts.port);
  try {
    return await bringUp(opts, held);
  } finally {
    await held.release();
  }
}

async function bringUp(opts: MulticlusterOptions, held: HeldPort): Promise<MulticlusterRunning> {
  const progress = opts.progress ?? new Progress();
  const sup = opts.supervisor;
  const logDir = demoLogDir(opts.home);
  mkdirSync(logDir, { recursive: true });
  const names = DEMO_CLUSTERS.map((c) => c.name);

  const cacerts = await progress.step(`shared root and one intermediate CA per cluster (bowline ca, in ${path.join(opts.home, 'pki')})`, () => demoCaCerts(opts.home, names));

  // Two control planes side by side, each with its intermediate, cluster id and network.
  const planes = await progress.step(`control planes of ${names.join(' and ')} (one root, networks ${DEMO_CLUSTERS.map((c) => c.network).join(' and ')})`, () =>
    Promise.all(DEMO_CLUSTERS.map(async (c) => {
      const home = path.join(opts.home, c.name);
      mkdirSync(home, { recursive: true });
      const portsFile = freshFile(path.join(home, 'control-plane.ports.json'));
      const env = { BOWLINE_HOME: home };
      const m = sup.start({ name: `${c.name}-control-plane`, command: process.execPath, env, args: [bowlineBin, 'up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0',
        '--listen-push-tls', '127.0.0.1:0', '--ports-file', portsFile, '--ca-certs-dir', cacerts[c.name]!, '--cluster', c.name, '--network', c.network, '--mesh-id', DEMO_MESH_ID] });
      const ports = await portsFromFile(m, portsFile, ['api', 'pushTls']);
      const api = `http://127.0.0.1:${ports.api}`;
      await httpReady(m, `${api}/apis/networking.istio.io/v1/namespaces/default/virtualservices`, 'config API answer', (r) => r.status < 500);
      return { ...c, home, api, push: `127.0.0.1:${ports.pushTls}`, env: { BOWLINE_HOME: home, BOWLINE_SERVER: api } };
    })));
  const [one, two] = planes as [typeof planes[0], typeof planes[0]];
  const clusters: DemoCluster[] = planes.map((p) => ({ name: p.name, network: p.network, apiUrl: p.api, home: p.home }));

  const samples = path.join(packageRoot, 'samples');
  await progress.step('config applied: postcard gateway and routes in cluster-1, east-west gateway servers (expose-services.yaml) in both', async () => {
    await Promise.all([
      bowline(sup, `${one.name}-apply`, ['apply', '-f', path.join(samples, 'postcard', 'postcard.yaml'), '-f', path.join(samples, 'multicluster', 'expose-services.yaml'), '--server', one.api], one.env),
      bowline(sup, `${two.name}-apply`, ['apply', '-f', path.join(samples, 'multicluster', 'expose-services.yaml'), '--server', two.api], two.env),
    ]);
  });

  // Each cluster's east-west gateway; 15443 on a kernel-chosen port (one machine: two gateways
  // cannot both have 15443), which it announces: the other cluster learns it with the registry view.
  await progress.step('east-west gateways (15443, AUTO_PASSTHROUGH: mTLS passes through undecrypted)', () =>
    Promise.all(planes.map(async (p) => {
      const portsFile = freshFile(path.join(p.home, 'istio-eastwestgateway.ports.json'));
      const tokenFile = await mintTokenFile(p.home, p.api, { namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway', workload: 'istio-eastwestgateway' });
      const gw = sup.start({ name: `${p.name}-istio-eastwestgateway`, command: process.execPath, env: p.env, args: proxyArgv(bowlineBin, ['proxy', '--gateway', '--server', p.push, '--token-file', tokenFile,
        '--name', 'istio-eastwestgateway', '--namespace', 'istio-system', '--labels', `istio=eastwestgateway,app=istio-eastwestgateway,topology.istio.io/network=${p.network}`,
        '--bind-port', '15443=0', '--admin-port', '0', '--metrics-port', '0', '--ports-file', portsFile]) });
      await proxyListeners(gw, portsFile, ['gateway|15443']);
    })));

  await progress.step('messenger in cluster-2 with its sidecar (identity default/messenger)', () =>
    workload(sup, two, POSTCARD_WORKLOADS.messenger, { MESSENGER_CLUSTER: two.name }));
  await progress.step('greeter in cluster-1 with its sidecar (identity default/greeter)', () =>
    workload(sup, one, POSTCARD_WORKLOADS.greeter, { MESSENGER_URL: 'http://messenger.default.svc.cluster.local:8080' }));

  // Remote discovery both ways: each control plane reads the other's registry view with a registry-read token.
  await progress.step('bowline cluster add: each control plane reads the other (registry-read token)', () =>
    Promise.all([[one, two], [two, one]].map(async ([local, remote]) => {
      const file = path.join(local!.home, 'tokens', `${remote!.name}.registry-read.token`);
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, (await registryReadToken(remote!.api, `${local!.name}-reader`)) + '\n', { mode: 0o600 });
      await bowline(sup, `${local!.name}-cluster-add-${remote!.name}`, ['cluster', 'add', remote!.name, '--server', remote!.api, '--token', file, '--server-api', local!.api], local!.env);
    })));

  let gw: Managed | undefined;
  await progress.step(`cluster-1's ingress gateway listening on :${opts.port}`, async () => {
    const portsFile = freshFile(path.join(one.home, 'istio-ingressgateway.ports.json'));
    const tokenFile = await mintTokenFile(one.home, one.api, { namespace: 'istio-system', serviceAccount: 'istio-ingressgateway', workload: 'istio-ingressgateway' });
    gw = sup.start({ name: `${one.name}-istio-ingressgateway`, command: process.execPath, args: proxyArgv(bowlineBin, [...gatewayArgs({ push: one.push, port: opts.port, portsFile, tokenFile }), '--sockets-from-parent']), env: one.env, ipc: true });
    await held.handTo(gw.proc);
    await httpReady(gw, `http://127.0.0.1:${opts.port}/greeter`, `an answer on :${opts.port}`, () => true);
  });
  await progress.step("the postcard shows messenger's message from cluster-2 (greeter -> cluster-2's east-west gateway -> messenger, mTLS)", async () => {
    await httpReady(gw!, `http://127.0.0.1:${opts.port}/greeter`, 'the postcard with the message from cluster-2', (r) => r.status === 200 && r.body.includes(`Greetings from ${two.name}`), START_TIMEOUT_MS);
  });

  const running: MulticlusterRunning = { postcardUrl: `http://localhost:${opts.port}/greeter`, clusters, logDir, supervisor: sup };
  const state: DemoState & { clusters: DemoCluster[] } = {
    productPageUrl: running.postcardUrl, apiUrl: one.api, outbound: {}, clusters,
    processes: sup.processes.map((m) => ({ name: m.spec.name, pid: m.proc.pid, log: m.logPath })),
  };
  writeFileSync(path.join(opts.home, 'demo.json'), JSON.stringify(state, null, 2) + '\n');
  return running;
}

/** One postcard app with its sidecar in `cluster`: the app's port bound here and handed over, HTTP_PROXY = the sidecar's outbound. */
async function workload(sup: Supervisor, cluster: { name: string; home: string; api: string; push: string; env: Record<string, string> }, w: DemoWorkload, appEnv: Record<string, string>): Promise<void> {
  const tokenFile = await mintTokenFile(cluster.home, cluster.api, { namespace: 'default', serviceAccount: w.serviceAccount, workload: w.name });
  const appSocket = await bindForChild();
  try {
    const portsFile = freshFile(path.join(cluster.home, `${w.name}.ports.json`));
    const side = sup.start({ name: `${cluster.name}-${w.name}-sidecar`, command: process.execPath, args: proxyArgv(bowlineBin, sidecarArgs(w, { push: cluster.push, appPort: appSocket.port, portsFile, tokenFile })), env: cluster.env });
    const listeners = await proxyListeners(side, portsFile, ['outbound', `inbound|${w.servicePort}`]);
    const proxyUrl = `http://127.0.0.1:${listeners.outbound}`;
    await startAppOn(sup, { ...w, name: `${cluster.name}-${w.name}` }, appSocket, { ...appEnv, HTTP_PROXY: proxyUrl, http_proxy: proxyUrl, NO_PROXY: '', no_proxy: '' });
  } finally {
    appSocket.server.close();
  }
}

/** The postcard's text through `url` when it shows a message from a cluster (tests, final check). */
export async function postcardFrom(url: string): Promise<string | undefined> {
  const r = await httpGet(url);
  return r && r.status === 200 ? /Greetings from ([\w-]+)/.exec(r.body)?.[1] : undefined;
}
