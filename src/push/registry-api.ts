/**
 * The multi-cluster API on the control plane's listener: `GET /v1/registry` serves this control
 * plane's own registry view to the other clusters' control planes (registry-read token;
 * `?after=VERSION&timeoutSeconds=N` holds the answer until the view differs from VERSION, at most
 * N seconds, default 20, at most 60), and `GET /v1/clusters` lists the remote clusters this one
 * reads with their state (`bowline cluster list`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from '../registry/registry.js';
import type { RemoteClusters } from '../registry/remote/clusters.js';
import { REGISTRY_VIEW_PATH, serveView, type ServedRegistryView } from '../registry/remote/view.js';

/** The path of the remote clusters list. */
export const CLUSTERS_PATH = '/v1/clusters';

/** What the multi-cluster API reads. */
export interface RegistryApiDeps {
  /** This control plane's own registries (never the remote clusters, nor ServiceEntries: config stays per cluster). */
  local: Pick<Registry, 'view' | 'onChange'>;
  topology: { cluster: string; network: string };
  /** The roots this mesh's workloads trust (PEM; empty without a CA). */
  roots: () => string;
  /** This control plane's mesh id (peers refuse another one). */
  meshId: () => string;
  clusters: RemoteClusters;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
}

function failure(res: ServerResponse, status: number, reason: string, message: string): void {
  send(res, status, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, reason, message });
}

/** The handler of /v1/registry and /v1/clusters. */
export function registryApiHandler(deps: RegistryApiDeps): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const current = (): ServedRegistryView => serveView(deps.local.view(), deps.topology, deps.roots(), deps.meshId());
  return async (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== REGISTRY_VIEW_PATH && path !== CLUSTERS_PATH) return failure(res, 404, 'NotFound', `no such path ${url.pathname}`);
    if (req.method !== 'GET') return failure(res, 405, 'MethodNotAllowed', `only GET ${path}`);
    if (path === CLUSTERS_PATH) return send(res, 200, { kind: 'ClusterList', items: deps.clusters.list() });
    const after = url.searchParams.get('after');
    const t = url.searchParams.get('timeoutSeconds');
    const seconds = t === null ? 20 : Number(t);
    if (!Number.isInteger(seconds) || seconds < 0) return failure(res, 400, 'BadRequest', `timeoutSeconds must be a whole number of seconds, got "${t}"`);
    let view = current();
    if (after !== null && after === view.version && seconds > 0) {
      view = await new Promise<ServedRegistryView>((resolve) => {
        const done = () => { unsub(); clearTimeout(timer); res.off('close', done); resolve(current()); };
        const unsub = deps.local.onChange(() => { if (current().version !== after) done(); });
        const timer = setTimeout(done, Math.min(seconds, 60) * 1000);
        res.once('close', done);
      });
      if (res.destroyed) return;
    }
    send(res, 200, view);
  };
}
