/**
 * Debug endpoints of the push side, mounted on the control plane's API listener:
 * /debug/syncz (every proxy's sync state), /debug/config_dump?proxy=ID (the config it gets and
 * the facts known of its workload certificate),
 * /debug/registryz (services, endpoints, workloads), /debug/configz (config by kind, mesh config),
 * /debug/statsz?periodMs=N[&service=S][&workload=W][&namespace=NS] (the traffic the proxies connected here
 * reported: raw counts and latency buckets per slot, what a peer replica adds to its own),
 * and /registry/v1/manual (POST / DELETE: what `bowline register` calls).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kind } from '../api/types/meta.js';
import type { RegistryStatus } from '../registry/registry.js';
import { parsePorts, registerManual, unregisterManual, type ManualRegistration } from '../registry/manual/manual.js';
import { isStoreError, type Store } from '../store/store.js';
import type { MeshController } from '../mesh/controller.js';
import type { PushServer } from './server/server.js';
import type { EdgeFilter } from './server/stats-window.js';

/** What the debug handlers read. */
export interface DebugDeps {
  server: PushServer;
  controller: MeshController;
  store?: Store;
  /** Health of registries that read remote systems (Marathon ...), shown by /debug/registryz. */
  registries?: () => RegistryStatus[];
  /** This control-plane replica's id: set, syncz and config_dump name it on each proxy (`replica`). */
  replica?: string;
  now?: () => number;
}

const KINDS: Kind[] = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'];

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2) + '\n');
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, reason: code, message });
}

// Same idea as src/control/admission.ts readBody and src/ca/http.ts readJson: push may import
// neither control nor the CA's HTTP layer (eslint.config.js), and 8 lines do not earn a shared module.
async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > 1 << 20) throw new Error('body larger than 1 MiB');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

/** Finds a proxy by exact id, or by a unique prefix (`productpage` matches `productpage-v1.default`). */
export function findProxy(ids: string[], q: string): string | undefined {
  if (ids.includes(q)) return q;
  const hits = ids.filter((id) => id.startsWith(q));
  return hits.length === 1 ? hits[0] : undefined;
}

/** statsz's `periodMs` (default 5 minutes, at most the window), or why it is not one. */
export function statszPeriod(url: URL, windowMs: number): number | string {
  const v = url.searchParams.get('periodMs');
  if (v === null) return Math.min(5 * 60_000, windowMs);
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1000 || n > windowMs) return `periodMs must be a whole number of milliseconds from 1000 to ${windowMs} (the traffic window), not ${JSON.stringify(v)}`;
  return n;
}

/** statsz's edge filter (service, workload, namespace) from the query. */
export function statszFilter(url: URL): EdgeFilter {
  const f: EdgeFilter = {};
  for (const k of ['service', 'workload', 'namespace'] as const) {
    const v = url.searchParams.get(k);
    if (v !== null && v !== '') f[k] = v;
  }
  return f;
}

/** Returns a handler answering the debug paths; it returns false for paths it does not own. */
export function pushDebugHandlers(deps: DebugDeps): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  const now = deps.now ?? Date.now;
  return async (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, '');
    const snap = deps.controller.current();
    switch (path) {
      case '/debug/syncz': {
        const replica = deps.replica !== undefined ? { replica: deps.replica } : {};
        // `certificate`: what this replica knows of each proxy's workload certificate (a replica asked for every
        // replica's proxies, e.g. the dashboard's Security page, has no other way to learn it).
        json(res, 200, { now: now(), snapshotVersion: snap.version, ...replica, proxies: deps.server.statusWithCertificates().map((s) => ({ ...s, ...replica })) });
        return true;
      }
      case '/debug/config_dump': {
        const q = url.searchParams.get('proxy') ?? '';
        const id = findProxy(deps.server.status().map((s) => s.id), q);
        if (!id) {
          fail(res, 404, 'BOWLINE_E_PUSH_UNKNOWN_PROXY', `no connected proxy "${q}" (or the prefix is ambiguous): see /debug/syncz`);
          return true;
        }
        // `certificate`: what the control plane knows of the proxy's workload certificate (no key), what explain reads of it.
        json(res, 200, { proxy: id, ...(deps.replica !== undefined ? { replica: deps.replica } : {}), status: deps.server.status().find((s) => s.id === id), certificate: deps.server.identityOf(id), config: deps.server.configDump(id) });
        return true;
      }
      case '/debug/statsz': {
        const period = statszPeriod(url, deps.server.stats.windowMs);
        if (typeof period === 'string') {
          fail(res, 400, 'BOWLINE_E_DEBUG_QUERY', period);
          return true;
        }
        const filter = statszFilter(url);
        const body = { now: now(), ...(deps.replica !== undefined ? { replica: deps.replica } : {}), periodMs: period, window: deps.server.stats.export(period, filter) };
        // ?local=1 is what a peer replica reads (every slot's every edge): without the indentation, a third of the bytes.
        const local = url.searchParams.get('local');
        if (local === '1' || local === 'true') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
        else json(res, 200, body);
        return true;
      }
      case '/debug/registryz':
        json(res, 200, { registries: deps.registries?.() ?? [], services: snap.services, endpoints: Object.fromEntries(snap.endpointsByService), workloads: snap.workloads });
        return true;
      case '/debug/configz':
        json(res, 200, { snapshotVersion: snap.version, mesh: snap.mesh, domains: snap.domains, configs: Object.fromEntries(KINDS.map((k) => [k, snap.configs(k)])), lastBuildMs: deps.controller.lastBuildMs, builds: deps.controller.builds });
        return true;
      case '/registry/v1/manual': {
        if (!deps.store) return false;
        try {
          if (req.method === 'POST') {
            const r = (await body(req)) as ManualRegistration;
            if (typeof r.service !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(r.service)) throw new Error('service must be a DNS label');
            if (typeof r.address !== 'string' || !r.address) throw new Error('address is required');
            if (r.namespace !== undefined && (typeof r.namespace !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(r.namespace))) throw new Error('namespace must be a DNS label');
            if (r.labels !== undefined && (typeof r.labels !== 'object' || r.labels === null || Array.isArray(r.labels) || Object.values(r.labels).some((v) => typeof v !== 'string'))) throw new Error('labels must be a map of strings');
            const ports = Array.isArray(r.ports) ? r.ports : [];
            parsePorts(ports.map((p) => `${p.name}:${p.port}`));
            const reg: ManualRegistration = { service: r.service, namespace: r.namespace || 'default', address: r.address, ports, ...(r.labels ? { labels: r.labels } : {}) };
            await registerManual(deps.store, reg);
            json(res, 201, reg);
          } else if (req.method === 'DELETE') {
            const ok = await unregisterManual(deps.store, { namespace: url.searchParams.get('namespace') || 'default', service: url.searchParams.get('service') ?? '', address: url.searchParams.get('address') ?? '' });
            if (ok) json(res, 200, { deleted: true });
            else fail(res, 404, 'BOWLINE_E_REGISTRY_NOT_FOUND', 'no such manual registration');
          } else fail(res, 405, 'MethodNotAllowed', 'use POST or DELETE');
        } catch (err) {
          // The store's own failures (etcd down ...) are not the caller's mistake: 503 with the store's code.
          if (isStoreError(err)) fail(res, isStoreError(err, 'Unavailable') ? 503 : 500, err.code, `registration not stored: ${err.message}`);
          else fail(res, 400, 'BOWLINE_E_REGISTRY_INVALID', (err as Error).message);
        }
        return true;
      }
      default:
        return false;
    }
  };
}
