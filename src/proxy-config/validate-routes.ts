/**
 * Validation of route tables (VirtualService semantics): virtual hosts, matches, actions and
 * per-route policies. Cluster references are checked against the config's clusters.
 */
import type { Checker } from './validate-kit.js';

/** Envoy retry-on conditions the proxy understands (plus status codes written as numbers). */
const RETRY_ON = ['5xx', 'gateway-error', 'connect-failure', 'refused-stream', 'reset', 'retriable-4xx', 'retriable-status-codes', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'];
const REDIRECT_CODES = [301, 302, 303, 307, 308];
/** HTTP/2 error code names (RFC 9113 section 7) a fault abort may reset a stream with. */
export const HTTP2_ERROR_CODES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];

/** What route validation needs to know about the rest of the config. */
export interface RouteRefs {
  clusters: ReadonlySet<string>;
}

function headerOps(c: Checker, v: unknown, path: string): void {
  const o = c.obj(v, path, false);
  if (!o) return;
  for (const dir of ['request', 'response'] as const) {
    const d = c.obj(o[dir], `${path}.${dir}`, false);
    if (!d) continue;
    c.labels(d.set, `${path}.${dir}.set`);
    c.labels(d.add, `${path}.${dir}.add`);
    c.strings(d.remove, `${path}.${dir}.remove`);
  }
}

/** Validates an Istio-style retry policy. */
export function retryPolicy(c: Checker, v: unknown, path: string): void {
  const o = c.obj(v, path, false);
  if (!o) return;
  c.num(o.attempts, `${path}.attempts`, { required: true, min: 0, int: true });
  c.num(o.perTryTimeoutMs, `${path}.perTryTimeoutMs`, { min: 0 });
  c.strings(o.retryOn, `${path}.retryOn`, true).forEach((s, i) => {
    if (!RETRY_ON.includes(s.trim()) && !/^\d{3}$/.test(s.trim())) c.error(`${path}.retryOn[${i}]`, `unknown retry condition "${s}" (known: ${RETRY_ON.join(', ')}, or a status code)`);
  });
  c.arr(o.retriableStatusCodes, `${path}.retriableStatusCodes`, false).forEach((s, i) => c.num(s, `${path}.retriableStatusCodes[${i}]`, { min: 100, max: 599, int: true }));
  c.bool(o.retryRemoteLocalities, `${path}.retryRemoteLocalities`);
  c.num(o.backoffBaseMs, `${path}.backoffBaseMs`, { min: 1 });
}

/** Validates a CORS policy. */
function cors(c: Checker, v: unknown, path: string): void {
  const o = c.obj(v, path, false);
  if (!o) return;
  c.arr(o.allowOrigins, `${path}.allowOrigins`).forEach((m, i) => c.stringMatch(m, `${path}.allowOrigins[${i}]`));
  c.strings(o.allowMethods, `${path}.allowMethods`);
  c.strings(o.allowHeaders, `${path}.allowHeaders`);
  c.strings(o.exposeHeaders, `${path}.exposeHeaders`);
  c.num(o.maxAgeMs, `${path}.maxAgeMs`, { min: 0 });
  c.bool(o.allowCredentials, `${path}.allowCredentials`);
}

function valueMatches(c: Checker, v: unknown, path: string): void {
  const o = c.obj(v, path, false);
  if (!o) return;
  for (const [k, m] of Object.entries(o)) c.stringMatch(m, `${path}.${k}`, true);
}

function match(c: Checker, v: unknown, path: string): void {
  const m = c.obj(v, path);
  if (!m) return;
  for (const k of ['uri', 'scheme', 'method', 'authority'] as const) if (m[k] !== undefined) c.stringMatch(m[k], `${path}.${k}`);
  valueMatches(c, m.headers, `${path}.headers`);
  valueMatches(c, m.withoutHeaders, `${path}.withoutHeaders`);
  valueMatches(c, m.queryParams, `${path}.queryParams`);
  c.bool(m.ignoreUriCase, `${path}.ignoreUriCase`);
  c.num(m.port, `${path}.port`, { min: 1, max: 65535, int: true });
  c.labels(m.sourceLabels, `${path}.sourceLabels`);
  if (m.sourceNamespace !== undefined) c.str(m.sourceNamespace, `${path}.sourceNamespace`);
  c.strings(m.gateways, `${path}.gateways`);
}

function clusterRef(c: Checker, name: unknown, path: string, refs: RouteRefs, strict: boolean): void {
  if (!c.str(name, path)) return;
  if (refs.clusters.has(name)) return;
  if (strict) c.error(path, `names unknown cluster "${name}"`);
  else c.warn(path, `names unknown cluster "${name}" (requests will get 503 NC until it exists)`);
}

function action(c: Checker, v: Record<string, unknown>, path: string, refs: RouteRefs, strict: boolean): void {
  const dests = c.arr(v.destinations, `${path}.destinations`);
  if (dests.length === 0 && Array.isArray(v.destinations)) c.error(`${path}.destinations`, 'must name at least one cluster');
  let positive = 0;
  dests.forEach((d, i) => {
    const p = `${path}.destinations[${i}]`;
    const o = c.obj(d, p);
    if (!o) return;
    clusterRef(c, o.cluster, `${p}.cluster`, refs, strict);
    if (c.num(o.weight, `${p}.weight`, { required: true, min: 0 }) && o.weight > 0) positive++;
    headerOps(c, o.headers, `${p}.headers`);
  });
  if (dests.length > 1 && positive === 0) c.error(`${path}.destinations`, 'at least one weight must be positive');
  c.num(v.timeoutMs, `${path}.timeoutMs`, { min: 0 });
  retryPolicy(c, v.retries, `${path}.retries`);
  const rw = c.obj(v.rewrite, `${path}.rewrite`, false);
  if (rw) {
    if (rw.uri !== undefined) c.str(rw.uri, `${path}.rewrite.uri`, { empty: true });
    if (rw.authority !== undefined) c.str(rw.authority, `${path}.rewrite.authority`);
    const rx = c.obj(rw.uriRegex, `${path}.rewrite.uriRegex`, false);
    if (rx) {
      c.regex(rx.match, `${path}.rewrite.uriRegex.match`);
      c.str(rx.rewrite, `${path}.rewrite.uriRegex.rewrite`, { empty: true });
    }
    if (rw.uri !== undefined && rx) c.error(`${path}.rewrite`, 'uri and uriRegex cannot both be set');
  }
  c.arr(v.mirrors, `${path}.mirrors`, false).forEach((m, i) => {
    const o = c.obj(m, `${path}.mirrors[${i}]`);
    if (!o) return;
    clusterRef(c, o.cluster, `${path}.mirrors[${i}].cluster`, refs, strict);
    c.num(o.percentage, `${path}.mirrors[${i}].percentage`, { required: true, min: 0, max: 100 });
  });
  c.bool(v.allowUpgrade, `${path}.allowUpgrade`);
}

function fault(c: Checker, v: unknown, path: string): void {
  const f = c.obj(v, path, false);
  if (!f) return;
  const d = c.obj(f.delay, `${path}.delay`, false);
  if (d) {
    if ((d.fixedDelayMs === undefined) === (d.exponentialDelayMs === undefined)) c.error(`${path}.delay`, 'needs exactly one of fixedDelayMs, exponentialDelayMs');
    c.num(d.fixedDelayMs, `${path}.delay.fixedDelayMs`, { min: 0 });
    c.num(d.exponentialDelayMs, `${path}.delay.exponentialDelayMs`, { min: 0 });
    c.num(d.percentage, `${path}.delay.percentage`, { required: true, min: 0, max: 100 });
  }
  const a = c.obj(f.abort, `${path}.abort`, false);
  if (a) {
    const kinds = [a.httpStatus, a.grpcStatus, a.http2Error].filter((k) => k !== undefined).length;
    if (kinds !== 1) c.error(`${path}.abort`, 'needs exactly one of httpStatus, grpcStatus, http2Error');
    c.num(a.httpStatus, `${path}.abort.httpStatus`, { min: 200, max: 599, int: true });
    if (a.grpcStatus !== undefined) c.str(a.grpcStatus, `${path}.abort.grpcStatus`);
    c.oneOf(a.http2Error, `${path}.abort.http2Error`, HTTP2_ERROR_CODES, false);
    c.num(a.percentage, `${path}.abort.percentage`, { required: true, min: 0, max: 100 });
  }
}

function route(c: Checker, v: unknown, path: string, refs: RouteRefs, strict: boolean): void {
  const r = c.obj(v, path);
  if (!r) return;
  if (r.name !== undefined) c.str(r.name, `${path}.name`);
  c.arr(r.match, `${path}.match`, false).forEach((m, i) => match(c, m, `${path}.match[${i}]`));
  const kinds = (['route', 'redirect', 'directResponse'] as const).filter((k) => r[k] !== undefined);
  if (kinds.length !== 1) c.error(path, `must have exactly one of route, redirect, directResponse (has ${kinds.length ? kinds.join(', ') : 'none'})`);
  const ra = c.obj(r.route, `${path}.route`, false);
  if (ra) action(c, ra, `${path}.route`, refs, strict);
  const red = c.obj(r.redirect, `${path}.redirect`, false);
  if (red) {
    if (red.uri !== undefined) c.str(red.uri, `${path}.redirect.uri`);
    if (red.authority !== undefined) c.str(red.authority, `${path}.redirect.authority`);
    c.num(red.port, `${path}.redirect.port`, { min: 1, max: 65535, int: true });
    c.oneOf(red.scheme, `${path}.redirect.scheme`, ['http', 'https'], false);
    c.oneOf(red.derivePort, `${path}.redirect.derivePort`, ['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'], false);
    if (red.port !== undefined && red.derivePort !== undefined) c.error(`${path}.redirect`, 'port and derivePort cannot both be set');
    if (red.redirectCode !== undefined && !REDIRECT_CODES.includes(red.redirectCode as number)) c.error(`${path}.redirect.redirectCode`, `must be one of ${REDIRECT_CODES.join(', ')}`);
  }
  const dr = c.obj(r.directResponse, `${path}.directResponse`, false);
  if (dr) {
    c.num(dr.status, `${path}.directResponse.status`, { required: true, min: 200, max: 599, int: true });
    if (dr.body !== undefined) c.str(dr.body, `${path}.directResponse.body`, { empty: true });
    if (dr.contentType !== undefined) c.str(dr.contentType, `${path}.directResponse.contentType`);
  }
  headerOps(c, r.headers, `${path}.headers`);
  fault(c, r.fault, `${path}.fault`);
  cors(c, r.cors, `${path}.cors`);
}

/** Validates one RouteConfig at `path`. */
export function routeConfig(c: Checker, v: unknown, path: string, refs: RouteRefs): void {
  const rc = c.obj(v, path);
  if (!rc) return;
  c.str(rc.name, `${path}.name`);
  c.bool(rc.validateClusters, `${path}.validateClusters`);
  const strict = rc.validateClusters === true;
  const domains = new Map<string, string>();
  const hostNames = new Set<string>();
  c.arr(rc.virtualHosts, `${path}.virtualHosts`).forEach((h, i) => {
    const p = `${path}.virtualHosts[${i}]`;
    const vh = c.obj(h, p);
    if (!vh) return;
    if (c.str(vh.name, `${p}.name`)) c.unique(hostNames, vh.name, `${p}.name`, 'virtual host');
    const ds = c.strings(vh.domains, `${p}.domains`, true);
    if (Array.isArray(vh.domains) && ds.length === 0) c.error(`${p}.domains`, 'must list at least one domain');
    ds.forEach((d, j) => {
      const key = d.toLowerCase();
      if (d.indexOf('*') > 0 && d.indexOf('*') < d.length - 1) c.error(`${p}.domains[${j}]`, 'a wildcard must be a leading `*` or a trailing `*`');
      if (domains.has(key)) c.error(`${p}.domains[${j}]`, `domain "${d}" is already served by virtual host "${domains.get(key)}"`);
      else domains.set(key, String(vh.name));
    });
    c.arr(vh.routes, `${p}.routes`).forEach((r, j) => route(c, r, `${p}.routes[${j}]`, refs, strict));
    cors(c, vh.cors, `${p}.cors`);
    retryPolicy(c, vh.retries, `${p}.retries`);
  });
}
