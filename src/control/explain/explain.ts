/**
 * `bowline explain`: a request from one workload evaluated through that workload's proxy
 * configuration with the proxy's own code (filter chain match, route table, authorization
 * engine), no second model of the rules. Each decision comes with its reason and origin.
 * Steps up to the route are here; each destination is followed in destination.ts.
 */
import type { HttpMatch, Listener, ProxyConfig, Route, StringMatch } from '../../proxy-config/types.js';
import { compileChainMatch, type ChainInput } from '../../proxy/detect/chains.js';
import { compileRouteConfig } from '../../proxy/router/index.js';
import type { EdgeStats } from '../../push/server/stats-window.js';
import { explainDestination } from './destination.js';
import { routeOrigin } from './origin.js';
import type { ExplainDestination, ExplainOutcome, Explanation } from './types.js';
import { resolveWorkload, type ExplainSources, type ResolvedWorkload } from './workloads.js';

/** What the user asked: `--from`, `-X`, `-H`, URL. */
export interface ExplainRequest {
  from: string;
  method?: string;
  url: string;
  /** Header names in any case. */
  headers?: Record<string, string>;
}

/** A URL explain cannot evaluate. */
export class BadRequestUrlError extends Error {
  override name = 'BadRequestUrlError';
  /** Stable code (docs/errors.md). */
  readonly code = 'BOWLINE_E_EXPLAIN_URL';
}

/** Recent traffic, when the control plane has it (push stream window). */
export interface ExplainTraffic {
  edges: readonly EdgeStats[];
  periodMs: number;
}

function sm(m: StringMatch): string {
  return 'exact' in m ? `= "${m.exact}"` : 'prefix' in m ? `starts with "${m.prefix}"` : `~ /${m.regex}/`;
}

function vm(m: StringMatch | { present: boolean }): string {
  return 'present' in m ? (m.present ? 'present' : 'absent') : sm(m);
}

/** A route's match conditions in words (`uri starts with "/"` ...); `every request` when none. */
export function describeMatch(match: HttpMatch[] | undefined): string {
  if (!match || match.length === 0) return 'every request';
  return match.map((m) => {
    const parts: string[] = [];
    if (m.uri) parts.push(`uri ${sm(m.uri)}${m.ignoreUriCase ? ' (any case)' : ''}`);
    if (m.method) parts.push(`method ${sm(m.method)}`);
    if (m.authority) parts.push(`authority ${sm(m.authority)}`);
    if (m.scheme) parts.push(`scheme ${sm(m.scheme)}`);
    if (m.port !== undefined) parts.push(`port ${m.port}`);
    for (const [k, v] of Object.entries(m.headers ?? {})) parts.push(`header ${k} ${vm(v)}`);
    for (const [k, v] of Object.entries(m.withoutHeaders ?? {})) parts.push(`not header ${k} ${vm(v)}`);
    for (const [k, v] of Object.entries(m.queryParams ?? {})) parts.push(`query ${k} ${vm(v)}`);
    if (m.sourceLabels) parts.push(`source labels ${Object.entries(m.sourceLabels).map(([k, v]) => `${k}=${v}`).join(',')}`);
    if (m.sourceNamespace) parts.push(`source namespace ${m.sourceNamespace}`);
    return parts.join(' and ') || 'every request';
  }).join(' OR ');
}

function parseUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new BadRequestUrlError(`"${raw}" is not a URL (e.g. http://reviews:9080/reviews/0)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BadRequestUrlError(`only http:// and https:// URLs can be explained, not ${u.protocol}`);
  return u;
}

/** The sidecar's outbound listener (or a gateway's listener for the port) and its first matching chain. */
function pickChain(cfg: ProxyConfig, port: number): { listener: Listener; chainIndex: number; input: ChainInput } | undefined {
  const gateway = cfg.node.role === 'gateway';
  const listeners = cfg.listeners.filter((l) => (gateway ? l.direction === 'gateway' && (l.logicalPort ?? l.port) === port : l.direction === 'outbound'));
  for (const listener of listeners) {
    const input: ChainInput = {
      captured: listener.useOriginalDst === true, transport: 'raw', protocol: 'http1', serverName: undefined, alpn: [],
      destinationPort: listener.useOriginalDst ? port : listener.logicalPort ?? listener.port, destination: '127.0.0.1', source: '127.0.0.1',
      ...(listener.useOriginalDst ? { originalDst: { host: '127.0.0.1', port } } : {}),
    };
    const chainIndex = listener.filterChains.findIndex((c) => compileChainMatch(c.match)(input));
    if (chainIndex >= 0) return { listener, chainIndex, input };
  }
  return undefined;
}

function fail(status: number | undefined, summary: string): ExplainOutcome {
  return { ok: false, ...(status !== undefined ? { status } : {}), summary };
}

/** Evaluates `req` from its workload's proxy; throws UnknownWorkloadError or BadRequestUrlError. */
export function explain(src: ExplainSources, req: ExplainRequest, traffic?: ExplainTraffic): Explanation {
  const from = resolveWorkload(src, req.from);
  const url = parseUrl(req.url);
  const method = (req.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const authority = url.host;
  const path = `${url.pathname}${url.search}`;
  const out: Explanation = {
    request: { method, url: url.toString(), headers },
    from: { workload: from.name, namespace: from.namespace, ...(from.proxy ? { proxy: from.proxy.id } : {}), config: from.configSource },
    steps: [], destinations: [], warnings: syncWarnings(from), outcome: { ok: true, summary: '' },
  };
  const steps = out.steps;
  const cfg = from.config;
  const picked = pickChain(cfg, port);
  if (!picked) {
    steps.push({ step: 'listener', decision: 'none', reason: `the proxy has no ${cfg.node.role === 'gateway' ? `listener on port ${port}` : 'outbound listener'} whose filter chains take an HTTP/1.1 connection to port ${port}`, ok: false });
    out.outcome = fail(undefined, 'the connection is refused or closed by the proxy');
    return out;
  }
  const chain = picked.listener.filterChains[picked.chainIndex]!;
  steps.push({ step: 'listener', decision: `${picked.listener.name}, filter chain ${chain.name}`, reason: `the first chain whose match fits an HTTP/1.1 connection to port ${port}${chain.match ? ` (${JSON.stringify(chain.match)})` : ''}`, ok: true });
  if (!chain.http) {
    const dests = chain.tcp?.routes[0]?.destinations ?? [];
    steps.push({ step: 'route', decision: 'TCP proxy', reason: `port ${port} is a TCP/TLS port: bytes are forwarded without HTTP routing`, ok: true });
    out.destinations = dests.map((d) => explainDestination(src, from, { cluster: d.cluster, weight: d.weight, percent: share(d.weight, dests.map((x) => x.weight)), authority, method, path, headers, port }, traffic));
    out.outcome = overall(out.destinations);
    return out;
  }
  const rc = cfg.routes.find((r) => r.name === chain.http!.routeConfig);
  if (!rc) {
    steps.push({ step: 'route', decision: 'none', reason: `route table ${chain.http.routeConfig} is missing from the proxy's configuration`, ok: false });
    out.outcome = fail(404, '404 NR (no route)');
    return out;
  }
  const routingPort = picked.listener.useOriginalDst ? port : picked.listener.logicalPort ?? picked.listener.port;
  const decision = compileRouteConfig(rc, cfg.node).select({ method, path, authority, scheme: url.protocol.slice(0, -1), port: routingPort, header: (n) => headers[n] });
  if (decision.kind === 'none') {
    steps.push({ step: 'virtual host', decision: 'none', reason: `no virtual host of route table ${rc.name} serves "${authority}", or none of its routes matches`, ok: false });
    out.outcome = fail(404, `404 NR: no route for ${authority}${path}`);
    return out;
  }
  const vh = rc.virtualHosts.find((v) => v.name === decision.route.virtualHost)!;
  steps.push({ step: 'virtual host', decision: vh.name, reason: `"${authority}" is one of its domains`, ok: true });
  const route = vh.routes.find((r, i) => (r.name ?? `${vh.name}/${i}`) === decision.route.name) as Route;
  const before = vh.routes.slice(0, vh.routes.indexOf(route)).map((r, i) => `#${i} (${describeMatch(r.match)})`);
  steps.push({
    step: 'route',
    decision: `#${vh.routes.indexOf(route)}${route.name ? ` ${route.name}` : ''}`,
    reason: `matches ${describeMatch(route.match)}${before.length ? `; not matched before it: ${before.join(', ')}` : ''}`,
    origin: routeOrigin(src.snapshot, vh, route, from.namespace),
    ok: true,
  });
  if (decision.kind === 'redirect') {
    out.outcome = { ok: true, status: decision.status, summary: `${decision.status} redirect to ${decision.location}` };
    return out;
  }
  if (decision.kind === 'direct') {
    const blocked = route.name === 'block_all';
    out.outcome = blocked ? fail(502, `502: ${authority} is not in the mesh's registry and outbound traffic is REGISTRY_ONLY`) : { ok: decision.status < 400, status: decision.status, summary: `the proxy answers ${decision.status} itself (directResponse)` };
    return out;
  }
  const action = route.route!;
  const timeoutMs = action.timeoutMs ?? 0;
  const f = route.fault;
  let faultOutcome: ExplainOutcome | undefined;
  if (f?.abort) {
    const code = f.abort.httpStatus ?? (f.abort.grpcStatus ? `gRPC ${f.abort.grpcStatus}` : `a ${f.abort.http2Error} stream reset`);
    steps.push({ step: 'fault', decision: `abort ${code} for ${f.abort.percentage}%`, reason: `${f.abort.percentage}% of the requests this route takes get ${code} from the proxy, never reaching the service (flag FI)`, ok: f.abort.percentage < 100 });
    if (f.abort.percentage >= 100) faultOutcome = fail(f.abort.httpStatus, `${code} injected by the route's fault (FI)`);
  }
  if (f?.delay) {
    const d = f.delay.fixedDelayMs ?? f.delay.exponentialDelayMs ?? 0;
    const timesOut = timeoutMs > 0 && d >= timeoutMs;
    steps.push({ step: 'fault', decision: `delay ${seconds(d)} for ${f.delay.percentage}%`, reason: `${f.delay.percentage}% of the requests wait ${seconds(d)} before they are sent (flag DI)${timesOut ? `, longer than the route's ${seconds(timeoutMs)} timeout: 504 UT` : '; a caller whose own timeout is shorter gives up first'}`, ok: !(timesOut && f.delay.percentage >= 100) });
    if (timesOut && f.delay.percentage >= 100 && !faultOutcome) faultOutcome = fail(504, `504 UT: the injected ${seconds(d)} delay outlasts the route's ${seconds(timeoutMs)} timeout`);
  }
  if (!f) steps.push({ step: 'fault', decision: 'none', reason: 'the route injects no delay or abort', ok: true });
  steps.push({ step: 'timeout', decision: timeoutMs > 0 ? seconds(timeoutMs) : 'none', reason: timeoutMs > 0 ? 'the whole request, retries included, must finish within it (else 504 UT)' : 'no route timeout (Istio\'s default for HTTP): the caller\'s own timeout decides', ok: true });
  const r = action.retries;
  steps.push({ step: 'retries', decision: r && r.attempts > 0 ? `${r.attempts} on ${r.retryOn.join(',') || '(nothing)'}` : 'none', reason: r && r.attempts > 0 ? `up to ${r.attempts} more attempt(s)${r.perTryTimeoutMs ? `, ${seconds(r.perTryTimeoutMs)} each` : ''}, when the attempt fails with ${r.retryOn.join(', ')}` : 'a failed attempt is returned as it is', ok: true });
  const weights = action.destinations.map((d) => (action.destinations.length === 1 ? 1 : d.weight));
  out.destinations = action.destinations.map((d, i) => explainDestination(src, from, { cluster: d.cluster, weight: d.weight, percent: share(weights[i]!, weights), authority: action.rewrite?.authority ?? authority, method, path, headers, port }, traffic)).filter((d) => d.percent > 0 || action.destinations.length === 1);
  out.outcome = faultOutcome ?? overall(out.destinations);
  return out;
}

function share(w: number, all: number[]): number {
  const total = all.reduce((a, b) => a + b, 0);
  return total > 0 ? (100 * w) / total : 0;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function overall(dests: ExplainDestination[]): ExplainOutcome {
  if (dests.length === 0) return fail(503, '503: the route names no destination');
  const bad = dests.filter((d) => !d.outcome.ok);
  if (bad.length === 0) return { ok: true, summary: dests.map((d) => d.outcome.summary).join('; ') };
  const pct = bad.reduce((a, d) => a + d.percent, 0);
  return fail(bad[0]!.outcome.status, `${bad.length === dests.length ? '' : `${Math.round(pct)}% of requests: `}${bad[0]!.outcome.summary}`);
}

function syncWarnings(w: ResolvedWorkload): string[] {
  const out: string[] = [];
  for (const [type, s] of Object.entries(w.proxy?.types ?? {})) {
    if (s?.state === 'NACKED') out.push(`proxy ${w.proxy!.id} refused (NACK) its latest ${type}: ${s.error ?? 'no reason given'}; it still runs the ${type} it accepted before, which this explanation does not show`);
    else if (s?.state === 'STALE') out.push(`proxy ${w.proxy!.id} has not acknowledged its latest ${type} yet (STALE)`);
  }
  return out;
}
