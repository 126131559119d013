// One workload of `bowline demo --capture`, started as in a pod: in its network namespace,
// `bowline capture install` (outbound, inbound on the service port, DNS), the sidecar with
// `--capture iptables` under the proxy's group (exempt from capture), then the app on its service
// port with no proxy settings: it calls `http://reviews:9080`, the name resolves through the
// sidecar's DNS proxy, the connection is captured.
import { proxyArgv } from '../../proxy/node-flags.js';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { readPortsFile } from '../ports-file.js';
import { logLine, START_TIMEOUT_MS, StartError } from './readiness.js';
import { Supervisor, type Managed } from './supervisor.js';
import type { DemoNamespace } from './netns.js';
import { packageRoot, sampleScript, type DemoWorkload } from './workloads.js';

/** The proxies' uid and gid in the captured demo (Istio's 1337): the proxy runs with this gid, which the capture rules exempt. */
export const PROXY_GID = 1337;

const bowlineBin = path.join(packageRoot, 'bin', 'bowline');

/** Proxy settings an app must not inherit from the demo's environment. */
export const NO_PROXY_ENV: Record<string, string> = { HTTP_PROXY: '', http_proxy: '', HTTPS_PROXY: '', https_proxy: '', NO_PROXY: '', no_proxy: '' };

/** The `bowline capture install` flags of a workload: inbound on its service port, DNS redirected, the proxy's gid exempt. */
export function captureInstallArgs(w: DemoWorkload): string[] {
  return ['capture', 'install', '--proxy-uid', String(PROXY_GID), '--proxy-gid', String(PROXY_GID), '--include-inbound-ports', String(w.servicePort), '--dns'];
}

/** The `bowline proxy` flags of a captured sidecar: its namespace address announced, the app on the service port. */
export function capturedSidecarArgs(w: DemoWorkload, p: { push: string; address: string; portsFile: string; tokenFile: string }): string[] {
  return [
    'proxy', '--server', p.push, '--token-file', p.tokenFile, '--name', w.name, '--namespace', 'default', '--service-account', w.serviceAccount,
    '--labels', `app=${w.service},version=${w.version}`, '--service', `${w.service}:${w.servicePort}/HTTP`, '--app-port', String(w.servicePort),
    '--capture', 'iptables', '--address', p.address, '--admin-port', '0', '--metrics-port', '0', '--ports-file', p.portsFile,
  ];
}

const inNs = (ns: DemoNamespace, argv: string[]): { command: string; args: string[] } => ({ command: 'ip', args: ['netns', 'exec', ns.name, ...argv] });

/** Starts one captured workload in `ns`; resolves once its app listens and its sidecar runs the control plane's config. */
export async function startCapturedWorkload(sup: Supervisor, w: DemoWorkload, ns: DemoNamespace, p: { push: string; home: string; tokenFile: string; env: Record<string, string> }): Promise<void> {
  const install = sup.start({ name: `${w.name}-capture`, ...inNs(ns, [process.execPath, bowlineBin, ...captureInstallArgs(w)]), env: p.env, oneShot: true });
  const { code } = await install.exited;
  if (code !== 0) throw new StartError(install, `bowline capture install in ${ns.name} failed (exit ${code})`);
  const portsFile = path.join(p.home, `${w.name}.ports.json`);
  rmSync(portsFile, { force: true }); // an earlier run's in the same --home
  const side = sup.start({ name: `${w.name}-sidecar`, ...inNs(ns, [process.execPath, ...proxyArgv(bowlineBin, capturedSidecarArgs(w, { push: p.push, address: ns.address, portsFile, tokenFile: p.tokenFile }))]), env: p.env, gid: PROXY_GID });
  await listenersUp(side, portsFile, ['virtualOutbound', 'virtualInbound']);
  const app = sup.start({ name: w.name, ...inNs(ns, [process.execPath, sampleScript(w.script), '--port', String(w.servicePort), '--host', '127.0.0.1', ...(w.args ?? [])]), env: { ...w.env, ...NO_PROXY_ENV } });
  await logLine(app, new RegExp(`listening on http://127\\.0\\.0\\.1:${w.servicePort}\\b`), 'listening line');
}

/** Waits until the sidecar's ports file names `names` (written once a config from the control plane is applied). */
async function listenersUp(m: Managed, portsFile: string, names: string[]): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const ports = readPortsFile(portsFile, ['admin']) as { listeners?: Record<string, number> } | undefined;
    if (ports && names.every((n) => typeof ports.listeners?.[n] === 'number')) return;
    if (!Supervisor.alive(m)) throw new StartError(m, `${m.spec.name} exited before its listeners were up`);
    if (Date.now() > deadline) throw new StartError(m, `${m.spec.name}: no ${names.join(', ')} listener in ${portsFile} after ${START_TIMEOUT_MS / 1000} s (config from the control plane not applied?)`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
