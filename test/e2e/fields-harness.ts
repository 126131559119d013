// A mesh in one test process for the Istio-field tests: Istio YAML is parsed and validated as
// `bowline apply` does, the control plane's generators turn it into one sidecar's proxy config,
// and a real Bowline proxy runs that config on real sockets in front of small node:http
// workloads (port 0). YAML -> generator -> proxy decision, with nothing stubbed in between.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { defaultMeshConfig, normalize, parseAndValidate, type MeshConfig } from '../../src/api/index.js';
import type { Resource } from '../../src/api/types/meta.js';
import { buildSnapshot, type MeshSnapshot } from '../../src/model/snapshot.js';
import { generateProxyConfig, type ProxyInfo } from '../../src/push/generators/index.js';
import { announcementsView, type Announcement } from '../../src/registry/universal/universal.js';
import { serviceEntryView } from '../../src/registry/serviceentry/serviceentry.js';
import type { ProxyConfig } from '../../src/proxy-config/types.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import type { RequestRecord } from '../../src/proxy/record.js';

/** A workload instance: answers JSON with its name (or `status`); `hold` keeps requests until released. */
export interface Workload {
  name: string;
  port: number;
  server: Server;
  status: number;
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  /** While set, requests wait until `release()` is called. */
  hold: boolean;
  held: Array<() => void>;
  release(): void;
}

/** Starts a workload on 127.0.0.1, port 0. */
export async function workload(name: string): Promise<Workload> {
  const w: Workload = { name, port: 0, server: undefined as unknown as Server, status: 200, seen: [], hold: false, held: [], release() { for (const f of w.held.splice(0)) f(); } };
  w.server = createServer((req, res) => {
    w.seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    req.resume();
    req.on('end', () => {
      const status = w.status;
      const reply = (): void => {
        res.statusCode = status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name, url: req.url }));
      };
      if (w.hold) w.held.push(reply); else reply();
    });
  });
  await new Promise<void>((r) => w.server.listen(0, '127.0.0.1', r));
  w.port = (w.server.address() as { port: number }).port;
  return w;
}

/** Stops workloads. */
export async function stopWorkloads(ws: Iterable<Workload>): Promise<void> {
  for (const w of ws) { w.release(); w.server.closeAllConnections(); await new Promise((r) => w.server.close(r)); }
}

/** Parses Istio YAML as `bowline apply` would; throws on any validation error. */
export function yamlResources(text: string): Resource[] {
  const { documents, violations } = parseAndValidate(text, { file: 'test.yaml' });
  const errors = violations.filter((v) => v.code.startsWith('BOWLINE_E_'));
  if (errors.length) throw new Error(errors.map((v) => `${v.code} ${v.message}`).join('\n'));
  return documents.filter((d) => d.resource).map((d) => normalize(d.resource!));
}

/** One service instance: workload `w` serves `service` on `port` (HTTP unless said otherwise). */
export interface Instance {
  w: Workload;
  service: string;
  port?: number;
  protocol?: string;
  labels?: Record<string, string>;
  namespace?: string;
  locality?: string;
}

/** The announcement of one instance: the endpoint is the workload's own socket (no peer sidecar, plaintext). */
export function announce(i: Instance): Announcement {
  const port = i.port ?? 9080;
  const a: Announcement = {
    name: i.w.name, namespace: i.namespace ?? 'default', serviceAccount: i.service, labels: { app: i.service, ...i.labels },
    address: '127.0.0.1', services: [{ service: i.service, port, protocol: i.protocol ?? 'HTTP' }], portMap: { [String(port)]: i.w.port }, tlsMode: 'disabled',
  };
  if (i.locality) a.locality = i.locality;
  return a;
}

/** The client sidecar the tests send through (app `sleep`, namespace default, no services of its own). */
export const SLEEP: ProxyInfo = {
  node: { id: 'sleep-1.default', role: 'sidecar', workload: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: { app: 'sleep', version: 'v1' } },
  workload: { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: { app: 'sleep', version: 'v1' }, address: '127.0.0.1', services: [], outboundPort: 15001, tlsMode: 'disabled' },
};

/** A sidecar like SLEEP that runs in `locality` (`bowline proxy --locality`). */
export function sleepAt(locality: string): ProxyInfo {
  return { node: { ...SLEEP.node, locality }, workload: { ...SLEEP.workload!, locality } };
}

/** The mesh as the generators see it: the announced instances plus the ServiceEntries (and the WorkloadEntries they select) in `configs`. */
export function snapshot(instances: Instance[], configs: Resource[], mesh: MeshConfig = defaultMeshConfig()): MeshSnapshot {
  const view = announcementsView(instances.map((i, n) => ({ proxyId: `${i.w.name}-${n}`, announcement: announce(i) })));
  const se = serviceEntryView(configs.filter((r) => r.kind === 'ServiceEntry'), configs.filter((r) => r.kind === 'WorkloadEntry'));
  return buildSnapshot({ configs, services: [...view.services, ...se.services], endpoints: [...view.endpoints, ...se.endpoints], workloads: [...view.workloads, ...se.workloads], mesh });
}

/** The generated config with listener ports moved to 0 (kernel-chosen). */
export function generated(snap: MeshSnapshot, proxy: ProxyInfo = SLEEP): ProxyConfig {
  const cfg = generateProxyConfig(snap, proxy);
  cfg.listeners = cfg.listeners.map((l) => ({ ...l, port: 0 }));
  return cfg;
}

/** A running sidecar fed by the generators, with every request record kept. */
export class Sidecar {
  readonly records: RequestRecord[] = [];
  proxy!: RunningProxy;

  /** Starts the proxy on the config generated from `instances` and `yaml`. */
  async start(instances: Instance[], yaml: string, opts: { proxy?: ProxyInfo; random?: () => number; now?: () => number; mesh?: MeshConfig } = {}): Promise<ProxyConfig> {
    const cfg = generated(snapshot(instances, yamlResources(yaml), opts.mesh), opts.proxy);
    this.proxy = await startProxy({
      config: cfg, admin: false, log: () => {}, hooks: { onRequestComplete: (r) => { this.records.push({ ...r }); } },
      ...(opts.random ? { random: opts.random } : {}), ...(opts.now ? { now: opts.now } : {}),
    });
    return cfg;
  }

  /** Applies the config generated from new inputs (a push). */
  async apply(instances: Instance[], yaml: string, opts: { proxy?: ProxyInfo; mesh?: MeshConfig } = {}): Promise<ProxyConfig> {
    const cfg = generated(snapshot(instances, yamlResources(yaml), opts.mesh), opts.proxy);
    await this.proxy.applyConfig(cfg);
    return cfg;
  }

  /** The outbound listener's port (HTTP_PROXY). */
  get port(): number {
    return this.proxy.ports.listeners.outbound!;
  }

  async close(): Promise<void> {
    await this.proxy?.close();
  }
}

/** A response as a client sees it. */
export interface Reply { status: number; headers: IncomingHttpHeaders; body: string; json: any }

/** Sends an HTTP/1.1 request through the sidecar as an app using HTTP_PROXY would (absolute-form target), or,
 *  for `inbound:HOST/PATH`, as a peer sends to an inbound listener (origin-form, Host HOST). */
export function send(port: number, url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const inbound = url.startsWith('inbound:');
  const u = new URL(inbound ? `http://${url.slice('inbound:'.length)}` : url);
  const path = inbound ? u.pathname + u.search : url;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: u.host, ...opts.headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        let json: any;
        try { json = JSON.parse(body); } catch { /* not JSON */ }
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The reviews service most field tests route to: workloads reviews-v1 and reviews-v2 (labels version v1, v2). */
export interface Reviews {
  v1: Workload;
  v2: Workload;
  /** Both instances of reviews, as `Sidecar.start` takes them. */
  mesh: Instance[];
}

/** Starts a sidecar on the reviews mesh for the running test (closed after it). */
export type ReviewsSidecar = (yaml: string, opts?: Parameters<Sidecar['start']>[2]) => Promise<Sidecar>;

/**
 * The reviews service for one test file: its workloads start before the file's tests (handed to
 * `use`) and stop after them. After each test, the sidecars started with the returned function (and
 * still in `sidecars`: a test may close some itself, taking them out) are closed and the workloads
 * reset: status 200, nothing held, nothing seen.
 */
export function reviewsForFile(use: (r: Reviews) => void): { sidecar: ReviewsSidecar; sidecars: Sidecar[] } {
  let r: Reviews | undefined;
  const sidecars: Sidecar[] = [];
  beforeAll(async () => {
    const v1 = await workload('reviews-v1');
    const v2 = await workload('reviews-v2');
    r = { v1, v2, mesh: [{ w: v1, service: 'reviews', labels: { version: 'v1' } }, { w: v2, service: 'reviews', labels: { version: 'v2' } }] };
    use(r);
  });
  afterEach(async () => {
    for (const s of sidecars.splice(0)) await s.close();
    for (const w of r ? [r.v1, r.v2] : []) { w.status = 200; w.hold = false; w.release(); w.seen.length = 0; }
  });
  afterAll(async () => {
    if (r) await stopWorkloads([r.v1, r.v2]);
  });
  const sidecar: ReviewsSidecar = async (yaml, opts = {}) => {
    const s = new Sidecar();
    sidecars.push(s);
    await s.start(r!.mesh, yaml, opts);
    return s;
  };
  return { sidecar, sidecars };
}
