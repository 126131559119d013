/**
 * Bootstrap of a proxy that takes its config from the control plane: who it is (node), what its
 * workload serves (announced to the universal registry), where the control plane is. From flags
 * (`bowline proxy --server URL --name N --namespace NS --service-account SA --labels k=v,...
 * --service NAME:PORT[/PROTOCOL][@APPPORT] ... --app-port N --gateway --bind-port 80=8080
 * --locality REGION/ZONE/SUBZONE`) or a
 * bootstrap file (JSON or YAML, same fields in camelCase); flags win over the file.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { NodeInfo, ProxyConfig } from '../proxy-config/types.js';
import { DEFAULT_MESH_SETTINGS, type AnnouncedPort, type WorkloadAnnouncement } from '../proxy-config/wire.js';
import { ControlClient, parseServerAddress, type ControlClientOptions } from './control-client/client.js';
import type { RunningProxy } from './proxy.js';
import { reservePort } from './listeners.js';
import type { Server } from 'node:net';
import type { BootstrapFlags } from './bootstrap-flags.js';

export { bootstrapFlagDefs, type BootstrapFlags } from './bootstrap-flags.js';

// yaml loads only for a YAML bootstrap file (it costs a proxy ~5 MB of RSS otherwise).
const load = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (load('yaml') as typeof import('yaml')).parse(text);

/** Everything a proxy needs to join the mesh. */
export interface Bootstrap {
  /** Control plane push address HOST:PORT. */
  server: string;
  node: NodeInfo;
  workload: WorkloadAnnouncement;
  /** `--outbound-port auto`: the outbound listener takes a kernel-chosen port (`reserveEphemeralPorts`). */
  ephemeralOutbound?: boolean;
}

/** A bootstrap that cannot be used; the message says which value and why. */
export class BootstrapError extends Error {
  readonly code = 'BOWLINE_E_PROXY_BOOTSTRAP';
  override name = 'BootstrapError';
}

function port(v: unknown, what: string, allowZero = false): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) throw new BootstrapError(`${what} must be a port number ${allowZero ? '0' : '1'}-65535, got ${JSON.stringify(v)}`);
  return n;
}

/** Parses `k=v,k2=v2`. */
export function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new BootstrapError(`--labels: "${part}" is not key=value`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** Parses `NAME:PORT[/PROTOCOL][@APPPORT]`. */
export function parseService(s: string, appPort?: number): AnnouncedPort {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):(\d+)(?:\/([A-Za-z0-9-]+))?(?:@(\d+))?$/.exec(s.trim());
  if (!m) throw new BootstrapError(`--service "${s}" must be NAME:PORT[/PROTOCOL][@APPPORT] (NAME a DNS label)`);
  const out: AnnouncedPort = { service: m[1]!, port: port(m[3], `--service ${s}`), protocol: (m[4] ?? 'HTTP').toUpperCase() };
  const target = m[5] !== undefined ? port(m[5], `--service ${s} app port`) : appPort;
  if (target !== undefined) out.targetPort = target;
  return out;
}

/** Parses `LOGICAL=BOUND` port mappings. */
export function parseBindPorts(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const m = /^(\d+)=(\d+)$/.exec(s.trim());
    if (!m) throw new BootstrapError(`--bind-port "${s}" must be PORT=BINDPORT (e.g. 80=8080)`);
    out[String(port(m[1], '--bind-port'))] = port(m[2], '--bind-port', true);
  }
  return out;
}

/** Builds the bootstrap from flags and an optional bootstrap file. Throws BootstrapError. */
export function parseBootstrap(flags: BootstrapFlags, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): Bootstrap {
  let file: Record<string, unknown> = {};
  if (flags.bootstrap) {
    let parsed: unknown;
    try {
      parsed = parseYaml(read(flags.bootstrap));
    } catch (err) {
      throw new BootstrapError(`bootstrap file ${flags.bootstrap}: ${(err as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BootstrapError(`bootstrap file ${flags.bootstrap} must hold a mapping`);
    file = parsed as Record<string, unknown>;
  }
  const str = (flag: string | undefined, key: string): string | undefined => flag ?? (typeof file[key] === 'string' ? (file[key] as string) : undefined);
  const server = str(flags.server, 'server');
  if (!server) throw new BootstrapError('--server HOST:PORT (the control plane push address) is required');
  try {
    parseServerAddress(server);
  } catch (err) {
    throw new BootstrapError(`--server: ${(err as Error).message}`);
  }
  const gateway = flags.gateway ?? file.gateway === true;
  const name = str(flags.name, 'name');
  if (!name) throw new BootstrapError('--name NAME (the workload name) is required');
  const namespace = str(flags.namespace, 'namespace') ?? 'default';
  const serviceAccount = str(flags['service-account'], 'serviceAccount') ?? (gateway ? name : 'default');
  const labels = flags.labels !== undefined ? parseLabels(flags.labels) : ((file.labels as Record<string, string>) ?? {});
  // --network is the label Istio's injector sets: the registry reads a workload's network from it.
  const network = str(flags.network, 'network');
  if (network !== undefined) {
    if (labels['topology.istio.io/network'] !== undefined && labels['topology.istio.io/network'] !== network) throw new BootstrapError(`--network ${network} contradicts the label topology.istio.io/network=${labels['topology.istio.io/network']}`);
    labels['topology.istio.io/network'] = network;
  }
  const appPortRaw = flags['app-port'] ?? file.appPort;
  const appPort = appPortRaw === undefined ? undefined : port(appPortRaw, '--app-port');
  const serviceSpecs = flags.service ?? ((file.services as string[] | undefined) ?? []);
  const services = serviceSpecs.map((s) => parseService(String(s), appPort));
  if (gateway && services.length) throw new BootstrapError('--gateway proxies serve Gateway servers, not --service ports');
  const portMap = flags['bind-port'] ? parseBindPorts(flags['bind-port']) : ((file.bindPorts as Record<string, number>) ?? undefined);
  const address = str(flags.address, 'address') ?? '127.0.0.1';
  const id = str(flags.id, 'id') ?? `${name}.${namespace}`;
  const node: NodeInfo = { id, role: gateway ? 'gateway' : 'sidecar', workload: name, namespace, serviceAccount, labels };
  const cluster = str(flags.cluster, 'cluster');
  if (cluster !== undefined) node.cluster = cluster;
  const workload: WorkloadAnnouncement = { name, namespace, serviceAccount, labels, address, services, role: node.role };
  if (portMap && Object.keys(portMap).length) workload.portMap = portMap;
  const outbound = flags['outbound-port'] ?? file.outboundPort;
  const ephemeralOutbound = outbound === 'auto';
  if (ephemeralOutbound && gateway) throw new BootstrapError('--outbound-port auto: gateways have no outbound listener');
  if (outbound !== undefined && !ephemeralOutbound) workload.outboundPort = port(outbound, '--outbound-port', true);
  else if (gateway) workload.outboundPort = 0;
  const endpointsFrom = str(flags['endpoints-from'], 'endpointsFrom');
  if (endpointsFrom !== undefined && endpointsFrom !== 'hello' && endpointsFrom !== 'platform') throw new BootstrapError(`--endpoints-from must be hello or platform, got "${endpointsFrom}"`);
  if (endpointsFrom === 'platform') workload.endpointsFrom = 'platform';
  const locality = str(flags.locality, 'locality');
  if (locality !== undefined) {
    if (!/^[^/\s]+(\/[^/\s]+){0,2}$/.test(locality)) throw new BootstrapError(`--locality "${locality}" must be REGION[/ZONE[/SUBZONE]] (e.g. us-east1/us-east1-b/rack7)`);
    node.locality = locality;
    workload.locality = locality;
  }
  const group = str(flags['workload-group'], 'workloadGroup');
  if (group !== undefined) {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(group)) throw new BootstrapError(`--workload-group "${group}" is not a resource name`);
    if (gateway) throw new BootstrapError('--workload-group: gateways are not auto-registered');
    workload.workloadGroup = group;
  }
  const bindAddress = str(flags['bind-address'], 'bindAddress');
  if (bindAddress) workload.bindAddress = bindAddress;
  else if (gateway) workload.bindAddress = address;
  const capture = flags.capture ?? (typeof file.capture === 'string' ? file.capture : undefined);
  if (capture !== undefined && capture !== 'iptables' && capture !== 'none') throw new BootstrapError(`--capture must be iptables or none, got "${capture}"`);
  if (capture === 'iptables') {
    if (gateway) throw new BootstrapError('--capture iptables: gateways are not captured (they listen on their Gateway ports)');
    if (ephemeralOutbound || workload.outboundPort === 0) throw new BootstrapError('--capture iptables: the outbound listener is the redirect target; give it a fixed port (default 15001)');
    workload.captureMode = 'iptables';
  }
  return ephemeralOutbound ? { server, node, workload, ephemeralOutbound } : { server, node, workload };
}

/**
 * Binds, before the proxy announces itself, every port it was told to pick (`--bind-port P=0`,
 * `--outbound-port auto`) and writes the bound ports into the announcement, so the registry gets
 * the real inbound address. The sockets are held until their listener adopts them (no other
 * process can take the port in between). Returns them by `address:port` for `startProxy`.
 */
export async function reserveEphemeralPorts(b: Bootstrap, reserve: (address: string) => Promise<{ server: Server; port: number }> = reservePort): Promise<Map<string, Server>> {
  const out = new Map<string, Server>();
  const w = b.workload;
  try {
    // The inbound and gateway listeners bind here (src/push/generators/listeners.ts).
    const inboundAddress = w.bindAddress ?? w.address;
    for (const [logical, bound] of Object.entries(w.portMap ?? {})) {
      if (bound !== 0) continue;
      const r = await reserve(inboundAddress);
      out.set(`${inboundAddress}:${r.port}`, r.server);
      w.portMap![logical] = r.port;
    }
    if (b.ephemeralOutbound) {
      const r = await reserve('127.0.0.1');
      out.set(`127.0.0.1:${r.port}`, r.server);
      w.outboundPort = r.port;
    }
  } catch (err) {
    for (const s of out.values()) s.close();
    throw err;
  }
  return out;
}

/** The config a bootstrapped proxy starts with: its identity and nothing to serve until the first push. */
export function initialConfig(b: Bootstrap): ProxyConfig {
  return { node: b.node, mesh: DEFAULT_MESH_SETTINGS, listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
}

/** Connects a running proxy to the control plane: pushes are applied with `applyConfig`; `onApplied` runs after each.
 *  `extra.connect` opens the stream (TLS with an identity: src/proxy/identity/join.ts); `extra.onConnected` runs on each connect. */
export function connectControlPlane(b: Bootstrap, proxy: Pick<RunningProxy, 'applyConfig'>, onApplied?: () => void, log?: (line: string) => void, extra: { connect?: ControlClientOptions['connect']; onConnected?: () => void; onTrustBundle?: (pem: string) => void } = {}): ControlClient {
  const client = new ControlClient({
    server: b.server,
    node: b.node,
    workload: b.workload,
    apply: (cfg) => proxy.applyConfig(cfg),
    onEvent: (ev) => {
      if (ev.type === 'applied') onApplied?.();
      if (ev.type === 'connected') extra.onConnected?.();
    },
    ...(log ? { log } : {}),
    ...(extra.connect ? { connect: extra.connect } : {}),
    ...(extra.onTrustBundle ? { onTrustBundle: extra.onTrustBundle } : {}),
  });
  client.start();
  return client;
}
