import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { CertificateAuthority } from './authority.js';
import { caHttpHandlers } from './http.js';
import type { Kek } from './kek.js';
import type { WorkloadIdentity } from './spiffe.js';
import type { CaStorage } from './storage.js';
import { Registry } from '../telemetry/metrics/registry.js';
import type { Store } from '../store/index.js';
import { followCacertsSecret } from './cacerts-secret.js';

/**
 * Opening the control plane's CA (step 4 of src/control/control-plane.ts): a wrong KEK stops
 * start-up. Settings, in order: the `cacerts` Secret in the root namespace (wins, followed live),
 * else `cacertsDir` / env BOWLINE_CA_CERTS_DIR / HOME/cacerts when it holds ca-cert.pem, else the
 * root in the store; workload lifetime from env BOWLINE_CA_WORKLOAD_TTL_MS (default 24 h).
 */

/** What the CA is opened with. */
export interface CaSettings {
  store: CaStorage & { countKeys?(): Promise<number> } & Partial<Pick<Store, 'get' | 'watch'>>;
  /** The key-encryption key (the control plane loads it once: src/ca/kek.ts loadKek). */
  kek: Kek;
  home: string;
  trustDomain: string;
  cacertsDir?: string;
  /** Let the CA generate a new root although the store already holds data but no CA state. */
  newRoot?: boolean;
  /** Where the `cacerts` Secret is followed (default istio-system). */
  rootNamespace?: string;
  /** Verifies platform tokens (CaOptions.reviewToken): Kubernetes service-account tokens by TokenReview. */
  reviewToken?: (token: string) => Promise<WorkloadIdentity>;
  env?: NodeJS.ProcessEnv;
  log(line: string): void;
}

/** The opened CA and what stops following its `cacerts` Secret. */
export interface RunningCa {
  ca: CertificateAuthority;
  stop(): void;
}

/** Opens the CA; rejects when it cannot be opened (wrong KEK, a new root the store refuses ...). */
export async function startCa(s: CaSettings): Promise<RunningCa> {
  const env = s.env ?? process.env;
  const homeCacerts = join(s.home, 'cacerts');
  const cacertsDir = s.cacertsDir ?? env.BOWLINE_CA_CERTS_DIR ?? (existsSync(join(homeCacerts, 'ca-cert.pem')) ? homeCacerts : undefined);
  const ttl = Number(env.BOWLINE_CA_WORKLOAD_TTL_MS);
  const ca = await CertificateAuthority.open({
    storage: s.store, kek: s.kek,
    trustDomain: s.trustDomain,
    ...(cacertsDir ? { cacertsDir } : {}),
    ...(ttl > 0 ? { workloadLifetimeMs: ttl } : {}),
    allowNewRoot: s.newRoot === true,
    ...(s.reviewToken ? { reviewToken: s.reviewToken } : {}),
    ...(s.store.countKeys ? { storeHasData: async () => (await s.store.countKeys!()) > 0 } : {}),
  });
  const namespace = s.rootNamespace ?? 'istio-system';
  let stop = () => {};
  if (s.store.get && s.store.watch) {
    const follow = await followCacertsSecret({ store: { get: s.store.get.bind(s.store), watch: s.store.watch.bind(s.store) }, kek: s.kek, namespace, ca, log: (l) => s.log(l) });
    stop = () => follow.close();
  }
  s.log(`ca: ${ca.source === 'cacerts-secret' ? `signing with Secret ${namespace}/cacerts` : ca.mode === 'cacerts' ? `signing with ${cacertsDir}` : 'root in the store'}, trust domain ${ca.trustDomain}, key-encryption key from ${s.kek.source}`);
  return { ca, stop };
}

/** The handler of /v1/tokens and /v1/ca/ on the API listener (whose own auth already guards them). */
export function caApiHandler(ca: CertificateAuthority): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const api = caHttpHandlers(ca, { isAdmin: () => true });
  return async (req, res) => {
    if (!(await api.handle(req, res))) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'BOWLINE_E_CA_BAD_REQUEST', message: `no CA endpoint ${req.method} ${req.url}` } }));
  };
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
