import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { CertificateAuthority } from './authority.js';
import { caHttpHandlers } from './http.js';
import { loadKek } from './kek.js';
import type { CaStorage } from './storage.js';
import { Registry } from '../telemetry/metrics/registry.js';
import type { Store } from '../store/index.js';
import { followCacertsSecret } from './cacerts-secret.js';

/**
 * The CA as a control-plane plugin (src/control/plugins.ts `ControlPlanePlugin`, typed here by
 * shape because src/ca does not import src/control). Started by `bowline up` once listed in
 * `builtinPlugins`: opens the CA at start (a wrong KEK stops start-up), mounts the CA API on the
 * API listener, and exports counters. Other plugins (push) get the instance with `caOf(cp)`.
 *
 * Configuration, in order: `cp.options.caKekFile` / env BOWLINE_CA_KEK_FILE / env BOWLINE_CA_KEK /
 * HOME/ca-kek (generated); the `cacerts` Secret in the root namespace (wins, followed live), else
 * `cp.options.caCertsDir` / env BOWLINE_CA_CERTS_DIR / HOME/cacerts when it holds ca-cert.pem; trust domain from `cp.options.trustDomain`, the mesh config, or cluster.local;
 * workload lifetime from env BOWLINE_CA_WORKLOAD_TTL_MS (default 24 h).
 */

/** The parts of the control plane the CA plugin uses. */
export interface CaHost {
  store: CaStorage & { countKeys?(): Promise<number> } & Partial<Pick<Store, 'get' | 'watch'>>;
  meshConfig?: { trustDomain?: string };
  options: { home: string; trustDomain?: string; caKekFile?: string; caCertsDir?: string; caNewRoot?: boolean; rootNamespace?: string };
  onShutdown?(fn: () => void): void;
  addHandler(prefix: string, handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>): void;
  metrics?: { addRegistry?(r: Registry): void };
  log(line: string): void;
}

const instances = new WeakMap<object, CertificateAuthority>();

/** The CA a control plane started (for the push plugin: CSRs over the stream, the 15012 serving certificate). */
export function caOf(cp: object): CertificateAuthority | undefined {
  return instances.get(cp);
}

/** The CA's counters as families on a telemetry Registry (the project's one Prometheus renderer), refreshed per scrape. */
export function caMetrics(ca: CertificateAuthority): Registry {
  const r = new Registry();
  const issued = r.counter({ name: 'bowline_ca_certificates_issued_total', help: 'Workload certificates signed.' }).labels();
  const refused = r.counter({ name: 'bowline_ca_requests_refused_total', help: 'Certificate and token requests refused, by error code.', labelNames: ['code'] });
  r.onCollect(() => {
    issued.value = ca.counters.issued;
    for (const [code, n] of ca.counters.refused) refused.labels(code).value = n;
  });
  return r;
}

/** The plugin object; `start` rejects (stopping `bowline up`) when the CA cannot be opened. */
export const plugin = {
  name: 'ca',
  async start(cp: CaHost): Promise<void> {
    const env = process.env;
    const kekFile = cp.options.caKekFile ?? env.BOWLINE_CA_KEK_FILE;
    const kek = loadKek({ ...(kekFile ? { kekFile } : {}), env, home: cp.options.home });
    const homeCacerts = join(cp.options.home, 'cacerts');
    const cacertsDir = cp.options.caCertsDir ?? env.BOWLINE_CA_CERTS_DIR ?? (existsSync(join(homeCacerts, 'ca-cert.pem')) ? homeCacerts : undefined);
    const ttl = Number(env.BOWLINE_CA_WORKLOAD_TTL_MS);
    const ca = await CertificateAuthority.open({
      storage: cp.store, kek,
      trustDomain: cp.options.trustDomain ?? cp.meshConfig?.trustDomain ?? 'cluster.local',
      ...(cacertsDir ? { cacertsDir } : {}),
      ...(ttl > 0 ? { workloadLifetimeMs: ttl } : {}),
      allowNewRoot: cp.options.caNewRoot === true,
      ...(cp.store.countKeys ? { storeHasData: async () => (await cp.store.countKeys!()) > 0 } : {}),
    });
    instances.set(cp, ca);
    if (cp.store.get && cp.store.watch) {
      const follow = await followCacertsSecret({ store: { get: cp.store.get.bind(cp.store), watch: cp.store.watch.bind(cp.store) }, kek, namespace: cp.options.rootNamespace ?? 'istio-system', ca, log: (l) => cp.log(l) });
      cp.onShutdown?.(() => follow.close());
    }
    // The API listener's own auth (loopback, else the admin token) already guards every path here.
    const api = caHttpHandlers(ca, { isAdmin: () => true });
    const handler = async (req: IncomingMessage, res: ServerResponse) => {
      if (!(await api.handle(req, res))) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'BOWLINE_E_CA_BAD_REQUEST', message: `no CA endpoint ${req.method} ${req.url}` } }));
    };
    cp.addHandler('/v1/tokens', handler);
    cp.addHandler('/v1/ca/', handler);
    cp.metrics?.addRegistry?.(caMetrics(ca));
    cp.log(`ca: ${ca.source === 'cacerts-secret' ? `signing with Secret ${cp.options.rootNamespace ?? 'istio-system'}/cacerts` : ca.mode === 'cacerts' ? `signing with ${cacertsDir}` : 'root in the store'}, trust domain ${ca.trustDomain}, key-encryption key from ${kek.source}`);
  },
};
