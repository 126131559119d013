/**
 * Finding the workload `bowline explain --from WORKLOAD[.NS]` names, and the proxy configuration
 * to evaluate for it: the connected proxy's (what the push server gives it now), else the one the
 * generators would give a sidecar of that workload.
 */
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyConfig } from '../../proxy-config/types.js';
import type { WorkloadAnnouncement } from '../../proxy-config/wire.js';
import { resolveWorkloadSecrets, type RunningForm } from '../../proxy/identity/secrets.js';
import { classifyTlsError } from '../../proxy/identity/verify.js';
import { generateProxyConfig } from '../../push/generators/index.js';
import type { CertificateFacts, ProxyStatus } from '../../push/server/connection.js';

/** The running mesh as explain reads it. */
export interface ExplainSources {
  snapshot: MeshSnapshot;
  /** Connected proxies (push server status). */
  proxies: readonly ProxyStatus[];
  /** The configuration the control plane gives a connected proxy now. */
  configOf(proxyId: string): ProxyConfig | undefined;
  /** What the control plane knows of a connected proxy's workload certificate (issued over its stream or
   *  presented on its TLS stream); undefined when no proxy with that id is connected. */
  certificateOf(proxyId: string): CertificateFacts | undefined;
  /** The time (epoch ms) certificate validity is judged at: the caller's clock (the handler's Date.now(), a test's fixed time). */
  now: number;
}

/** A connected proxy's certificate that a verifying peer refuses: expired, or not valid yet (clock skew). */
export interface InvalidCertificate {
  /** `expired` (notAfter before now) or `not valid yet` (notBefore after now). */
  state: 'expired' | 'not valid yet';
  /** notAfter (expired) or notBefore (not valid yet), ISO 8601. */
  at: string;
  /** What the proxy's peer check logs and counts for it (src/proxy/identity/verify.ts classifyTlsError). */
  code: string;
  /** The proxy's own sentence for it. */
  reason: string;
  /** Whose clock said so, for the output: `by the control plane's clock`, or `by proxy ID's clock[, N s behind the control plane's]`. */
  judgedBy: string;
  /** The verifier's clock disagrees with the control plane's about it: the certificate is fine by the control plane's clock. */
  byClockSkew: boolean;
}

/** A clock skew explain names (ms): below it a proxy's clock counts as the control plane's (a stream's transit time is in the measure). */
export const NOTABLE_CLOCK_SKEW_MS = 1000;

/** A workload explain can start from or arrive at. */
export interface ResolvedWorkload {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  address: string;
  /** The connected proxy, when there is one. */
  proxy?: ProxyStatus;
  config: ProxyConfig;
  /** Where `config` came from, for the output. */
  configSource: string;
  /** Set when the connected proxy holds no workload certificate: `config` as that proxy runs it, its mTLS
   *  parts narrowed by the proxy's own code (src/proxy/identity/secrets.ts). Absent without a connected proxy. */
  withoutCertificate?: RunningForm;
  /** Set when the connected proxy's certificate is outside its validity at `ExplainSources.now`: the proxy keeps
   *  presenting it (src/proxy/identity/rotation.ts retries renewal, never drops it) and its peers refuse it. */
  invalidCertificate?: InvalidCertificate;
  /** The connected proxy's workload certificate, when it holds one. */
  certificate?: CertificateFacts;
}

/** True when the facts show a certificate (either way the control plane learns one sets its validity). */
function holdsCertificate(c: CertificateFacts): boolean {
  return c.notAfter !== undefined || c.spiffeId !== undefined;
}

/**
 * The facts' certificate as a verifying peer sees it at `now`: undefined while valid (or unknown), else
 * expired / not valid yet with the code OpenSSL's CERT_HAS_EXPIRED / CERT_NOT_YET_VALID map to in the proxy.
 */
export function certificateValidityAt(c: CertificateFacts, now: number, judgedBy = "by the control plane's clock"): InvalidCertificate | undefined {
  const notAfter = c.notAfter !== undefined ? Date.parse(c.notAfter) : NaN;
  const notBefore = c.notBefore !== undefined ? Date.parse(c.notBefore) : NaN;
  // OpenSSL (X509_cmp_time): expired when notAfter < now, not valid yet when notBefore > now.
  if (notAfter < now) return { state: 'expired', at: new Date(notAfter).toISOString(), ...classifyTlsError('CERT_HAS_EXPIRED'), judgedBy, byClockSkew: false };
  if (notBefore > now) return { state: 'not valid yet', at: new Date(notBefore).toISOString(), ...classifyTlsError('CERT_NOT_YET_VALID'), judgedBy, byClockSkew: false };
  return undefined;
}

/** `N s ahead of` / `N s behind` the control plane's clock, for a skew in ms. */
export function describeSkew(skewMs: number): string {
  const s = Math.round(Math.abs(skewMs) / 1000);
  return `${s} s ${skewMs > 0 ? 'ahead of' : 'behind'} the control plane's`;
}

/**
 * `presenter`'s certificate as `verifier`'s proxy judges it in a handshake: by the verifier's clock (the control
 * plane's plus the skew its proxy reported, docs/push-protocol.md `clockMs`), or by the control plane's when the
 * verifier has no connected proxy or one that does not report its clock. Undefined while valid (or unknown).
 */
export function certificateAsVerifiedBy(presenter: ResolvedWorkload, verifier: ResolvedWorkload, now: number): InvalidCertificate | undefined {
  const c = presenter.certificate;
  if (!c) return undefined;
  const skew = verifier.proxy?.clockSkewMs;
  if (skew === undefined) return certificateValidityAt(c, now);
  const notable = Math.abs(skew) >= NOTABLE_CLOCK_SKEW_MS;
  const bad = certificateValidityAt(c, now + skew, `by proxy ${verifier.proxy!.id}'s clock${notable ? `, ${describeSkew(skew)}` : ''}`);
  return bad && { ...bad, byClockSkew: certificateValidityAt(c, now) === undefined };
}

/** `--from` names no workload (or several): the message lists the known ones. */
export class UnknownWorkloadError extends Error {
  override name = 'UnknownWorkloadError';
  /** Stable code (docs/errors.md). */
  readonly code = 'BOWLINE_E_EXPLAIN_UNKNOWN_WORKLOAD';
  constructor(message: string, readonly known: string[]) {
    super(message);
  }
}

interface Candidate { name: string; namespace: string; proxy?: ProxyStatus }

function candidates(src: ExplainSources): Candidate[] {
  const out = new Map<string, Candidate>();
  for (const w of src.snapshot.workloads) out.set(`${w.name}.${w.namespace}`, { name: w.name, namespace: w.namespace });
  for (const p of src.proxies) {
    const key = `${p.workload}.${p.namespace}`;
    out.set(key, { ...(out.get(key) ?? { name: p.workload, namespace: p.namespace }), proxy: p });
  }
  return [...out.values()].sort((a, b) => (`${a.name}.${a.namespace}` < `${b.name}.${b.namespace}` ? -1 : 1));
}

/** Every workload explain knows, as `name.namespace`. */
export function knownWorkloads(src: ExplainSources): string[] {
  return candidates(src).map((c) => `${c.name}.${c.namespace}`);
}

/**
 * The workload `spec` (`NAME`, `NAME.NS`, a unique prefix such as `productpage`, or a proxy id)
 * names, with its proxy configuration; throws UnknownWorkloadError.
 */
export function resolveWorkload(src: ExplainSources, spec: string): ResolvedWorkload {
  const all = candidates(src);
  const dot = spec.indexOf('.');
  const name = dot < 0 ? spec : spec.slice(0, dot);
  const ns = dot < 0 ? undefined : spec.slice(dot + 1);
  const inNs = all.filter((c) => ns === undefined || c.namespace === ns);
  let hits = inNs.filter((c) => c.name === name);
  if (hits.length === 0) hits = all.filter((c) => c.proxy?.id === spec);
  if (hits.length === 0) hits = inNs.filter((c) => c.name.startsWith(name));
  const known = all.map((c) => `${c.name}.${c.namespace}`);
  if (hits.length !== 1) {
    const why = hits.length === 0 ? `no workload "${spec}"` : `"${spec}" is ambiguous (${hits.map((c) => `${c.name}.${c.namespace}`).join(', ')})`;
    throw new UnknownWorkloadError(`${why}; known workloads: ${known.join(', ') || 'none (no proxy has connected and no workload is registered)'}`, known);
  }
  return workloadConfig(src, hits[0]!.name, hits[0]!.namespace)!;
}

/** The workload `name.namespace` with its configuration, or undefined when the mesh does not know it. */
export function workloadConfig(src: ExplainSources, name: string, namespace: string): ResolvedWorkload | undefined {
  const w = src.snapshot.workloads.find((x) => x.name === name && x.namespace === namespace);
  const proxy = src.proxies.find((p) => p.workload === name && p.namespace === namespace);
  const dumped = proxy ? src.configOf(proxy.id) : undefined;
  if (proxy && dumped) {
    const cert = src.certificateOf(proxy.id);
    const withoutCertificate = cert && !holdsCertificate(cert) ? resolveWorkloadSecrets(dumped, undefined) : undefined;
    const invalidCertificate = cert && holdsCertificate(cert) ? certificateValidityAt(cert, src.now) : undefined;
    return {
      name, namespace, labels: dumped.node.labels, serviceAccount: dumped.node.serviceAccount, address: proxy.address || w?.address || '127.0.0.1', proxy, config: dumped,
      configSource: `the configuration of connected proxy ${proxy.id}`, ...(withoutCertificate ? { withoutCertificate } : {}),
      ...(invalidCertificate ? { invalidCertificate } : {}), ...(cert && holdsCertificate(cert) ? { certificate: cert } : {}),
    };
  }
  if (!w) return undefined;
  const node = { id: `${w.name}.${w.namespace}`, role: 'sidecar' as const, workload: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount ?? 'default', labels: { ...w.labels } };
  // The announcement such a sidecar would send: its endpoints' service ports.
  const services: WorkloadAnnouncement['services'] = [];
  for (const svc of src.snapshot.services) {
    for (const e of src.snapshot.endpointsByService.get(svc.hostname) ?? []) {
      if (e.workload !== name || e.namespace !== namespace) continue;
      services.push({ service: svc.name, port: e.servicePort, protocol: svc.ports.find((p) => p.port === e.servicePort)?.protocol ?? 'HTTP', targetPort: e.port });
    }
  }
  const workload: WorkloadAnnouncement = { name, namespace, serviceAccount: node.serviceAccount, labels: node.labels, address: w.address, services };
  return {
    name, namespace, labels: node.labels, serviceAccount: node.serviceAccount, address: w.address,
    config: generateProxyConfig(src.snapshot, { node, workload }),
    configSource: `no proxy of ${name}.${namespace} is connected: the configuration a sidecar of it would get`,
  };
}
