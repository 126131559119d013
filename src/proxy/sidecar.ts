/**
 * A Bowline proxy process assembled, one named step a line: where its config comes from,
 * its workload identity, the listeners and admin (proxy.ts), a full GC when traffic stops
 * (idle-gc.ts), metrics, DNS and health, the control-plane client, and shutdown. `bowline proxy` (src/cli/commands/proxy.ts) parses its
 * flags into `SidecarOptions` and calls `runSidecar`; nothing here reads argv.
 *
 * Parts a default sidecar does not use are imported when a step needs them (the control-plane
 * client and identity with `--server`, DNS, health, probes), so a proxy run from a config file
 * does not load or hold them (docs/performance.md, Memory).
 */
import type { Server } from 'node:net';
import type { ProxyConfig } from '../proxy-config/types.js';
import { formatValidationErrors, PROXY_CONFIG_INVALID, validateProxyConfig } from '../proxy-config/validate.js';
// Not the telemetry barrel (index.ts): it would load the trace collector and node:http with it.
import { createProxyTelemetry, type ProxyTelemetry } from '../telemetry/telemetry.js';
import { startMetricsServer } from '../telemetry/metrics/server.js';
import type { Bootstrap } from './bootstrap.js';
import type { OriginalDstLookup } from './capture/original-dst.js';
import type { ControlClient } from './control-client/client.js';
import type { AppProber } from './health.js';
import { collectWhenIdle, IDLE_GC_INTERVAL_MS } from './idle-gc.js';
import { releaseYoungGeneration } from './young-generation.js';
import { listenLocalHttp } from './local-http.js';
import type { PreparedIdentity } from './identity/join.js';
import { ConfigRejectedError, startProxy, type ProxyPorts, type RunningProxy } from './proxy.js';
import type { WorkloadProbe } from './workload-probe.js';

/** Where the proxy's config comes from. */
export type ConfigSource =
  /** A proxy-config file (docs/proxy-config.md), re-read when it changes and on SIGHUP. */
  | { kind: 'file'; file: string }
  /** A control plane (docs/push-protocol.md); `token` makes the stream TLS and gets a workload certificate. */
  | { kind: 'control-plane'; boot: Bootstrap; token?: JoinToken };

/** A bootstrap token (`bowline token create`) and how to use it. */
export interface JoinToken {
  token: string;
  /** Pin this root instead of the token's hash. */
  caCertPem?: string;
  trustDomain?: string;
  /** Keep the workload key and certificate here (a restart needs no new token). */
  identityDir?: string;
  /** The proxy id was given (`--id`): it stays, else it becomes WORKLOAD.NAMESPACE of the token's namespace. */
  idGiven?: boolean;
}

/** Everything a sidecar or gateway process runs with, parsed (the CLI's flags, typed). */
export interface SidecarOptions {
  source: ConfigSource;
  admin: { port: number; address: string };
  /** How long a drain waits for in-flight requests (undefined: a shutdown the config's mesh.terminationDrainDurationMs, a config change its mesh.drainDurationMs, each else 5 s). */
  drainMs?: number;
  /** Istio metrics, tracing and access logs; with them the metrics endpoint(s). */
  telemetry?: { port: number; address: string; merged?: { port: number; appMetricsUrl: string } };
  /** The DNS proxy (absent: none); its port defaults to 15053 (dns/server.ts DEFAULT_DNS_PORT). */
  dns?: { port?: number };
  /** Istio's 15021 health port and the app probes moved there. */
  health?: { port: number; address: string; probers: Record<string, AppProber> };
  /** The WorkloadGroup's probe, reported to the control plane. */
  probe?: WorkloadProbe;
  /** How often request counts go to the control plane (0: never). */
  statsIntervalMs: number;
  /** Listening sockets handed over by the parent process (`--sockets-from-parent`), by `address:port`. */
  inheritedSockets?: () => Promise<Map<string, Server>>;
  /** Called with every port the process serves, whenever one changes (the CLI writes `--ports-file`). */
  onPorts?: (ports: SidecarPorts) => void;
  /** Ends the process (after a drain: code 0). */
  exit: (code: number) => void;
  /** Where the sidecar's own lines go. */
  log: (line: string) => void;
}

/** The ports a sidecar process serves. */
export interface SidecarPorts extends ProxyPorts {
  metrics?: number;
  mergedMetrics?: number;
  dns?: number;
  health?: number;
}

/** A running sidecar. */
export interface Sidecar {
  readonly proxy: RunningProxy;
  readonly ports: SidecarPorts;
  /** Tells the control plane it leaves, drains, then exits (SIGTERM and SIGINT do this). */
  stop(): void;
  /** Closes every part at once without exiting (tests, embedders). */
  close(): Promise<void>;
}

/** What closes the parts started so far, in start order (closed in reverse). */
type Cleanup = Array<() => Promise<void> | void>;

/** Starts a sidecar: each step below is one part of the process, in the order it comes up. Throws (everything closed) when a step fails. */
export async function runSidecar(o: SidecarOptions): Promise<Sidecar> {
  const cleanup: Cleanup = [];
  const ports: Omit<SidecarPorts, keyof ProxyPorts> = {};
  const control: { client?: ControlClient } = {};
  try {
    const boot = o.source.kind === 'control-plane' ? o.source.boot : undefined;
    const joined = o.source.kind === 'control-plane' && o.source.token ? await joinMesh(o.source.boot, o.source.token, control) : undefined;
    // Peers' auto-mTLS sends mTLS only to proxies that will hold a workload certificate.
    if (boot?.node.role === 'sidecar') boot.workload.tlsMode = joined ? 'istio' : 'disabled';
    const originalDst = boot?.workload.captureMode === 'iptables' ? await captureLookup() : undefined;
    const reserved = await reserveSockets(boot, o.inheritedSockets);
    const config = await initialConfig(o.source);
    const telemetry = o.telemetry ? createProxyTelemetry({ config }) : undefined;
    const proxy = await startProxy({
      config,
      ...(telemetry ? { telemetry } : {}),
      adminPort: o.admin.port,
      adminAddress: o.admin.address,
      drainMs: o.drainMs,
      onQuit: () => o.exit(0),
      ...(joined ? { identity: joined.identity.live } : {}),
      reservedListeners: reserved,
      ...(originalDst ? { originalDst } : {}),
    });
    cleanup.push(() => proxy.close());
    const st = proxy.stats;
    // Once start-up has settled the young generation may grow under load; the idle GC gives it back (young-generation.ts).
    const release = setTimeout(() => releaseYoungGeneration(), IDLE_GC_INTERVAL_MS).unref();
    cleanup.push(() => clearTimeout(release));
    cleanup.push(collectWhenIdle(() => st.requestsTotal + st.downstreamConnectionsTotal + st.tcpConnectionsTotal + st.tcpBytesReceived + st.tcpBytesSent));
    if (telemetry && o.telemetry) Object.assign(ports, await serveMetrics(telemetry, o.telemetry, cleanup, o.log));
    if (o.dns) ports.dns = await serveDns(() => proxy.current.config, o.dns.port, cleanup, o.log);
    const publish = (): void => {
      // Passthrough never reaches the proxy's own endpoints or its push client (proxy/passthrough/guard.ts).
      proxy.protectPorts([ports.metrics, ports.mergedMetrics, ports.dns, ports.health, control.client?.localPort].filter((p): p is number => p !== undefined));
      o.onPorts?.({ ...proxy.ports, ...ports });
    };
    publish();
    o.log(`running config ${proxy.current.version || '(unversioned)'}; admin 127.0.0.1:${proxy.ports.admin}; listeners ${JSON.stringify(proxy.ports.listeners)}`);
    const state = { configured: boot === undefined, draining: false }; // a file config runs from the start; a control plane's once applied
    if (o.health) { ports.health = await serveHealth(o.health, state, cleanup); publish(); }
    if (boot) control.client = await connectControl(boot, proxy, joined, () => { state.configured = true; publish(); });
    const prober = control.client && o.probe ? await startProbe(o.probe, control.client, o.log) : undefined;
    if (control.client) { const c = control.client; cleanup.push(() => c.stop()); }
    if (prober) cleanup.push(() => prober.stop());
    if (control.client && telemetry && o.statsIntervalMs > 0) cleanup.push(await reportStats(control.client, telemetry, o.statsIntervalMs));
    if (o.source.kind === 'file') cleanup.push(await watchFile(o.source.file, proxy, publish, o.log));
    const stop = (): void => {
      // Stopping for good: the control plane is told first (`leave`: an auto-registered WorkloadEntry goes now), then the drain.
      state.draining = true;
      prober?.stop();
      void (control.client ? control.client.leave() : Promise.resolve()).then(() => proxy.drain(o.drainMs)).then(() => o.exit(0), () => o.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    cleanup.push(() => { process.off('SIGTERM', stop); process.off('SIGINT', stop); });
    return { proxy, get ports() { return { ...proxy.ports, ...ports }; }, stop, close: () => closeAll(cleanup) };
  } catch (err) {
    await closeAll(cleanup);
    throw err;
  }
}

async function closeAll(cleanup: Cleanup): Promise<void> {
  for (const c of cleanup.splice(0).reverse()) await c();
}

/** Identity: the bootstrap token buys a workload certificate; the workload's namespace and service account are the token's. */
async function joinMesh(boot: Bootstrap, t: JoinToken, control: { client?: ControlClient }): Promise<PreparedIdentity> {
  const [{ prepareIdentity }, { parseServerAddress }] = await Promise.all([import('./identity/join.js'), import('./control-client/client.js')]);
  const joined = await prepareIdentity({
    server: parseServerAddress(boot.server),
    token: t.token,
    ...(t.caCertPem !== undefined ? { caCertPem: t.caCertPem } : {}),
    ...(t.trustDomain !== undefined ? { trustDomain: t.trustDomain } : {}),
    ...(t.identityDir !== undefined ? { identityDir: t.identityDir } : {}),
    request: (csr, opts) => (control.client ? control.client.requestCertificate(csr, opts) : Promise.reject(new Error('not connected'))),
  });
  boot.node.namespace = boot.workload.namespace = joined.namespace;
  boot.node.serviceAccount = boot.workload.serviceAccount = joined.serviceAccount;
  if (t.idGiven !== true) boot.node.id = `${boot.node.workload}.${joined.namespace}`;
  if (t.trustDomain !== undefined) boot.node.trustDomain = t.trustDomain;
  return joined;
}

/** Capture: connections redirected by iptables are routed by their original destination (SO_ORIGINAL_DST). */
async function captureLookup(): Promise<OriginalDstLookup> {
  const { loadOriginalDst } = await import('./capture/original-dst.js');
  const a = loadOriginalDst();
  if ('missing' in a) throw new Error(`--capture iptables cannot work: ${a.missing} (BOWLINE_E_CAPTURE_PREREQ); explicit HTTP_PROXY mode (no --capture) needs none of this`);
  return a.lookup;
}

/** Ports to pick (`--bind-port P=0`, `--outbound-port auto`) are bound now, so the hello announces the real ones; sockets from the parent join them. */
async function reserveSockets(boot: Bootstrap | undefined, inherited: SidecarOptions['inheritedSockets']): Promise<Map<string, Server>> {
  const reserved = boot ? await (await import('./bootstrap.js')).reserveEphemeralPorts(boot) : new Map<string, Server>();
  if (inherited) for (const [k, srv] of await inherited()) reserved.set(k, srv);
  return reserved;
}

/** Config source: the file's config (validated first: telemetry reads it before startProxy), or an empty one until the control plane's arrives. */
async function initialConfig(source: ConfigSource): Promise<ProxyConfig> {
  if (source.kind === 'control-plane') return (await import('./bootstrap.js')).initialConfig(source.boot);
  const config = validateProxyConfig((await import('./config-file.js')).readConfigFile(source.file));
  if (config.config === undefined) throw new ConfigRejectedError(`proxy config refused (${PROXY_CONFIG_INVALID}):\n${formatValidationErrors(config.errors)}`);
  return config.config;
}

/** Metrics: /stats/prometheus, and the app's metrics merged on a second port. A busy port costs the endpoint, not the proxy. */
async function serveMetrics(telemetry: ProxyTelemetry, t: NonNullable<SidecarOptions['telemetry']>, cleanup: Cleanup, log: SidecarOptions['log']): Promise<{ metrics?: number; mergedMetrics?: number }> {
  const serve = async (port: number, appMetricsUrl?: string): Promise<number | undefined> => {
    try {
      const m = await startMetricsServer({ registry: telemetry.registry, host: t.address, port, appMetricsUrl, listen: listenLocalHttp });
      cleanup.push(() => m.close());
      return m.port;
    } catch (err) {
      log(`metrics not served: ${(err as Error).message}; pass --metrics-port 0 for an ephemeral port`);
      return undefined;
    }
  };
  const out: { metrics?: number; mergedMetrics?: number } = {};
  const metrics = await serve(t.port);
  if (metrics !== undefined) out.metrics = metrics;
  const merged = t.merged ? await serve(t.merged.port, t.merged.appMetricsUrl) : undefined;
  if (merged !== undefined) out.mergedMetrics = merged;
  return out;
}

/** DNS: mesh names from the running config's name table (compiled again only when a new config is applied), others forwarded. */
async function serveDns(config: () => ProxyConfig, port: number | undefined, cleanup: Cleanup, log: SidecarOptions['log']): Promise<number> {
  const { compileNameTable, startDnsProxy, DEFAULT_DNS_PORT } = await import('./dns/index.js');
  let compiledFor: ProxyConfig | undefined;
  let table = compileNameTable(undefined);
  const dns = await startDnsProxy({
    port: port ?? DEFAULT_DNS_PORT,
    table() {
      const c = config();
      if (c !== compiledFor) { compiledFor = c; table = compileNameTable(c.names); }
      return table;
    },
    log,
  });
  cleanup.push(() => dns.close());
  const ups = dns.upstreams.map((u) => u.host).join(', ') || 'none (/etc/resolv.conf has no nameserver: other names get SERVFAIL)';
  log(`DNS proxy on ${dns.address}:${dns.port} (udp, tcp); other names go to ${ups}`);
  return dns.port;
}

/** Health: Istio's 15021, ready once a config runs and until the drain starts; the app's moved probes. */
async function serveHealth(h: NonNullable<SidecarOptions['health']>, state: { configured: boolean; draining: boolean }, cleanup: Cleanup): Promise<number> {
  const { startHealthServer } = await import('./health.js');
  try {
    const server = await startHealthServer({
      port: h.port, address: h.address, probers: h.probers,
      ready: () => (state.draining ? 'draining' : state.configured ? undefined : 'no configuration from the control plane yet'),
    });
    cleanup.push(() => server.close());
    return server.port;
  } catch (err) {
    throw new Error(`health port not served: ${(err as Error).message}`);
  }
}

/** Control client: the push stream that applies each config (and carries certificates with a token). */
async function connectControl(boot: Bootstrap, proxy: RunningProxy, joined: PreparedIdentity | undefined, onApplied: () => void): Promise<ControlClient> {
  const { connectControlPlane } = await import('./bootstrap.js');
  const tls = joined ? { connect: joined.connect, onConnected: () => joined.identity.onConnected(), onTrustBundle: (pem: string) => joined.identity.updateTrustBundle(pem) } : {};
  return connectControlPlane(boot, proxy, onApplied, undefined, tls);
}

/** The WorkloadGroup's probe, run against the app; each change of result goes to the control plane. */
async function startProbe(probe: WorkloadProbe, client: ControlClient, log: SidecarOptions['log']): Promise<{ stop(): void }> {
  const { WorkloadProber } = await import('./workload-probe.js');
  const prober = new WorkloadProber(probe, (healthy, message) => {
    log(`workload probe: ${healthy ? 'healthy' : `unhealthy (${message})`}`);
    client.reportHealth(healthy, message);
  });
  prober.start();
  return prober;
}

/** Stats for the control plane's dashboard, from the istio_* series the request path already records; while disconnected nothing is collected, so the next report carries the whole gap. */
async function reportStats(client: ControlClient, telemetry: ProxyTelemetry, everyMs: number): Promise<() => void> {
  const { StatsReporter } = await import('../telemetry/stats-report.js');
  const istio = telemetry.istioMetrics;
  if (istio === undefined) return () => {};
  const reporter = new StatsReporter(istio);
  const timer = setInterval(() => {
    if (client.connected) for (const m of reporter.collect()) client.sendStats(m);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A file config is re-read when the file changes and on SIGHUP; an invalid one is refused and the running config stays. */
async function watchFile(file: string, proxy: RunningProxy, publish: () => void, log: SidecarOptions['log']): Promise<() => void> {
  const { readConfigFile, watchConfigFile } = await import('./config-file.js');
  const reload = (why: string): void => {
    let cfg: unknown;
    try { cfg = readConfigFile(file); } catch (err) {
      log(`config not reloaded (${why}): ${(err as Error).message}`);
      return;
    }
    proxy.applyConfig(cfg).then(() => {
      publish();
      log(`config ${proxy.current.version || '(unversioned)'} applied (${why})`);
    }, (err: Error) => log(`config not applied (${why}), running config kept: ${err.message}`));
  };
  const unwatch = watchConfigFile(file, () => reload('file changed'));
  const onHup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => { unwatch(); process.off('SIGHUP', onHup); };
}
