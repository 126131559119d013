/**
 * Translation of one VirtualService HTTP rule into a proxy-config Route: matches, weighted
 * destinations as Istio cluster names, retries (Istio's default when absent), timeout, fault,
 * mirror, CORS, headers, rewrite, redirect and direct responses.
 */
import { parseDuration } from '../../api/duration.js';
import type * as api from '../../api/types/networking.js';
import { findService } from '../../model/hosts.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { HTTP2_ERROR_CODES } from '../../proxy-config/validate-routes.js';
import type { CorsPolicy, HttpMatch, RetryPolicy, Route, RouteAction, StringMatch, WeightedCluster } from '../../proxy-config/types.js';

/** Istio's retry policy for routes that set none: 2 attempts on connect and stream failures and 503. */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
  retriableStatusCodes: [503],
  retryRemoteLocalities: true,
};

/** Istio cluster name of an outbound destination: `outbound|PORT|SUBSET|HOST`. */
export function outboundCluster(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

/** Where a rule's destinations are resolved: the VS's namespace and the port the rule serves (when known). */
export interface RouteContext {
  snap: MeshSnapshot;
  vsNamespace: string;
  /** The port matches are checked against (`match.port`): the service port (sidecar) or the Gateway server port. */
  port?: number;
  /** The port a destination without one falls back to for multi-port services: the vhost's service port (sidecar). */
  servicePort?: number;
  /** Names (`ns/name`) this context answers to in `match.gateways`: `mesh` for sidecars. */
  gateways: string[];
}

/** The cluster a destination names, as Istio resolves the host and port. */
export function destinationCluster(ctx: RouteContext, d: api.Destination): string {
  const svc = findService(d.host, ctx.vsNamespace, ctx.snap.serviceByHost, ctx.snap.serviceByAlias, ctx.snap.domains);
  const host = svc?.hostname ?? (d.host.includes('.') ? d.host : `${d.host}.${ctx.vsNamespace}.svc.${ctx.snap.domains.clusterDomain}`);
  let port = d.port?.number;
  if (port === undefined) port = svc && svc.ports.length === 1 ? svc.ports[0]!.port : (ctx.servicePort ?? svc?.ports[0]?.port ?? 80);
  return outboundCluster(port, d.subset, host);
}

/** Converts Istio's StringMatch; undefined when empty. */
export function stringMatch(m: api.StringMatch | undefined): StringMatch | undefined {
  if (!m) return undefined;
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.regex !== undefined) return { regex: m.regex };
  return undefined;
}

function headerMap(h: Record<string, api.StringMatch> | undefined): Record<string, StringMatch | { present: boolean }> | undefined {
  if (!h) return undefined;
  const out: Record<string, StringMatch | { present: boolean }> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = stringMatch(v) ?? { present: true };
  return out;
}

/** Converts a match; undefined when it cannot apply here (another port, another gateway). */
export function httpMatch(ctx: RouteContext, m: api.HTTPMatchRequest): HttpMatch | null {
  if (m.port !== undefined && ctx.port !== undefined && m.port !== ctx.port) return null;
  if (m.gateways && m.gateways.length && !m.gateways.some((g) => ctx.gateways.includes(qualifyGateway(g, ctx.vsNamespace)))) return null;
  const out: HttpMatch = {};
  if (m.name) out.name = m.name;
  const set = <K extends keyof HttpMatch>(k: K, v: HttpMatch[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('uri', stringMatch(m.uri));
  set('scheme', stringMatch(m.scheme));
  set('method', stringMatch(m.method));
  set('authority', stringMatch(m.authority));
  set('headers', headerMap(m.headers));
  set('withoutHeaders', headerMap(m.withoutHeaders));
  set('queryParams', m.queryParams ? Object.fromEntries(Object.entries(m.queryParams).map(([k, v]) => [k, stringMatch(v) ?? { present: true }])) : undefined);
  if (m.ignoreUriCase) out.ignoreUriCase = true;
  // A context with a port (a sidecar's service port, a gateway's server port) already kept only the
  // matches for that port; the proxy matches `port` only where the context does not say it.
  if (ctx.port === undefined) set('port', m.port);
  set('sourceLabels', m.sourceLabels);
  set('sourceNamespace', m.sourceNamespace);
  return out;
}

/** `name` written in a VS of `ns` -> `ns/name`; `mesh` stays `mesh`. */
export function qualifyGateway(g: string, ns: string): string {
  if (g === 'mesh' || g.includes('/')) return g;
  return `${ns}/${g.split('.')[0]}`;
}

function ms(d: string | undefined): number | undefined {
  return d === undefined ? undefined : parseDuration(d);
}

function percentOf(p: { percentage?: { value: number } }): number {
  return p.percentage?.value ?? 100;
}

/** Converts Istio's HTTPRetry (absent: Istio's default policy). */
export function retryPolicy(r: api.HTTPRetry | undefined): RetryPolicy {
  if (!r) return DEFAULT_RETRY;
  const attempts = r.attempts ?? 2;
  if (attempts === 0) return { attempts: 0, retryOn: [] };
  const retryOn: string[] = [];
  const codes: number[] = [];
  for (const part of (r.retryOn ?? DEFAULT_RETRY.retryOn.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (/^\d+$/.test(part)) codes.push(Number(part));
    else retryOn.push(part);
  }
  if (codes.length && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  const out: RetryPolicy = { attempts, retryOn };
  if (codes.length) out.retriableStatusCodes = codes;
  else if (!r.retryOn) out.retriableStatusCodes = [503];
  const per = ms(r.perTryTimeout);
  if (per !== undefined) out.perTryTimeoutMs = per;
  const backoff = ms(r.backoff);
  if (backoff !== undefined && backoff > 0) out.backoffBaseMs = backoff;
  out.retryRemoteLocalities = r.retryRemoteLocalities ?? true;
  return out;
}

/** An abort's http2Error as the proxy takes it: a code name (`refused_stream` -> `REFUSED_STREAM`), a code number
 *  as its name; anything else (Istio does not check it) resets with INTERNAL_ERROR. */
export function http2ErrorName(e: string): string {
  const up = e.trim().toUpperCase();
  if (HTTP2_ERROR_CODES.includes(up)) return up;
  const n = /^0X[0-9A-F]+$/.test(up) ? parseInt(up.slice(2), 16) : /^\d+$/.test(up) ? parseInt(up, 10) : NaN;
  return HTTP2_ERROR_CODES[n] ?? 'INTERNAL_ERROR';
}

/** Converts Istio's CorsPolicy. */
export function corsPolicy(c: api.CorsPolicy): CorsPolicy {
  const origins: StringMatch[] = [...(c.allowOrigins ?? []).map(stringMatch).filter((x): x is StringMatch => !!x)];
  const out: CorsPolicy = { allowOrigins: origins };
  if (c.allowMethods) out.allowMethods = c.allowMethods;
  if (c.allowHeaders) out.allowHeaders = c.allowHeaders;
  if (c.exposeHeaders) out.exposeHeaders = c.exposeHeaders;
  const age = ms(c.maxAge);
  if (age !== undefined) out.maxAgeMs = age;
  if (c.allowCredentials !== undefined) out.allowCredentials = c.allowCredentials;
  return out;
}

/** Translates one HTTP rule; null when none of its matches can apply in this context. */
export function httpRoute(ctx: RouteContext, r: api.HTTPRoute, index: number, vsName: string): Route | null {
  const route: Route = { name: r.name ?? `${vsName}.${index}` };
  if (r.match && r.match.length) {
    const matches = r.match.map((m) => httpMatch(ctx, m)).filter((m): m is HttpMatch => m !== null);
    if (matches.length === 0) return null;
    if (!(matches.length === 1 && Object.keys(matches[0]!).length === 0)) route.match = matches;
  }
  if (r.redirect) {
    const red: Route['redirect'] = {};
    if (r.redirect.uri !== undefined) red.uri = r.redirect.uri;
    if (r.redirect.authority !== undefined) red.authority = r.redirect.authority;
    if (r.redirect.port !== undefined) red.port = r.redirect.port;
    // derivePort: the port the request came in on (the context's port, as Istio does) or the scheme's default.
    if (r.redirect.derivePort === 'FROM_REQUEST_PORT' && ctx.port !== undefined) red.port = ctx.port;
    if (r.redirect.derivePort === 'FROM_PROTOCOL_DEFAULT' || (r.redirect.derivePort === 'FROM_REQUEST_PORT' && ctx.port === undefined)) red.derivePort = r.redirect.derivePort;
    if (r.redirect.scheme !== undefined) red.scheme = r.redirect.scheme;
    red.redirectCode = r.redirect.redirectCode ?? 301;
    route.redirect = red;
  } else if (r.directResponse) {
    const body = r.directResponse.body;
    const dr: NonNullable<Route['directResponse']> = { status: r.directResponse.status };
    if (body?.string !== undefined) dr.body = body.string;
    else if (body?.bytes !== undefined) dr.body = Buffer.from(body.bytes, 'base64').toString('utf8');
    route.directResponse = dr;
  } else {
    const dests = r.route ?? [];
    // A rule that says nowhere to go (an unresolved delegate) is left out: a route without destinations would be refused.
    if (dests.length === 0) return null;
    const destinations: WeightedCluster[] = dests.map((d) => {
      // As Istio: a destination without a weight gets none, unless it is the only one (bowline validate warns the same).
      const w: WeightedCluster = { cluster: destinationCluster(ctx, d.destination), weight: d.weight ?? (dests.length === 1 ? 100 : 0) };
      if (d.headers) w.headers = d.headers;
      return w;
    });
    const action: RouteAction = { destinations, retries: retryPolicy(r.retries), allowUpgrade: true };
    const t = ms(r.timeout);
    if (t !== undefined && t > 0) action.timeoutMs = t;
    if (r.rewrite) {
      const rw: NonNullable<RouteAction['rewrite']> = {};
      if (r.rewrite.uri !== undefined) rw.uri = r.rewrite.uri;
      if (r.rewrite.authority !== undefined) rw.authority = r.rewrite.authority;
      if (r.rewrite.uriRegexRewrite?.match !== undefined) rw.uriRegex = { match: r.rewrite.uriRegexRewrite.match, rewrite: r.rewrite.uriRegexRewrite.rewrite ?? '' };
      action.rewrite = rw;
    }
    const mirrors: NonNullable<RouteAction['mirrors']> = [];
    if (r.mirror) mirrors.push({ cluster: destinationCluster(ctx, r.mirror), percentage: r.mirrorPercentage?.value ?? 100 });
    for (const m of r.mirrors ?? []) mirrors.push({ cluster: destinationCluster(ctx, m.destination), percentage: m.percentage?.value ?? 100 });
    if (mirrors.length) action.mirrors = mirrors;
    route.route = action;
  }
  if (r.headers) route.headers = r.headers;
  if (r.fault) {
    const f: NonNullable<Route['fault']> = {};
    const delay = r.fault.delay && ms(r.fault.delay.fixedDelay);
    const mean = r.fault.delay && ms(r.fault.delay.exponentialDelay);
    if (r.fault.delay && delay !== undefined) f.delay = { fixedDelayMs: delay, percentage: percentOf(r.fault.delay) };
    else if (r.fault.delay && mean !== undefined) f.delay = { exponentialDelayMs: mean, percentage: percentOf(r.fault.delay) };
    if (r.fault.abort) {
      const a: NonNullable<NonNullable<Route['fault']>['abort']> = { percentage: percentOf(r.fault.abort) };
      if (r.fault.abort.httpStatus !== undefined) a.httpStatus = r.fault.abort.httpStatus;
      if (r.fault.abort.grpcStatus !== undefined) a.grpcStatus = r.fault.abort.grpcStatus;
      if (r.fault.abort.http2Error !== undefined) a.http2Error = http2ErrorName(r.fault.abort.http2Error);
      f.abort = a;
    }
    if (f.delay || f.abort) route.fault = f;
  }
  if (r.corsPolicy) route.cors = corsPolicy(r.corsPolicy);
  return route;
}
