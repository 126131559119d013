/**
 * A remote Bowline control plane as a registry: its registry view (`GET /v1/registry`, a
 * registry-read token), long-polled (`?after=VERSION` answers when the view changes, or after
 * `timeoutSeconds` with the same one). Endpoints keep the cluster and network the remote stamped.
 * A view under a root this mesh does not share, or from another mesh id, is refused (status error
 * naming both roots or both ids) and drops what the remote gave before. When the remote does not
 * answer, the last view is kept (the grace of remote endpoints is the caller's: RemoteClusters) and
 * the call is retried with backoff.
 */
import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import type { Endpoint, Workload } from '../../model/service.js';
import { ChangeNotifier, type Registry, type RegistryStatus, type RegistryView } from '../registry.js';
import { meshIdMismatch, parseServedView, REGISTRY_VIEW_PATH, rootMismatch, type ServedRegistryView } from './view.js';

/** How to reach one remote Bowline control plane. */
export interface BowlineRemoteOptions {
  /** The remote's cluster id (the name given to `bowline cluster add`). */
  cluster: string;
  /** A kubeconfig naming its API URL, the token and optionally the CA of its TLS API. */
  kubeconfig: string;
  /** The roots this mesh trusts (PEM; empty: no CA, no root check). */
  localRoots: () => string;
  /** This control plane's mesh id: a remote in another mesh is refused (view.ts meshIdMismatch). */
  localMeshId: () => string;
  /** Backoff between failed calls (default 500 ms doubling to 10 s). */
  backoffMs?: { min: number; max: number };
  /** How long the remote may hold a long poll (default 20 s). */
  pollSeconds?: number;
  log?: (line: string) => void;
}

interface Target {
  server: string;
  token?: string;
  ca?: string;
  insecure: boolean;
}

/** The server, token and CA of a kubeconfig's current context. */
export function kubeconfigTarget(text: string): Target {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new Error('the kubeconfig names no server');
  const user = kc.getCurrentUser();
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64').toString('utf8') : undefined;
  return { server: cluster.server.replace(/\/+$/, ''), ...(user?.token ? { token: user.token } : {}), ...(ca ? { ca } : {}), insecure: cluster.skipTLSVerify === true };
}

/** GETs JSON from `url` with the target's credentials; rejects on a non-200 answer with its message. */
function getJson(url: string, t: Target, timeoutMs: number, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method: 'GET',
      headers: { accept: 'application/json', ...(t.token ? { authorization: `Bearer ${t.token}` } : {}) },
      ...(u.protocol === 'https:' ? { ...(t.ca ? { ca: t.ca } : {}), rejectUnauthorized: !t.insecure } : {}),
      timeout: timeoutMs,
      signal,
    }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > 64 << 20) req.destroy(new Error('registry view larger than 64 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          let msg = text.slice(0, 300);
          try { msg = String((JSON.parse(text) as { message?: unknown }).message ?? msg); } catch {}
          return reject(new Error(`HTTP ${res.statusCode} from ${u.origin}${u.pathname}: ${msg.trim()}`));
        }
        try { resolve(JSON.parse(text)); } catch { reject(new Error(`${u.origin}${u.pathname} answered no JSON`)); }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${u.origin} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A remote Bowline control plane's own services, endpoints and east-west gateways. */
export class BowlineRemoteRegistry implements Registry {
  readonly name: string;
  private readonly notifier = new ChangeNotifier();
  private readonly target: Target;
  private view_: RegistryView = { services: [], endpoints: [], workloads: [] };
  private version = '';
  private state: RegistryStatus;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private firstSettled!: () => void;
  private readonly settled = new Promise<void>((r) => (this.firstSettled = r));
  private wake?: () => void;

  constructor(private readonly opts: BowlineRemoteOptions) {
    this.name = `cluster:${opts.cluster}`;
    this.target = kubeconfigTarget(opts.kubeconfig);
    this.state = { registry: this.name, target: this.target.server, healthy: false, error: 'not read yet', errors: 0 };
  }

  /** Starts polling; resolves after the first answer or failure. */
  async start(): Promise<void> {
    this.loop = this.run();
    await this.settled;
  }

  /** The last accepted view. */
  view(): RegistryView {
    return { services: [...this.view_.services], endpoints: [...this.view_.endpoints], workloads: [...this.view_.workloads] };
  }

  /** Subscribes to view and status changes. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }

  /** Whether the remote answered its last call, and why not. */
  status(): RegistryStatus {
    return { ...this.state };
  }

  /** The remote's network as it last said (empty before its first answer). */
  remoteNetwork = '';
  /** The last mesh-id warning logged (once per remote, not per poll). */
  private warned: string | undefined;

  /** Stops polling. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = this.opts.backoffMs ?? { min: 500, max: 10_000 };
    const poll = this.opts.pollSeconds ?? 20;
    let delay = backoff.min;
    while (!this.abort.signal.aborted) {
      try {
        // After a failure, ask without waiting: a remote that is back answers at once (and is healthy again).
        const wait = this.version && this.state.healthy;
        const url = `${this.target.server}${REGISTRY_VIEW_PATH}?timeoutSeconds=${wait ? poll : 0}${wait ? `&after=${encodeURIComponent(this.version)}` : ''}`;
        const body = parseServedView(await getJson(url, this.target, (poll + 15) * 1000, this.abort.signal));
        const ids = meshIdMismatch(this.opts.localMeshId(), body.meshId, this.opts.cluster);
        const refused = rootMismatch(this.opts.localRoots(), body.roots, this.opts.cluster) ?? ids.refused;
        if (refused) throw Object.assign(new Error(refused), { refused: true });
        if (ids.unchecked && ids.unchecked !== this.warned) this.opts.log?.(`cluster ${this.opts.cluster}: ${ids.unchecked}`);
        this.warned = ids.unchecked;
        this.accept(body);
        delay = backoff.min;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.fail(err as Error & { refused?: boolean });
        await new Promise<void>((r) => { const t = setTimeout(r, delay); this.wake = () => { clearTimeout(t); r(); }; });
        delay = Math.min(delay * 2, backoff.max);
      }
    }
    this.firstSettled();
  }

  private accept(body: ServedRegistryView): void {
    const changed = body.version !== this.version || !this.state.healthy;
    this.version = body.version;
    this.remoteNetwork = body.network;
    const cluster = this.opts.cluster;
    const endpoints = body.endpoints.map((e): Endpoint => ({ ...e, cluster, ...(e.network === undefined && body.network ? { network: body.network } : {}) }));
    const workloads = body.gateways.map((w): Workload => ({ ...w, id: `cluster/${cluster}/${w.id}`, cluster, source: this.name }));
    this.view_ = { services: body.services.map((s) => ({ ...s, source: this.name })), endpoints, workloads };
    if (!this.state.healthy) this.opts.log?.(`cluster ${cluster}: reading ${this.target.server} (network ${body.network || 'none'}, ${body.services.length} services, ${body.endpoints.length} endpoints)`);
    this.state = { registry: this.name, target: this.target.server, healthy: true, errors: this.state.errors ?? 0, lastSync: new Date().toISOString() };
    this.firstSettled();
    if (changed) this.notifier.emit();
  }

  private fail(err: Error & { refused?: boolean }): void {
    const message = err.message;
    const had = this.state.healthy || this.state.error !== message;
    if (had) this.opts.log?.(`cluster ${this.opts.cluster}: ${message}${err.refused ? '' : ' (keeping its last endpoints; retrying)'}`);
    this.state = { ...this.state, registry: this.name, target: this.target.server, healthy: false, error: message, errors: (this.state.errors ?? 0) + 1 };
    if (err.refused && this.view_.endpoints.length + this.view_.services.length + this.view_.workloads.length > 0) {
      this.view_ = { services: [], endpoints: [], workloads: [] }; // fail closed: nothing from a root we do not share
      this.version = '';
    }
    this.firstSettled();
    if (had) this.notifier.emit();
  }
}

/** One read of a remote's registry view (no waiting): what `bowline cluster add` checks before storing the cluster. */
export async function readRemoteView(kubeconfig: string, timeoutMs = 10_000): Promise<ServedRegistryView> {
  const t = kubeconfigTarget(kubeconfig);
  return parseServedView(await getJson(`${t.server}${REGISTRY_VIEW_PATH}?timeoutSeconds=0`, t, timeoutMs, new AbortController().signal));
}
