/**
 * The Bowline proxy as a library: `startProxy` binds the admin listener and the configured
 * listeners and returns a handle to apply new configs, read ports and close. The CLI
 * (`bowline proxy`) and tests use this; the control-plane client calls `applyConfig`.
 *
 * A config is validated (src/proxy-config/validate.ts), compiled (route tables, listener
 * settings) and only then committed, all at once: a refused config leaves the running one.
 */
import { validateProxyConfig, formatValidationErrors, PROXY_CONFIG_INVALID } from '../proxy-config/validate.js';
import type { Server } from 'node:net';
import type { ProxyConfig } from '../proxy-config/types.js';
import { startAdmin, type AdminServer } from './admin.js';
import { ClusterManager } from './cluster/index.js';
import type { ProxyContext } from './context.js';
import { ListenerSet, compileListeners, type RouteTableCache } from './listeners.js';
import { compileProtocols } from './detect/chains.js';
import { PassthroughCache } from './passthrough/guard.js';
import { H2Loader } from './detect/h2-loader.js';
import type { ProxyHooks } from './record.js';
import { ProxyStats } from './stats.js';
import type { ProxyTelemetry } from '../telemetry/index.js';
import { withTelemetry } from './telemetry.js';
import { emptyAuthz, installAuthorization } from './authz/slot.js';
import { describeCredentials, resolveWorkloadSecrets, type WorkloadIdentitySource } from './identity/secrets.js';
import { isWorkloadSecret } from '../proxy-config/workload-secrets.js';
import { PeerFactsCache } from './identity/peer-facts.js';
import { IdleSweep } from './http/idle-sweep.js';
import { KeptRequest } from './exchange/kept-request.js';
import { clusterSpeaksH2, loadH2Upstream, Upstreams } from './upstream/registry.js';
import { rateLimitedLog } from './log-limit.js';

/** Options of `startProxy`. Every port may be 0 (ephemeral); the chosen ones are in `ports`. */
export interface ProxyOptions {
  config: ProxyConfig;
  /** Admin listener port (default 15000; 0: ephemeral). */
  adminPort?: number;
  /** Admin bind address (default 127.0.0.1: loopback only). */
  adminAddress?: string;
  /** Set false to run without an admin listener. */
  admin?: boolean;
  hooks?: ProxyHooks;
  /** Istio metrics, tracing and access logs (src/telemetry); reconfigured with every applied config. */
  telemetry?: ProxyTelemetry;
  /** The drain time of every drain: how long a shutdown, or a config change that removes, moves or changes a listener's
   *  filter chains, lets its connections finish before closing what is left (drain.ts). Default: a shutdown drains for
   *  mesh.terminationDrainDurationMs, a config change for mesh.drainDurationMs, each else 5 s. */
  drainMs?: number;
  /** Randomness (retry back-off, fault percentages, load balancing), injectable in tests. */
  random?: () => number;
  /** Clock for outlier detection and passthrough's DNS and own-address caches, injectable in tests. */
  now?: () => number;
  /** Timers for connection deadlines (request-headers timeout, drain deadlines), injectable in tests. */
  timers?: ProxyContext['timers'];
  /** Where data-plane log lines go (default stderr). */
  log?: (line: string) => void;
  /** Called when POST /quitquitquit finished draining (the CLI exits the process). */
  onQuit?: () => void;
  /** The workload certificate and mesh roots (LiveCredentials) that fill the `default` / `ROOTCA` secrets;
   *  every update re-applies the running config so new handshakes use the new certificate. A proxy given one
   *  will hold a certificate: a config that needs it waits for the first (Envoy's listeners and clusters warm
   *  until their SDS secrets arrive), so auto-mTLS never starts out in plaintext and no mTLS chain is missing. */
  identity?: WorkloadIdentitySource;
  /** Sockets bound before the first config (`reservePort`), by `address:port`: the listener configured there adopts its socket. */
  reservedListeners?: Map<string, Server>;
  /** Reads a captured connection's original destination (SO_ORIGINAL_DST: capture/original-dst.ts). */
  originalDst?: ProxyContext['originalDst'];
}

/** The ports a proxy is listening on. */
export interface ProxyPorts {
  admin: number;
  /** Bound port per listener name. */
  listeners: Record<string, number>;
}

/** A running proxy. */
export interface RunningProxy {
  readonly ports: ProxyPorts;
  /** The config in force and when it was applied. */
  readonly current: { config: ProxyConfig; version: string; appliedAt: number };
  readonly stats: ProxyStats;
  readonly clusters: ClusterManager;
  /** Validates and applies a config atomically; rejects (running config kept) with the reasons. */
  applyConfig(cfg: unknown): Promise<void>;
  /** Stops accepting, lets in-flight requests finish for up to `drainMs` (default: the shutdown drain time, mesh.terminationDrainDurationMs)
   *  (idle HTTP/1.1 connections close after a short grace, TCP sessions get a FIN at the deadline), then closes everything. */
  drain(drainMs?: number): Promise<void>;
  /** Closes at once. */
  close(): Promise<void>;
  /** Adds local ports this proxy owns beyond admin and listeners (metrics, push client): passthrough never reaches them. */
  protectPorts(ports: Iterable<number>): void;
}

/** A refused configuration: `code` is BOWLINE_E_PROXY_CONFIG_INVALID, `message` lists every violation. */
export class ConfigRejectedError extends Error {
  readonly code = PROXY_CONFIG_INVALID;
  override name = 'ConfigRejectedError';
}

/** Starts a proxy with an initial config (which must be valid). */
export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const stats = new ProxyStats();
  const random = opts.random ?? Math.random;
  const write = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const logLine = (line: string): void => { write(line); };
  const limited = rateLimitedLog(write);
  const clusters = new ClusterManager({ random, ...(opts.now ? { now: opts.now } : {}) });
  const ctx: ProxyContext = {
    stats,
    hooks: opts.telemetry ? withTelemetry(opts.hooks ?? {}, opts.telemetry) : opts.hooks ?? {},
    clusters,
    random,
    draining: false,
    upstreams: new Upstreams(clusters, { stats, log: limited.log }),
    h2: new H2Loader(),
    authz: emptyAuthz(),
    log: limited.log,
    own: { role: opts.config.node.role, ports: new Set(), cache: new PassthroughCache(opts.now) },
    upstreamTlsWarned: new Set(),
    peerFacts: new PeerFactsCache(),
    idleSweep: new IdleSweep(),
    kept: new KeptRequest(),
    ...(opts.originalDst ? { originalDst: opts.originalDst } : {}),
    ...(opts.timers ? { timers: opts.timers } : {}),
  };
  const extraPorts = new Set<number>();
  const refreshOwnPorts = (): void => {
    const ports = new Set(extraPorts);
    if (admin !== undefined) ports.add(admin.port);
    for (const p of Object.values(listeners.ports())) ports.add(p);
    ctx.own.ports = ports;
  };
  const listeners = new ListenerSet(ctx, opts.reservedListeners);
  let current = { config: opts.config, version: opts.config.version ?? '', appliedAt: 0 };
  let admin: AdminServer | undefined;
  let queue: Promise<void> = Promise.resolve();
  const routeTables: RouteTableCache = new Map();
  /** The drain time of a config change: the proxy's option, else the config's mesh.drainDurationMs, else 5 s. */
  const drainTime = (cfg: ProxyConfig): number => opts.drainMs ?? cfg.mesh.drainDurationMs ?? 5000;
  /** The drain time of a shutdown (Istio's terminationDrainDuration): the proxy's option, else the config's mesh.terminationDrainDurationMs, else 5 s. */
  const shutdownDrainTime = (cfg: ProxyConfig): number => opts.drainMs ?? cfg.mesh.terminationDrainDurationMs ?? 5000;

  async function apply(obj: unknown): Promise<void> {
    const v = validateProxyConfig(obj);
    if (v.config === undefined) {
      stats.configRejected++;
      throw new ConfigRejectedError(`proxy config refused (${PROXY_CONFIG_INVALID}):\n${formatValidationErrors(v.errors)}`);
    }
    const cfg = v.config;
    if (opts.identity !== undefined && opts.identity.current() === undefined && cfg.secrets.some(isWorkloadSecret)) await firstCertificate(cfg);
    // The running form: workload secrets filled from the live credentials (the pushed form keeps placeholders).
    const { config: run, withoutIdentity } = resolveWorkloadSecrets(cfg, opts.identity?.current(), ctx.log.bind(ctx));
    let compiled, protocols;
    try {
      protocols = compileProtocols(run, logLine, ctx.upstreamTlsWarned, withoutIdentity);
      compiled = compileListeners(run, opts.random, logLine, routeTables, protocols);
    } catch (err) {
      stats.configRejected++;
      throw new ConfigRejectedError(`proxy config refused (${PROXY_CONFIG_INVALID}): ${(err as Error).message}`);
    }
    // The HTTP/2 upstream client loads with the first config that has an HTTP/2 cluster (upstream/registry.ts).
    if (run.clusters.some(clusterSpeaksH2)) await loadH2Upstream();
    await listeners.apply(compiled, drainTime(run));
    clusters.update(run.clusters, run.endpoints, run.node, protocols.shared.upstreamTls);
    // Keys name the kind of line (a code, a position), never the text: see log-limit.ts.
    installAuthorization(ctx, run, (m) => ctx.log(`jwt:${/BOWLINE_E_[A-Z_]+/.exec(m)?.[0] ?? ''}`, m)).forEach((w, i) => ctx.log(`authz-warning:${i}`, `authorization: ${w}`));
    ctx.upstreams.apply();
    current = { config: cfg, version: cfg.version ?? '', appliedAt: Date.now() };
    ctx.own.role = cfg.node.role;
    refreshOwnPorts();
    opts.telemetry?.reconfigure(run);
    stats.configReloads++;
  }

  /** Resolves when the identity holds its first certificate; rejects when the proxy closes first. */
  const waiting = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  let closed = false;
  const closedFirst = (): Error => new Error('proxy closed before its workload certificate arrived');
  function firstCertificate(cfg: ProxyConfig): Promise<void> {
    if (closed) return Promise.reject(closedFirst());
    ctx.log('identity-wait', `config ${cfg.version ?? '(unversioned)'} needs the workload certificate: applied when it arrives (the running config serves meanwhile)`);
    return new Promise((resolve, reject) => { waiting.add({ resolve, reject }); });
  }
  /** Runs `job` after every change queued before it (config pushes and certificate re-applies, one at a time, in order). */
  const enqueue = (job: () => Promise<void>): Promise<void> => {
    const run = queue.then(job);
    queue = run.catch(() => {});
    return run;
  };
  await apply(opts.config);
  const stopIdentity = opts.identity?.onUpdate(() => {
    for (const w of waiting) w.resolve();
    waiting.clear();
    // Queued behind a config waiting for this certificate, and reading the running config only when its turn comes.
    enqueue(() => apply(current.config)).catch((err: Error) => ctx.log('identity-apply', `new workload certificate not applied: ${err.message}`));
  });
  const handle: RunningProxy = {
    get ports() { return { admin: admin?.port ?? 0, listeners: listeners.ports() }; },
    get current() { return current; },
    stats,
    clusters,
    applyConfig(cfg) {
      return enqueue(() => apply(cfg));
    },
    async drain(drainMs) {
      ctx.draining = true;
      await listeners.drain(drainMs ?? shutdownDrainTime(current.config));
      await handle.close();
    },
    protectPorts(ports) {
      for (const p of ports) extraPorts.add(p);
      refreshOwnPorts();
    },
    async close() {
      stopIdentity?.();
      closed = true;
      for (const w of waiting) w.reject(closedFirst());
      waiting.clear();
      ctx.draining = true;
      listeners.destroyAll();
      ctx.upstreams.close();
      await admin?.close();
    },
  };
  if (opts.admin !== false) {
    admin = await startAdmin({
      port: opts.adminPort ?? 15000,
      address: opts.adminAddress ?? '127.0.0.1',
      proxy: handle,
      pools: () => ctx.upstreams.pools,
      ...(opts.identity ? { certs: () => describeCredentials(opts.identity!.current()) } : {}),
      onQuit: async () => {
        await handle.drain();
        opts.onQuit?.();
      },
    });
    refreshOwnPorts();
  }
  return handle;
}
