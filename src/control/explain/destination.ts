/**
 * One destination of an explained request: the cluster (subset, load balancing, endpoints), the
 * client's TLS, then at each destination workload the proxy's inbound filter chain (the server's
 * mTLS mode, with the proxy's chain match) and its authorization engine's decision.
 */
import type { Endpoint as ModelEndpoint } from '../../model/service.js';
import type { Cluster } from '../../proxy-config/types.js';
import { compileAuthorization } from '../../proxy/authz/engine.js';
import { compileChainMatch, type ChainInput } from '../../proxy/detect/chains.js';
import { authnReport } from '../../push/security/authn-check.js';
import { clientTls } from '../../push/security/client-tls.js';
import { serverMtls } from '../../push/security/peer-authentication.js';
import { DEFAULT_TRUST_DOMAIN, formatPrincipal } from '../../proxy-config/spiffe.js';
import { WORKLOAD_CERT_SECRET } from '../../proxy-config/workload-secrets.js';
import type { ExplainTraffic } from './explain.js';
import { withSource } from './origin.js';
import type { ExplainDestination, ExplainStep } from './types.js';
import { certificateAsVerifiedBy, describeSkew, workloadConfig, type ExplainSources, type InvalidCertificate, type ResolvedWorkload } from './workloads.js';

/** The destination to follow and the request as it leaves the route. */
export interface DestinationInput {
  cluster: string;
  weight: number;
  percent: number;
  authority: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  port: number;
}

const MAX_WORKLOADS = 8;

/** A source sentence that names a resource (not `(default)` or `auto-mTLS`). */
const NAMES_RESOURCE = /^(DestinationRule|PeerAuthentication|MeshPolicy|Policy) /;

function lbOf(c: Cluster): string {
  const lb = c.loadBalancer;
  if (lb?.consistentHash) {
    const h = lb.consistentHash;
    return `consistent hash on ${h.httpHeaderName ? `header ${h.httpHeaderName}` : h.httpCookie ? `cookie ${h.httpCookie.name}` : h.useSourceIp ? 'source IP' : `query ${h.httpQueryParameterName}`}`;
  }
  return `${lb?.policy ?? 'ROUND_ROBIN'}${lb?.policy ? '' : ' (default)'}`;
}

/** Follows one weighted destination to its workloads. */
export function explainDestination(src: ExplainSources, from: ResolvedWorkload, d: DestinationInput, traffic?: ExplainTraffic): ExplainDestination {
  const snap = src.snapshot;
  const steps: ExplainStep[] = [];
  const out: ExplainDestination = { cluster: d.cluster, weight: d.weight, percent: d.percent, steps, outcome: { ok: true, summary: '' } };
  const done = (ok: boolean, summary: string, status?: number): ExplainDestination => {
    out.outcome = { ok, summary, ...(status !== undefined ? { status } : {}) };
    return out;
  };
  if (d.cluster === 'PassthroughCluster') {
    steps.push({ step: 'cluster', decision: 'PassthroughCluster', reason: `${d.authority} is not a mesh service and outbound traffic is ALLOW_ANY: the request goes where the client addressed it, without mTLS or mesh policy`, ok: true });
    return done(true, `passed through to ${d.authority} (outside the mesh)`);
  }
  if (d.cluster === 'BlackHoleCluster') {
    steps.push({ step: 'cluster', decision: 'BlackHoleCluster', reason: 'outbound traffic is REGISTRY_ONLY and the destination is not in the registry', ok: false });
    return done(false, '502: blocked (REGISTRY_ONLY)', 502);
  }
  const cfg = from.config;
  const cluster = cfg.clusters.find((c) => c.name === d.cluster);
  if (!cluster) {
    steps.push({ step: 'cluster', decision: d.cluster, reason: 'the route names a cluster the proxy does not have (no such service or subset port)', ok: false });
    return done(false, `503 NC: cluster ${d.cluster} not found`, 503);
  }
  const svc = cluster.service ? snap.serviceByHost.get(cluster.service.host) : undefined;
  const subsetWhy = cluster.subset ? `subset ${cluster.subset}` : 'the whole service (no subset)';
  steps.push({ step: 'cluster', decision: d.cluster, reason: `${d.percent === 100 ? 'every request goes' : `${round(d.percent)}% of requests (weight ${d.weight}) go`} to ${subsetWhy}; load balancing ${lbOf(cluster)}${cluster.outlierDetection ? ', with outlier detection' : ''}`, ok: true });
  const eps = cfg.endpoints.find((e) => e.cluster === d.cluster)?.endpoints ?? [];
  const healthy = eps.filter((e) => (e.health ?? 'healthy') === 'healthy');
  const listed = healthy.map((e) => `${e.address}:${e.port}${e.workload ? ` ${e.workload}` : ''}${e.labels?.version ? ` (${e.labels.version})` : ''}`).join(', ');
  if (healthy.length === 0) {
    const why = eps.length ? `${eps.length} endpoint(s), none healthy` : cluster.subset ? `no workload has the labels of subset ${cluster.subset}` : 'the service has no endpoints';
    steps.push({ step: 'endpoints', decision: '0 healthy', reason: why, ok: false });
    return done(false, `503 UH: no healthy upstream in ${d.cluster}`, 503);
  }
  steps.push({ step: 'endpoints', decision: `${healthy.length} healthy`, reason: `chosen from: ${listed}${eps.length > healthy.length ? ` (${eps.length - healthy.length} unhealthy or draining left out)` : ''}`, ok: true });
  const ct = svc ? clientTls(snap, from.namespace, svc, cluster.service!.port, cluster.subset) : undefined;
  const tlsMode = cluster.tls?.mode ?? 'DISABLE';
  const setBy = ct ? `set by ${ct.source}` : 'the cluster\'s TLS settings';
  const tlsOrigin = ct && NAMES_RESOURCE.test(ct.source) ? { origin: withSource(snap, ct.source) } : {};
  // A --from proxy without a workload certificate runs this cluster narrowed (src/proxy/identity/secrets.ts).
  const running = from.withoutCertificate?.config.clusters.find((c) => c.name === d.cluster);
  const noCert = cluster.tls !== undefined && running !== undefined && running.tls === undefined;
  if (noCert && !cluster.tls!.auto) {
    steps.push({ step: 'client TLS', decision: `${tlsMode}: no workload certificate`, reason: `${setBy}; ${tlsMode} needs the client's own workload certificate and ${noCertificate(from)}, so it sends nothing to ${d.cluster} and answers 503 UH (BOWLINE_E_IDENTITY_NO_CERTIFICATE). ${NO_CERT_FIX}`, ...tlsOrigin, ok: false });
    return done(false, `503 UH: ${tlsMode} toward ${svc?.name ?? d.cluster} needs a workload certificate and ${from.name}.${from.namespace}'s proxy has none (BOWLINE_E_IDENTITY_NO_CERTIFICATE; start it with --token-file)`, 503);
  }
  if (noCert) {
    steps.push({ step: 'client TLS', decision: 'plaintext (auto-mTLS, no workload certificate)', reason: `${setBy}: auto-mTLS would send ISTIO_MUTUAL, but ${noCertificate(from)}, so it connects in plaintext (BOWLINE_E_IDENTITY_NO_CERTIFICATE)`, ...tlsOrigin, ok: true });
  } else {
    // An expired (or not yet valid) certificate is still presented (the proxy never drops it); the server refuses it (serverSide).
    const bad = cluster.tls?.certificateSecret === WORKLOAD_CERT_SECRET ? from.invalidCertificate : undefined;
    const decision = cluster.tls ? `${tlsMode}${cluster.tls.auto ? ' (auto)' : ''}${bad ? `, client certificate ${bad.state}` : ''}` : 'plaintext';
    steps.push({ step: 'client TLS', decision, reason: `${setBy}${bad ? `; it presents proxy ${from.proxy?.id}'s workload certificate, ${validity(bad)}` : ''}`, ...tlsOrigin, ok: true });
  }
  // What the connection carries: the cluster as the client's proxy runs it.
  const sending = noCert ? running : cluster;
  const models = svc ? (snap.endpointsByService.get(svc.hostname) ?? []) : [];
  const groups = new Map<string, { ep: ModelEndpoint | undefined; name: string; namespace: string }>();
  for (const e of healthy) {
    const m = models.find((x) => x.address === e.address && x.port === e.port && (e.workload === undefined || x.workload === e.workload));
    const key = `${m?.workload ?? e.workload ?? e.address}.${m?.namespace ?? e.namespace ?? ''}`;
    if (!groups.has(key)) groups.set(key, { ep: m, name: m?.workload ?? e.workload ?? e.address, namespace: m?.namespace ?? e.namespace ?? '' });
  }
  let failure: { status?: number; summary: string } | undefined;
  for (const g of [...groups.values()].slice(0, MAX_WORKLOADS)) {
    const r = serverSide(src, from, d, sending, g, svc?.hostname);
    steps.push(...r.steps);
    if (r.failure && !failure) failure = r.failure;
  }
  if (traffic && svc) {
    const seen = traffic.edges.filter((e) => e.source.workload === from.name && e.source.namespace === from.namespace && e.destination.service === svc.hostname);
    const n = seen.reduce((a, e) => a + e.requests, 0);
    if (n > 0) {
      const errors = seen.reduce((a, e) => a + e.errors, 0);
      const classes: Record<string, number> = {};
      for (const e of seen) for (const [k, v] of Object.entries(e.classes)) classes[k] = (classes[k] ?? 0) + v;
      const p99 = Math.max(...seen.map((e) => e.p99 ?? 0));
      steps.push({ step: 'traffic', decision: `${n} requests, ${round((100 * errors) / n)}% errors`, reason: `seen in the last ${Math.round(traffic.periodMs / 1000)} s from ${from.name} to ${svc.name}: ${Object.entries(classes).map(([k, v]) => `${k} ${v}`).join(', ')}${p99 ? `, p99 ${round(p99)} ms` : ''}`, ok: errors === 0 });
    }
  }
  // The server side refused or denied a plaintext peer that would have sent mTLS with a certificate.
  if (failure && noCert) failure.summary += ` (${from.name}.${from.namespace} sent plaintext: its proxy has no workload certificate, BOWLINE_E_IDENTITY_NO_CERTIFICATE; start it with --token-file)`;
  if (failure) return done(false, failure.summary, failure.status);
  return done(true, `forwarded to ${svc?.name ?? d.cluster}${cluster.subset ? ` ${cluster.subset}` : ''}: the app answers`);
}

/** How to give a proxy its workload certificate, for the output. */
const NO_CERT_FIX = 'Fix: start the proxy with --token-file (a bootstrap token from `bowline token create`; docs/security.md "How a proxy proves who it is")';

/** `which expired at T` / `which is not valid until T`, judged at the caller's now. */
function validity(bad: InvalidCertificate): string {
  return `which ${bad.state === 'expired' ? `expired at ${bad.at}` : `is not valid until ${bad.at}`} (${bad.judgedBy}${bad.byClockSkew ? "; by the control plane's clock it is valid" : ''})`;
}

/** The proxy counter (its /stats) a refusal for `bad` lands in (src/proxy/stats.ts). */
function refusalCounter(bad: InvalidCertificate): string {
  return bad.state === 'expired' ? 'mtlsPeerExpired' : 'mtlsPeerNotYetValid';
}

/** The client proxy's counter (its /stats) for refusing a server's `bad` certificate (src/proxy/stats.ts). */
function upstreamCounter(bad: InvalidCertificate): string {
  return bad.state === 'expired' ? 'upstreamTlsPeerExpired' : 'upstreamTlsPeerNotYetValid';
}

/** What to do about a proxy presenting an invalid certificate, for the output. */
function invalidFix(bad: InvalidCertificate, w: ResolvedWorkload, verifier: ResolvedWorkload): string {
  if (bad.byClockSkew) return `Fix: the clock of ${verifier.name}.${verifier.namespace}'s host is ${describeSkew(verifier.proxy!.clockSkewMs!)} (the CA's): synchronise it (NTP); the certificate itself is fine`;
  if (bad.state === 'not valid yet') return `Fix: the clocks of ${w.name}.${w.namespace}'s host and its peers disagree: synchronise them (NTP)`;
  return `Fix: the proxy's renewals are failing (BOWLINE_E_IDENTITY_RENEWAL_FAILED in its log): check it is connected (\`bowline proxy-status\`; the dashboard's Security page shows each proxy's certificate expiry) and that the control plane's CA answers. The CA takes only a valid certificate as proof on renewal, so an expired one cannot renew itself: restart the proxy with a fresh --token-file (\`bowline token create\`; docs/security.md "How a proxy proves who it is" and "Rotation of workload certificates")`;
}

/** `proxy ID of NAME.NS has no workload certificate ...`, for a workload whose connected proxy has none. */
function noCertificate(w: ResolvedWorkload): string {
  return `proxy ${w.proxy?.id ?? `of ${w.name}.${w.namespace}`} has no workload certificate (none issued on its stream or presented on it: started without --token-file, or its CSR was not answered)`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The destination workload's inbound side: its chain for this connection, then authorization. */
function serverSide(src: ExplainSources, from: ResolvedWorkload, d: DestinationInput, cluster: Cluster, g: { ep: ModelEndpoint | undefined; name: string; namespace: string }, host: string | undefined): { steps: ExplainStep[]; failure?: { status?: number; summary: string } } {
  const snap = src.snapshot;
  const steps: ExplainStep[] = [];
  const who = `${g.name}.${g.namespace}`;
  const tls = cluster.tls !== undefined;
  const servicePort = g.ep?.servicePort ?? cluster.service?.port ?? d.port;
  // A sidecar without a workload certificate announces itself as `tlsMode: disabled` (no mTLS for
  // auto-mTLS to send it), but it still runs its inbound listeners: evaluate them.
  const connected = src.proxies.some((p) => p.workload === g.name && p.namespace === g.namespace);
  const dest = g.ep && g.ep.tlsMode !== 'istio' && !connected ? undefined : workloadConfig(src, g.name, g.namespace);
  if (g.ep && g.ep.tlsMode !== 'istio' && !dest?.withoutCertificate) {
    if (tls && cluster.tls!.mode === 'ISTIO_MUTUAL') {
      steps.push({ step: 'server mTLS', decision: `${who}: no sidecar`, reason: 'the client sends mTLS but the workload has no Bowline sidecar to terminate it: the TLS handshake fails', ok: false });
      return { steps, failure: { status: 503, summary: `503: ${who} has no sidecar to terminate mTLS (set the DestinationRule's tls.mode to DISABLE, or run the workload with a sidecar)` } };
    }
    steps.push({ step: 'server mTLS', decision: `${who}: no sidecar`, reason: 'the app receives the request directly: no mTLS, no authorization policy applies', ok: true });
    return { steps };
  }
  if (!dest) {
    steps.push({ step: 'server mTLS', decision: `${who}: unknown`, reason: 'the mesh knows this endpoint but not its workload: its inbound side cannot be evaluated', ok: true });
    return { steps };
  }
  const mode = serverMtls(snap, { namespace: g.namespace, labels: dest.labels }, g.ep && g.ep.port !== servicePort ? [servicePort, g.ep.port] : [servicePort]);
  const listener = dest.config.listeners.find((l) => l.direction === 'inbound' && (l.useOriginalDst ? l.filterChains.some((c) => c.match?.destinationPort === servicePort) : (l.logicalPort ?? l.port) === servicePort));
  if (!listener) {
    steps.push({ step: 'server mTLS', decision: `${who}: no inbound listener`, reason: `the proxy of ${who} has no inbound listener for port ${servicePort}`, ok: false });
    return { steps, failure: { status: 503, summary: `503: ${who} does not listen on port ${servicePort}` } };
  }
  const input: ChainInput = { captured: listener.useOriginalDst === true, transport: tls ? 'tls' : 'raw', protocol: tls ? undefined : 'http1', serverName: cluster.tls?.sni, alpn: tls ? ['istio-http/1.1', 'istio', 'http/1.1'] : [], destinationPort: listener.useOriginalDst ? servicePort : listener.logicalPort ?? listener.port, destination: g.ep?.address ?? '', source: from.address };
  const chain = listener.filterChains.find((c) => compileChainMatch(c.match)(input));
  const modeText = `${mode.mode}, set by ${mode.source}`;
  const origin = NAMES_RESOURCE.test(mode.source) ? withSource(snap, mode.source) : undefined;
  const dropped = dest.withoutCertificate?.withoutIdentity.get(listener.name);
  if (dropped?.length) {
    // The proxy's dispatch (src/proxy/detect/dispatch.ts): a chain dropped for lack of a certificate refuses the connection
    // it would have taken; a port left with no chain refuses every connection.
    const lost = chain !== undefined && dropped.some((c) => c.name === chain.name);
    // The chains this port has for a connection either way (plaintext or mTLS), all dropped: nothing is accepted.
    const either: ChainInput[] = [{ ...input, transport: 'raw', protocol: 'http1', serverName: undefined, alpn: [] }, { ...input, transport: 'tls', protocol: undefined, serverName: cluster.tls?.sni, alpn: ['istio-http/1.1', 'istio', 'http/1.1'] }];
    const forPort = listener.filterChains.filter((c) => { const m = compileChainMatch(c.match); return either.some((i) => m(i)); });
    const none = forPort.length > 0 && forPort.every((c) => dropped.some((x) => x.name === c.name));
    if (lost || none) {
      const why = lost ? `chain ${chain!.name} of ${listener.name} would accept the ${tls ? 'mTLS' : 'plaintext'} connection, but it needs the server's workload certificate` : `every filter chain of ${listener.name} requires mTLS (${mode.mode}) and needs the server's workload certificate`;
      steps.push({ step: 'server mTLS', decision: `${who}: ${mode.mode}, no workload certificate`, reason: `${modeText}; ${why}, and ${noCertificate(dest)}: the proxy refuses the connection (BOWLINE_E_IDENTITY_NO_CERTIFICATE). ${NO_CERT_FIX}`, ...(origin ? { origin } : {}), ok: false });
      return { steps, failure: { status: 503, summary: `503 (upstream connection reset, flag UC/URX): ${who}'s proxy has no workload certificate, so it refuses ${lost ? 'the mTLS connection' : `every connection to port ${servicePort} (${mode.mode})`} (BOWLINE_E_IDENTITY_NO_CERTIFICATE; start it with --token-file)` } };
    }
  }
  if (!chain || (tls && !chain.tls)) {
    const row = host ? authnReport(snap, host, from.namespace).find((x) => x.port === servicePort && x.status === 'CONFLICT') : undefined;
    const sent = tls ? `TLS (${cluster.tls!.mode})` : 'plaintext';
    steps.push({ step: 'server mTLS', decision: `${who}: ${mode.mode}`, reason: `${modeText}: no filter chain of ${listener.name} accepts a ${sent} connection, so the proxy closes it${row ? `. Fix: ${row.message}` : ''}`, ...(origin ? { origin } : {}), ok: false });
    return { steps, failure: { status: 503, summary: `503 (upstream connection reset, flag UC/URX): ${who} requires ${mode.mode === 'DISABLE' ? 'plaintext' : 'mTLS'} (${mode.source}) but the client sends ${sent}` } };
  }
  const originOf = origin ? { origin } : {};
  // The client's proxy verifies the server's chain in the handshake (src/proxy/tls/upstream.ts, rejectUnauthorized unless
  // insecureSkipVerify): a certificate outside its validity fails tls.connect before the request is sent, a connect failure.
  const serverBad = tls && chain.tls?.certificateSecret === WORKLOAD_CERT_SECRET && cluster.tls!.insecureSkipVerify !== true ? certificateAsVerifiedBy(dest, from, src.now) : undefined;
  if (serverBad) {
    steps.push({ step: 'server mTLS', decision: `${who}: ${mode.mode}, server certificate ${serverBad.state}`, reason: `${modeText}; chain ${chain.name} of ${listener.name} would accept the mTLS connection, but proxy ${dest.proxy?.id} presents its workload certificate, ${validity(serverBad)}: the client's proxy refuses it while verifying the server (OpenSSL ${serverBad.state === 'expired' ? 'CERT_HAS_EXPIRED' : 'CERT_NOT_YET_VALID'}, ${serverBad.code} in docs/errors.md) and sends nothing: its log says "upstream connect failure to ...: TLS: ${serverBad.reason} (${serverBad.code})", counted in its ${upstreamCounter(serverBad)}, flag UF. ${invalidFix(serverBad, dest, from)}`, ...originOf, ok: false });
    return { steps, failure: { status: 503, summary: `503 (upstream connect failure, flag UF/URX): ${who}'s proxy presents a workload certificate ${serverBad.state === 'expired' ? `that expired at ${serverBad.at}` : `not valid until ${serverBad.at}`} (${serverBad.code}), which the client refuses${serverBad.byClockSkew ? ` by its clock, ${describeSkew(from.proxy!.clockSkewMs!)}` : ''}` } };
  }
  // The server asks for the client's certificate and names why it refuses one (src/proxy/tls/downstream.ts checkPeer).
  const clientBad = tls && chain.tls?.validationSecret !== undefined && cluster.tls!.certificateSecret === WORKLOAD_CERT_SECRET ? certificateAsVerifiedBy(from, dest, src.now) : undefined;
  if (clientBad && chain.tls!.requireClientCertificate === true) {
    steps.push({ step: 'server mTLS', decision: `${who}: ${mode.mode}, client certificate ${clientBad.state}`, reason: `${modeText}; chain ${chain.name} of ${listener.name} requires a client certificate, and proxy ${from.proxy?.id} presents its workload certificate, ${validity(clientBad)}: ${who}'s proxy completes the handshake, then closes the connection, logging "client certificate refused: ${clientBad.reason} (${clientBad.code})" and counting it in ${refusalCounter(clientBad)}; the client's proxy logs the reset as "TLS: the server closed the connection right after the handshake, before answering: it most likely refused this proxy's client certificate ... (BOWLINE_E_TLS_CLIENT_REFUSED)", counted in its upstreamTlsClientRefused. ${invalidFix(clientBad, from, dest)}`, ...originOf, ok: false });
    return { steps, failure: { status: 503, summary: `503 (upstream connection reset, flag UC/URX): ${who}'s proxy refuses ${from.name}.${from.namespace}'s client certificate, ${clientBad.state === 'expired' ? `expired at ${clientBad.at}` : `not valid until ${clientBad.at}`} (${clientBad.code}; ${clientBad.byClockSkew ? `by ${who}'s clock, ${describeSkew(dest.proxy!.clockSkewMs!)}` : clientBad.state === 'expired' ? 'its proxy is not renewing it' : 'clock skew'})` } };
  }
  steps.push({ step: 'server mTLS', decision: `${who}: ${mode.mode}`, reason: `${modeText}; chain ${chain.name} of ${listener.name} accepts the ${tls ? 'mTLS' : 'plaintext'} connection${clientBad ? `, without a verified peer (the client's certificate is ${clientBad.state}; this chain does not require one)` : ''}`, ...originOf, ok: true });
  const engine = compileAuthorization(dest.config.authorization);
  const principal = chain.tls && tls && !clientBad ? formatPrincipal({ trustDomain: snap.mesh.trustDomain ?? DEFAULT_TRUST_DOMAIN, namespace: from.namespace, serviceAccount: from.serviceAccount }) : undefined;
  const decision = engine.evaluate({
    sourceIp: from.address, port: input.destinationPort, host: d.authority, method: d.method, path: d.path,
    header: (n) => d.headers[n], ...(principal ? { principal } : {}),
  });
  const by = decision.policy ? withSource(snap, `AuthorizationPolicy ${decision.policy}`) : undefined;
  steps.push({ step: 'authorization', decision: `${who}: ${decision.allowed ? 'allowed' : 'denied'}`, reason: `${decision.reason}${principal ? `; the peer is ${principal}` : '; the peer is plaintext (no principal)'}`, ...(by ? { origin: by } : {}), ok: decision.allowed });
  for (const w of engine.warnings) steps.push({ step: 'authorization', decision: `${who}: warning`, reason: w, ok: true });
  if (!decision.allowed) return { steps, failure: { status: 403, summary: `403 RBAC: access denied by ${who}'s authorization (${decision.reason})` } };
  return { steps };
}
