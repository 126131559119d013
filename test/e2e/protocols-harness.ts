// Shared pieces of the protocol e2e tests: proxy configs written directly, certificates made
// with openssl in a temp dir (a CA, server and client leaves with DNS and SPIFFE SANs), echo
// servers, and starting proxies on port 0.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Cluster, FilterChain, Listener, ProxyConfig, Secret } from '../../src/proxy-config/types.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { start, repoRoot, type Child } from '../support/process.js';
import { tempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';

/** A proxy config with the given listeners and clusters (endpoints by cluster name). */
export function config(listeners: Listener[], clusters: Array<Cluster & { endpoints?: Array<{ address: string; port: number; identity?: string }> }>, extra: Partial<ProxyConfig> = {}): ProxyConfig {
  return {
    version: 'protocols',
    node: { id: 'p.default', role: 'sidecar', workload: 'p', namespace: 'default', serviceAccount: 'p', labels: { app: 'p', version: 'v1' } },
    mesh: { tracingSampling: 0, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'REGISTRY_ONLY' },
    listeners,
    routes: [],
    clusters: clusters.map(({ endpoints: _e, ...c }) => c),
    endpoints: clusters.filter((c) => c.endpoints !== undefined).map((c) => ({ cluster: c.name, endpoints: c.endpoints! })),
    secrets: [],
    ...extra,
  };
}

/** A listener on 127.0.0.1:0. */
export function listener(name: string, filterChains: FilterChain[], extra: Partial<Listener> = {}): Listener {
  return { name, address: '127.0.0.1', port: 0, direction: 'outbound', filterChains, ...extra };
}

/** A TCP chain sending everything to `cluster`. */
export function tcpChain(cluster: string, extra: Partial<FilterChain> = {}): FilterChain {
  return { name: 'tcp-' + cluster, tcp: { routes: [{ destinations: [{ cluster, weight: 1 }] }] }, ...extra };
}

/** A cluster of loopback endpoints. */
export function cluster(name: string, ports: number[], extra: Partial<Cluster> = {}): Cluster & { endpoints: Array<{ address: string; port: number }> } {
  return { name, discovery: 'eds', protocol: 'tcp', ...extra, endpoints: ports.map((port) => ({ address: '127.0.0.1', port })) };
}

const started: Array<{ close(): Promise<void> }> = [];

/** Starts a proxy without an admin listener; `stopAll` closes it. */
export async function proxy(cfg: ProxyConfig, opts: { log?: (l: string) => void; hooks?: object; admin?: boolean } = {}): Promise<RunningProxy> {
  const p = await startProxy({ config: cfg, admin: opts.admin ?? false, adminPort: 0, log: opts.log ?? (process.env.PROTO_LOG ? (l) => console.log(l) : () => {}), ...(opts.hooks ? { hooks: opts.hooks } : {}) });
  started.push(p);
  return p;
}

/** A TCP server on port 0. */
export async function tcpServer(onConn: (s: Socket) => void, opts: { allowHalfOpen?: boolean } = {}): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: opts.allowHalfOpen ?? true }, onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  started.push({ close: () => new Promise<void>((r) => { server.close(() => r()); (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(); }) });
  return { server, port: (server.address() as { port: number }).port };
}

/** Registers something to close at the end. */
export function onStop(c: { close(): Promise<void> | void }): void {
  started.push({ close: async () => { await c.close(); } });
}

/** Closes everything started by the helpers. */
export async function stopAll(): Promise<void> {
  for (const s of started.splice(0).reverse()) {
    await Promise.race([s.close().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
  }
}

/** Certificates for the TLS tests, as file paths and PEM text. */
export interface Pki {
  dir: string;
  ca: string;
  caPem: string;
  /** Leaf `name` -> { cert, key } paths. */
  leaf(name: string): { cert: string; key: string; certPem: string; keyPem: string };
}

/** Makes a CA and leaves: `leaves` maps a name to its SANs (`DNS:a.test,URI:spiffe://...`). */
export function makePki(leaves: Record<string, string>): Pki {
  const dir = tempDir('bowline-pki-');
  const run = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=bowline-test-ca', '-days', '2']);
  const out: Record<string, { cert: string; key: string; certPem: string; keyPem: string }> = {};
  for (const [name, sans] of Object.entries(leaves)) {
    writeFileSync(join(dir, name + '.ext'), `subjectAltName=${sans}\n`);
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key', '-out', name + '.csr', '-subj', '/CN=' + name]);
    run(['x509', '-req', '-in', name + '.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', name + '.pem', '-days', '2', '-extfile', name + '.ext']);
    const read = (f: string): string => execFileSync('cat', [join(dir, f)]).toString();
    out[name] = { cert: join(dir, name + '.pem'), key: join(dir, name + '.key'), certPem: read(name + '.pem'), keyPem: read(name + '.key') };
  }
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caPem: execFileSync('cat', [join(dir, 'ca.pem')]).toString(),
    leaf: (n) => out[n]!,
  };
}

/** Secrets for a leaf (`file:` paths) and the CA. */
export function secretsFor(pki: Pki, leaf: string): Secret[] {
  const l = pki.leaf(leaf);
  return [
    { name: leaf, kind: 'tls-certificate', certificateChain: 'file:' + l.cert, privateKey: 'file:' + l.key },
    { name: 'ca', kind: 'validation', trustedCa: 'file:' + pki.ca },
  ];
}

/**
 * A real `bowline proxy` process running `cfg` (written to HOME/proxy.json), with `nodeArgs` before bin/bowline (node
 * and V8 flags: PROXY_NODE_FLAGS, traces); resolves once its ports file names listener `listenerName`'s port.
 */
export async function startProxyProcess(home: string, cfg: ProxyConfig, listenerName: string, nodeArgs: readonly string[] = []): Promise<{ proxy: Child; port: number }> {
  const file = join(home, 'proxy.json');
  writeFileSync(file, JSON.stringify(cfg));
  const portsFile = join(home, 'ports.json');
  const proxy = start(process.execPath, [...nodeArgs, join(repoRoot, 'bin/bowline'), 'proxy', '--config', file, '--admin-port', '0', '--ports-file', portsFile]);
  const port = await waitFor(() => {
    try { return (JSON.parse(readFileSync(portsFile, 'utf8')) as { listeners: Record<string, number> }).listeners[listenerName] ?? 0; } catch { return 0; }
  }, { timeoutMs: 15_000, what: () => `proxy ports file:\n${proxy.output()}` });
  return { proxy, port };
}
