/**
 * The Marathon registry: apps (`GET /v2/apps?embed=apps.tasks`) and pods (`GET /v2/pods/::status`)
 * as services, endpoints and workloads, kept current from `GET /v2/events`.
 *
 * Marathon does not order its events, so an event is only an invalidation: the apps and pods it
 * names are read again, and the answer (which is never older than the event) replaces what we
 * had. A dropped stream is reconnected with backoff, followed by a full read. When Marathon is
 * unreachable or refuses us (401/403/503), the last known state stays and the error is reported
 * (`status()`, the control plane's log, /debug/registryz and `bowline_registry_up`).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DEFAULT_DOMAINS, type DomainSettings } from '../../model/service.js';
import { ChangeNotifier, type Registry, type RegistryStatus, type RegistryView } from '../registry.js';
import { MarathonClient, MarathonError } from './client.js';
import { DEFAULT_MESOS_DOMAINS, ViewBuilder, type MarathonNaming } from './translate.js';
import type { MarathonApp, MarathonEvent, MarathonPodStatus } from './types.js';

/** How to reach one Marathon and name what it runs. */
export interface MarathonRegistryOptions {
  url: string;
  /** DC/OS authentication token file (re-read when it changes). */
  tokenFile?: string;
  /** Registry name (default `marathon`; give each Marathon its own when there are several). */
  name?: string;
  /** Label holding the service name (default `istio`); `''` names services after the app id. */
  serviceLabel?: string;
  domains?: DomainSettings;
  /** Mesos-DNS domains (default marathon.mesos, marathon.slave.mesos). */
  mesosDomains?: string[];
  /** Debug lines (skipped apps) and warnings (errors, port conflicts). */
  log?: (level: 'debug' | 'info' | 'warn', line: string) => void;
  /** Reconnect backoff bounds (default 200 ms doubling to 10 s). */
  backoffMs?: { min: number; max: number };
  /** Timer for backoff (tests inject their own). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Ids an event makes stale: apps, pods, ids of either kind, or everything. */
export function staleIds(e: MarathonEvent): { apps: string[]; pods: string[]; either: string[]; all: boolean } {
  const out = { apps: [] as string[], pods: [] as string[], either: [] as string[], all: false };
  const str = (v: unknown) => (typeof v === 'string' && v.startsWith('/') ? [v] : []);
  switch (e.eventType) {
    case 'status_update_event':
    case 'health_status_changed_event':
    case 'failed_health_check_event':
    case 'unhealthy_task_kill_event':
    case 'unhealthy_instance_kill_event':
    case 'app_terminated_event':
      out.apps.push(...str(e.appId));
      if (!e.appId) out.either.push(...str(e['runSpecId']));
      break;
    case 'instance_changed_event':
    case 'instance_health_changed_event':
      out.either.push(...str(e['runSpecId']), ...str(e.appId), ...str(e.podId));
      break;
    case 'pod_created_event':
    case 'pod_updated_event':
    case 'pod_deleted_event':
      out.pods.push(...str(e.podId), ...str(e['id']));
      break;
    case 'api_post_event':
      out.either.push(...str((e['appDefinition'] as { id?: unknown } | undefined)?.id));
      break;
    case 'deployment_info':
    case 'deployment_success':
    case 'deployment_failed':
    case 'deployment_step_success':
    case 'deployment_step_failure':
    case 'group_change_success':
      for (const side of [e.plan?.original, e.plan?.target]) {
        for (const a of side?.apps ?? []) out.apps.push(...str(a.id));
        for (const p of side?.pods ?? []) out.pods.push(...str(p.id));
      }
      if (out.apps.length + out.pods.length === 0 && e.eventType === 'group_change_success') out.all = true;
      break;
    default:
      break;
  }
  return out;
}

/** Apps and pods of one Marathon as a registry. */
export class MarathonRegistry implements Registry {
  readonly name: string;
  private readonly client: MarathonClient;
  private readonly naming: MarathonNaming;
  private readonly notifier = new ChangeNotifier();
  private readonly apps = new Map<string, MarathonApp>();
  private readonly pods = new Map<string, MarathonPodStatus>();
  private readonly hosts = new Map<string, string>();
  private readonly log: NonNullable<MarathonRegistryOptions['log']>;
  private readonly abort = new AbortController();
  private readonly dirty = { apps: new Set<string>(), pods: new Set<string>(), either: new Set<string>(), all: false };
  private flushing: Promise<void> | undefined;
  private current: RegistryView = { services: [], endpoints: [], workloads: [] };
  private lastSkipped = new Set<string>();
  private state: RegistryStatus;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: MarathonRegistryOptions) {
    this.name = opts.name ?? 'marathon';
    this.client = new MarathonClient({ url: opts.url, ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}) });
    this.naming = { serviceLabel: opts.serviceLabel ?? 'istio', domains: opts.domains ?? DEFAULT_DOMAINS, mesosDomains: opts.mesosDomains ?? DEFAULT_MESOS_DOMAINS, source: this.name };
    this.log = opts.log ?? (() => {});
    this.state = { registry: this.name, target: this.client.url, healthy: false, error: 'not read yet' };
  }

  /** Reads everything once (errors are reported, not thrown: the control plane starts anyway) and follows the event stream. */
  async start(): Promise<void> {
    await this.fullRead().catch((err) => this.failed(err));
    this.loop = this.followEvents();
  }

  /** The current view (a fresh copy). */
  view(): RegistryView {
    return { services: [...this.current.services], endpoints: [...this.current.endpoints], workloads: [...this.current.workloads] };
  }

  /** Whether the last call to Marathon worked, and when the state was last read. */
  status(): RegistryStatus {
    return { ...this.state };
  }

  /** Subscribes to changes. */
  onChange(listener: () => void): () => void {
    return this.notifier.on(listener);
  }

  /** Stops following events. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => {});
    await this.flushing?.catch(() => {});
  }

  private failed(err: unknown): void {
    const msg = err instanceof MarathonError ? err.message : String((err as Error)?.message ?? err);
    if (this.state.error !== msg) this.log('warn', `registry ${this.name}: ${msg}; keeping the last known endpoints (${this.current.endpoints.length})`);
    this.state = { ...this.state, healthy: false, error: msg, errors: (this.state.errors ?? 0) + 1 };
  }

  private succeeded(): void {
    if (!this.state.healthy && this.state.error !== 'not read yet') this.log('info', `registry ${this.name}: ${this.client.url} answers again`);
    const { error: _e, ...rest } = this.state;
    this.state = { ...rest, healthy: true, lastSync: new Date().toISOString() };
  }

  private async fullRead(): Promise<void> {
    const [apps, pods] = await Promise.all([
      this.client.getJson<{ apps?: MarathonApp[] }>('/v2/apps?embed=apps.tasks'),
      this.client.getJson<MarathonPodStatus[]>('/v2/pods/::status'),
    ]);
    this.apps.clear();
    for (const a of apps?.apps ?? []) if (a && typeof a.id === 'string') this.apps.set(a.id, a);
    this.pods.clear();
    for (const p of Array.isArray(pods) ? pods : []) if (p && typeof p.id === 'string') this.pods.set(p.id, p);
    this.succeeded();
    await this.rebuild();
  }

  private async readApp(id: string): Promise<boolean> {
    const got = await this.client.getJson<{ app?: MarathonApp }>(`/v2/apps${encodePath(id)}?embed=app.tasks`);
    if (got?.app) this.apps.set(id, got.app);
    else this.apps.delete(id);
    return got?.app !== undefined;
  }

  private async readPod(id: string): Promise<boolean> {
    const got = await this.client.getJson<MarathonPodStatus>(`/v2/pods${encodePath(id)}::status`);
    if (got && typeof got.id === 'string') this.pods.set(id, got);
    else this.pods.delete(id);
    return got !== undefined;
  }

  private invalidate(e: MarathonEvent): void {
    const s = staleIds(e);
    if (s.all) this.dirty.all = true;
    for (const id of s.apps) this.dirty.apps.add(id);
    for (const id of s.pods) this.dirty.pods.add(id);
    for (const id of s.either) this.dirty.either.add(id);
    if (s.all || s.apps.length + s.pods.length + s.either.length > 0) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      try {
        // Re-read until no invalidation arrived meanwhile: every answer is at least as new as the event that asked for it.
        while (this.dirty.all || this.dirty.apps.size + this.dirty.pods.size + this.dirty.either.size > 0) {
          if (this.dirty.all) {
            this.dirty.all = false;
            this.dirty.apps.clear(); this.dirty.pods.clear(); this.dirty.either.clear();
            await this.fullRead();
            continue;
          }
          const apps = [...this.dirty.apps]; const pods = [...this.dirty.pods]; const either = [...this.dirty.either];
          this.dirty.apps.clear(); this.dirty.pods.clear(); this.dirty.either.clear();
          await Promise.all([
            ...apps.map((id) => this.readApp(id)),
            ...pods.map((id) => this.readPod(id)),
            ...either.map(async (id) => {
              if (this.pods.has(id)) return void (await this.readPod(id));
              if (!(await this.readApp(id))) await this.readPod(id);
            }),
          ]);
          this.succeeded();
          await this.rebuild();
        }
      } catch (err) {
        this.failed(err);
        this.dirty.all = true; // read everything once the stream is back
      } finally {
        this.flushing = undefined;
      }
    })();
  }

  private async followEvents(): Promise<void> {
    const { min, max } = this.opts.backoffMs ?? { min: 200, max: 10_000 };
    const sleep = this.opts.sleep ?? ((ms: number, signal: AbortSignal) => new Promise<void>((r) => { const t = setTimeout(r, ms); signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true }); }));
    let delay = min;
    while (!this.abort.signal.aborted) {
      try {
        await this.client.events(this.abort.signal, () => {
          delay = min;
          // Anything that changed between the last read and this stream (also the first one: start() read before
          // the stream was open, and an event in between is lost) is caught by one full read.
          this.dirty.all = true;
          this.scheduleFlush();
        }, (e) => this.invalidate(e));
        if (this.abort.signal.aborted) return;
        this.log('warn', `registry ${this.name}: the event stream from ${this.client.url} ended; reconnecting`);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.failed(err);
      }
      await sleep(delay, this.abort.signal);
      delay = Math.min(delay * 2, max);
    }
  }

  private async resolveHosts(): Promise<void> {
    const names = new Set<string>();
    for (const a of this.apps.values()) for (const t of a.tasks ?? []) if (t.host && !isIP(t.host)) names.add(t.host);
    for (const p of this.pods.values()) for (const i of p.instances ?? []) if (i.agentHostname && !isIP(i.agentHostname)) names.add(i.agentHostname);
    await Promise.all([...names].filter((n) => !this.hosts.has(n)).map(async (n) => {
      try {
        this.hosts.set(n, (await lookup(n)).address);
      } catch {
        this.log('warn', `registry ${this.name}: agent host ${n} does not resolve; its endpoints are left out until it does`);
      }
    }));
  }

  private async rebuild(): Promise<void> {
    await this.resolveHosts();
    const b = new ViewBuilder(this.naming, (h) => (h === undefined ? undefined : isIP(h) ? h : this.hosts.get(h)));
    for (const a of [...this.apps.values()].sort((x, y) => x.id.localeCompare(y.id))) b.addApp(a);
    for (const p of [...this.pods.values()].sort((x, y) => x.id.localeCompare(y.id))) b.addPod(p);
    for (const c of b.conflicts) this.log('warn', `registry ${this.name}: ${c}`);
    const skipped = new Set(b.skipped);
    for (const s of skipped) if (!this.lastSkipped.has(s)) this.log('debug', `registry ${this.name}: not in the mesh: ${s}`);
    this.lastSkipped = skipped;
    const next = b.view();
    if (JSON.stringify(next) === JSON.stringify(this.current)) return;
    this.current = next;
    this.notifier.emit();
  }
}

/** `/bookinfo/reviews` as a URL path (each segment encoded). */
function encodePath(id: string): string {
  return id.split('/').map((s) => encodeURIComponent(s)).join('/');
}
