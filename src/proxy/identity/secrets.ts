/**
 * Fills the workload secrets of a pushed config (`default`, `ROOTCA`: placeholders from the
 * control plane, src/proxy-config/workload-secrets.ts) from the proxy's live credentials, before
 * the config is compiled. Without credentials (a proxy started without a token) mTLS cannot
 * work, and the config is narrowed so it still applies and fails closed:
 *  - inbound TLS chains that need the workload certificate are dropped (a PERMISSIVE port serves
 *    plaintext only; a STRICT port refuses every connection, logged); the dropped chains are returned beside the
 *    config (`withoutIdentity`, by listener name) so that a connection one of them would have taken is refused for that reason
 *    (`mtlsNoWorkloadCertificate`, as Envoy's downstream_context_secrets_not_ready), not as matching no chain;
 *  - auto-mTLS clusters (`tls.auto`) connect in plaintext, as auto-mTLS would toward a peer without a proxy;
 *  - clusters a DestinationRule set to ISTIO_MUTUAL lose their endpoints (503 UH), never a silent downgrade.
 */
import type { FilterChain, ProxyConfig, Secret } from '../../proxy-config/types.js';
import { isWorkloadSecret, ROOT_CA_SECRET, WORKLOAD_CERT_SECRET } from '../../proxy-config/workload-secrets.js';
import type { WorkloadCredentials } from './credentials.js';

/** What a proxy runs: the config with its workload secrets filled or narrowed, and the chains the narrowing dropped. */
export interface RunningForm {
  config: ProxyConfig;
  /** The mTLS filter chains dropped for lack of a workload certificate, by listener name; empty with credentials. */
  withoutIdentity: ReadonlyMap<string, readonly FilterChain[]>;
}

const NONE_DROPPED: ReadonlyMap<string, readonly FilterChain[]> = new Map();

/** Where a proxy's workload credentials come from (LiveCredentials satisfies it). */
export interface WorkloadIdentitySource {
  current(): WorkloadCredentials | undefined;
  onUpdate(fn: (c: WorkloadCredentials) => void): () => void;
}

function fill(s: Secret, c: WorkloadCredentials): Secret {
  if (!isWorkloadSecret(s)) return s;
  if (s.kind === 'validation') return { name: s.name, kind: s.kind, trustedCa: c.trustBundlePem };
  return { name: s.name, kind: s.kind, certificateChain: c.chainPem, privateKey: c.keyPem };
}

/** The config the proxy compiles: workload secrets filled, or mTLS parts narrowed when there are no credentials. */
export function resolveWorkloadSecrets(cfg: ProxyConfig, creds: WorkloadCredentials | undefined, log?: (key: string, msg: string) => void): RunningForm {
  if (!cfg.secrets.some(isWorkloadSecret)) return { config: cfg, withoutIdentity: NONE_DROPPED };
  if (creds) return { config: { ...cfg, secrets: cfg.secrets.map((s) => fill(s, creds)) }, withoutIdentity: NONE_DROPPED };
  const dropped = new Map<string, readonly FilterChain[]>();
  const workload = new Set(cfg.secrets.filter(isWorkloadSecret).map((s) => s.name));
  const uses = (name: string | undefined) => name !== undefined && workload.has(name);
  const listeners = cfg.listeners.map((l) => {
    const chains = l.filterChains.filter((fc) => !(fc.tls && (uses(fc.tls.certificateSecret) || uses(fc.tls.validationSecret))));
    if (chains.length === l.filterChains.length) return l;
    if (chains.length === 0) log?.(`no-identity:${l.name}`, `listener ${l.name} requires mTLS (STRICT) but this proxy has no workload certificate (start it with --token-file): every connection is refused (BOWLINE_E_IDENTITY_NO_CERTIFICATE)`);
    dropped.set(l.name, l.filterChains.filter((fc) => !chains.includes(fc)));
    return { ...l, filterChains: chains };
  });
  const emptied = new Set<string>();
  const clusters = cfg.clusters.map((c) => {
    const t = c.tls;
    if (!t || !(uses(t.certificateSecret) || uses(t.validationSecret))) return c;
    const { tls: _t, ...rest } = c;
    if (!t.auto) {
      emptied.add(c.name);
      log?.(`no-identity:${c.name}`, `cluster ${c.name} requires ${t.mode} but this proxy has no workload certificate (start it with --token-file): requests get 503 UH (BOWLINE_E_IDENTITY_NO_CERTIFICATE)`);
    }
    return rest;
  });
  const endpoints = emptied.size ? cfg.endpoints.map((e) => (emptied.has(e.cluster) ? { cluster: e.cluster, endpoints: [] } : e)) : cfg.endpoints;
  return { config: { ...cfg, listeners, clusters, endpoints, secrets: cfg.secrets.filter((s) => !workload.has(s.name)) }, withoutIdentity: dropped };
}

/** What the admin page shows of the credentials in use: identity, validity, roots; never the key. */
export function describeCredentials(c: WorkloadCredentials | undefined): unknown {
  if (!c) return { certificate: null, reason: 'no workload certificate yet (waiting for the control plane)' };
  const roots = c.trustBundlePem.split('-----BEGIN CERTIFICATE-----').length - 1;
  return { spiffeId: c.spiffeId, notBefore: new Date(c.notBefore).toISOString(), notAfter: new Date(c.notAfter).toISOString(), trustedRoots: roots, certificateChain: c.chainPem };
}

/** The names of the workload secrets, for callers that report them. */
export const WORKLOAD_SECRET_NAMES: readonly string[] = [WORKLOAD_CERT_SECRET, ROOT_CA_SECRET];
