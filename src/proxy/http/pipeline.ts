/**
 * The request pipeline of an HTTP listener, one named step a line, read top to bottom.
 * Each step returns CONTINUE, STOP (it answered or failed the request) or PAUSE (it resumes
 * the pipeline later, e.g. a fault delay). A step that throws is turned into a local 500 by
 * `run`: no exception crosses a step boundary.
 *
 *   head       -> request id, x-forwarded-*, target form, Expect   (this file)
 *   path       -> path-normalize.ts: mesh pathNormalization, once (400 when it cannot be normalised);
 *                 authorization, routing and the upstream all see the normalised path
 *   authorize  -> authz/, inbound only: x-forwarded-client-cert, RequestAuthentication (401),
 *                 AuthorizationPolicy CUSTOM (authz/ext-authz.ts: pauses for the external
 *                 authorizer; its status on a denial), then DENY/ALLOW (403 RBAC: access denied)
 *   route      -> router/ select: forward | redirect | direct | none (404 NR)
 *   fault      -> filters/fault: delay (DI), abort (FI: a status, or a reset with an HTTP/2 error code)
 *   cors       -> filters/cors: preflight answered here, response headers remembered
 *   headers    -> filters/headers: route then destination request header operations
 *   cluster    -> the route's cluster must exist (503 NC); a passthrough (original_dst) cluster
 *                 resolves its destination: the captured original destination, else the authority
 *                 (passthrough/guard.ts; a refused destination gets 502)
 *   mirror     -> upstream/mirror: fire-and-forget copies
 *   forward    -> exchange/exchange.ts: attempts through one upstream client, retries, timeouts,
 *                 response (+ response header ops)
 */
import { Flag } from '../record.js';
import { applyHeaderMutation, isPreflight } from '../filters/index.js';
import { mirrorRequest } from '../upstream/mirror.js';
import { AUTHZ_DENIED_BODY, AUTHZ_DENIED_STATUS, type AuthzEngine, type AuthzRequest } from '../authz/index.js';
import { checkExternal, EXT_AUTHZ_ERROR_CODE } from '../authz/ext-authz.js';
import { authorizationOf, deniedLine, jwtOf, ownIdentityOf } from '../authz/slot.js';
import { JWT_FAILED_BODY, JWT_FAILED_STATUS } from '../authz/jwt.js';
import type { Exchange } from '../exchange/exchange.js';
import type { Headers } from './head.js';
import type { RouteDecision, RouteInput } from '../router/index.js';
import { BLACKHOLE_CLUSTER, passthroughTarget, splitHostPort } from '../passthrough/guard.js';
import { normalizePath, PathError } from './path-normalize.js';
import { newRequestId } from '../../telemetry/tracing/ids.js';

/** What a step tells the pipeline. */
export const CONTINUE = 0;
/** The step answered (or failed) the request; nothing more runs. */
export const STOP = 1;
/** The step will call `run(x, x.resumeAt)` itself later. */
export const PAUSE = 2;

type Step = (x: Exchange) => number;

/** The steps in order (see the header comment). */
const STEPS: readonly Step[] = [head, path, authorize, route, fault, cors, requestHeaders, cluster, mirror, forward];

/** Runs the pipeline from step `from`. */
export function run(x: Exchange, from = 0): void {
  for (let i = from; i < STEPS.length; i++) {
    let r: number;
    try {
      r = STEPS[i]!(x);
    } catch (err) {
      x.ctx.log('pipeline', `request pipeline step ${STEPS[i]!.name} failed: ${String(err)}`);
      x.localReply(500, 'internal error\n', 0);
      return;
    }
    if (r === STOP) return;
    if (r === PAUSE) { x.resumeAt = i + 1; return; }
  }
}

/** HTTP connection manager duties: request id, x-forwarded-for/-proto, target form, 100-continue. */
function head(x: Exchange): number {
  const h = x.head;
  if (h.method === 'CONNECT') {
    // HTTP_PROXY tunnels (curl and every client send CONNECT for https://): TCP to host:port (detect/tunnel.ts).
    if (x.lst.acceptAbsoluteForm && x.lst.direction === 'outbound' && x.ds.tunnel !== undefined) {
      const t = splitHostPort(h.authority, 443);
      if (t === undefined) { x.localReply(400, `CONNECT target ${JSON.stringify(h.authority)} is not host:port\n`, Flag.DPE); return STOP; }
      x.ds.tunnel(t.host, t.port);
      return STOP;
    }
    x.localReply(405, 'CONNECT is accepted only on a sidecar\'s outbound listener\n', 0);
    return STOP;
  }
  if (h.absolute && !x.lst.acceptAbsoluteForm) {
    x.localReply(400, 'absolute-form request targets are accepted only on outbound listeners with acceptAbsoluteForm\n', Flag.DPE);
    return STOP;
  }
  const hs = h.headers;
  let id = hs.get('x-request-id');
  if (id === undefined && x.lst.generateRequestId) { id = newRequestId(); hs.add('x-request-id', id); }
  x.requestId = id ?? '';
  const xff = hs.get('x-forwarded-for');
  hs.set('x-forwarded-for', xff === undefined ? x.ds.remoteAddress : xff + ', ' + x.ds.remoteAddress);
  if (hs.get('x-forwarded-proto') === undefined) hs.add('x-forwarded-proto', h.scheme ?? x.lst.scheme);
  if (h.expectContinue && !x.bodyDone) x.ds.continue?.();
  return CONTINUE;
}

/** Path normalisation (mesh pathNormalization, default BASE): the one place the request's path changes form. */
function path(x: Exchange): number {
  const h = x.head;
  const n = normalizePath(h.path, x.lst.pathNormalization);
  if (n instanceof PathError) {
    x.ctx.stats.downstreamProtocolErrors++;
    x.ctx.log(`path:${x.lst.name}`, `request ${h.method} ${JSON.stringify(h.path.slice(0, 200))} refused: ${n.message} (${n.code})`);
    x.localReply(400, `${n.message} (${n.code})\n`, Flag.DPE);
    return STOP;
  }
  if (n !== h.path) { h.path = n; x.path = n; }
  return CONTINUE;
}

/** AuthorizationPolicy on inbound listeners (authz/): a refused request gets 403 `RBAC: access denied`. */
function authorize(x: Exchange): number {
  if (x.lst.direction !== 'inbound') return CONTINUE;
  const h = x.head;
  // x-forwarded-client-cert, sanitize-and-set (Envoy): never trust the client's; say who called over mTLS.
  if (h.headers.get('x-forwarded-client-cert') !== undefined) h.headers.remove('x-forwarded-client-cert');
  // Made once per peer identity (identity/peer-facts.ts), not per request.
  const peer = x.ctx.peerFacts.of(ownIdentityOf(x.ctx), x.peerIdentity);
  if (peer.xfcc !== '') h.headers.set('x-forwarded-client-cert', peer.xfcc);
  const engine = authorizationOf(x.ctx);
  const jwt = jwtOf(x.ctx);
  if (!engine.enabled && !jwt.enabled) return CONTINUE;
  let requestAuth: AuthzRequest['requestAuth'];
  if (jwt.enabled) {
    const a = jwt.authenticate((n) => h.headers.get(n), h.path);
    if (!a.ok) {
      x.ctx.log(`jwt:${x.lst.name}`, `request ${h.method} ${h.path} refused: JWT verification failed: ${a.reason} (BOWLINE_E_JWT_INVALID)`);
      x.ctx.stats.jwtRejected++;
      x.localReply(JWT_FAILED_STATUS, JWT_FAILED_BODY, Flag.RBAC);
      return STOP;
    }
    requestAuth = a.auth;
    if (a.rule && !a.rule.forwardOriginalToken) for (const f of a.rule.fromHeaders?.length ? a.rule.fromHeaders : [{ name: 'authorization' }]) h.headers.remove(f.name.toLowerCase());
    if (a.rule?.outputPayloadToHeader && a.auth) h.headers.set(a.rule.outputPayloadToHeader.toLowerCase(), Buffer.from(JSON.stringify(a.auth.claims)).toString('base64url'));
  }
  if (!engine.enabled) return CONTINUE;
  const principal = peer.principal;
  const r: AuthzRequest = {
    sourceIp: x.ds.remoteAddress, port: x.lst.logicalPort, host: h.authority, method: h.method, path: h.path,
    header: (n) => h.headers.get(n),
    ...(principal !== undefined ? { principal } : {}),
    ...(requestAuth !== undefined ? { requestAuth } : {}),
  };
  const checks = engine.customFor(r);
  if (checks.length === 0) return decide(x, engine, r) ? CONTINUE : STOP;
  // CUSTOM first (Istio's order): every matching policy's external authorizer must allow.
  const at = x.resumeAt = STEPS.indexOf(authorize) + 1;
  askExternal(x, checks, r, 0, () => { if (decide(x, engine, r)) run(x, at); });
  return PAUSE;
}

/** DENY then ALLOW; on a refusal answers 403 and returns false. */
function decide(x: Exchange, engine: AuthzEngine, r: AuthzRequest): boolean {
  const d = engine.evaluate(r);
  if (d.allowed) return true;
  x.ctx.log(`authz:${x.lst.name}:${d.policy ?? ''}`, deniedLine(`${x.head.method} ${x.head.path}`, r, d));
  x.ctx.stats.authzDenied++;
  x.localReply(AUTHZ_DENIED_STATUS, AUTHZ_DENIED_BODY, Flag.RBAC);
  return false;
}

/** Asks the external authorizers of `checks` in turn (authz/ext-authz.ts); `next` runs when all allowed. */
function askExternal(x: Exchange, checks: ReturnType<AuthzEngine['customFor']>, r: AuthzRequest, i: number, next: () => void): void {
  if (i >= checks.length) return next();
  const { policy, provider } = checks[i]!;
  const h = x.head;
  checkExternal(x.ctx.clusters, provider, {
    method: h.method, path: h.path, names: h.headers.names, values: h.headers.values,
    host: h.authority, scheme: h.scheme ?? x.lst.scheme, protocol: x.ds.protocol, source: x.ds.remote, destinationPort: x.lst.logicalPort, peerIdentity: x.peerIdentity,
  }, x.ctx.stats).then((o) => {
    if (x.done) return;
    if (o.kind === 'allow') {
      for (const n of o.removeHeaders ?? []) h.headers.remove(n);
      for (const [k, v] of o.upstreamHeaders) h.headers.set(k, v);
      for (const [k, v] of o.appendHeaders ?? []) h.headers.add(k, v);
      return askExternal(x, checks, r, i + 1, next);
    }
    const what = `${h.method} ${h.path}`;
    if (o.kind === 'error') {
      x.ctx.log(`ext-authz:${policy}`, `external authorization of ${what} failed: ${o.reason}; ${provider.config.failOpen ? 'allowed (failOpen)' : 'refused (fail closed)'} [${policy}] (${EXT_AUTHZ_ERROR_CODE})`);
      if (provider.config.failOpen) return askExternal(x, checks, r, i + 1, next);
      x.ctx.stats.authzDenied++;
      x.localReply(provider.config.statusOnError ?? AUTHZ_DENIED_STATUS, '', Flag.UAEX);
      return;
    }
    x.ctx.log(`authz:${x.lst.name}:${policy}`, deniedLine(what, r, { allowed: false, policy, reason: o.reason }));
    x.ctx.stats.authzDenied++;
    const ct = o.headers.find(([k]) => k === 'content-type')?.[1];
    x.localReply(o.status, o.body, Flag.UAEX, o.headers.filter(([k]) => k !== 'content-type'), ct);
  }, (err) => { if (!x.done) x.localReply(500, `internal error: ${String(err)}\n`, 0); });
}

/**
 * What the route table selects on: one object for every request, filled before each selection
 * (a table reads its input only while `select` runs and keeps none of it: no object and no
 * closure per request).
 */
class RouteQuery implements RouteInput {
  method = '';
  path = '';
  authority = '';
  scheme = '';
  port = 0;
  headers: Headers | null = null;

  header(name: string): string | undefined {
    return this.headers === null ? undefined : this.headers.get(name);
  }
}
const QUERY = new RouteQuery();
const NO_ROUTE: RouteDecision = { kind: 'none' };

/** Route selection (router/): decides forward, redirect, direct response or 404 NR. */
function route(x: Exchange): number {
  const table = x.lst.routes;
  const h = x.head;
  let d: RouteDecision;
  if (table === undefined) d = NO_ROUTE;
  else {
    const q = QUERY;
    q.method = h.method;
    q.path = h.path;
    q.authority = h.authority;
    q.scheme = h.scheme ?? x.lst.scheme;
    q.port = x.lst.logicalPort;
    q.headers = h.headers;
    try {
      d = table.select(q);
    } finally {
      q.headers = null;
    }
  }
  switch (d.kind) {
    case 'none':
      x.localReply(404, '', Flag.NR);
      return STOP;
    case 'redirect':
      x.route = d.route;
      x.routeName = d.route.name;
      x.localReply(d.status, '', 0, [['location', d.location]]);
      return STOP;
    case 'direct':
      x.route = d.route;
      x.routeName = d.route.name;
      // Istio's REGISTRY_ONLY catch-all: telemetry names it as Envoy's stats do.
      if (d.route.name === 'block_all') x.cluster = BLACKHOLE_CLUSTER;
      x.localReply(d.status, d.body, 0, undefined, d.contentType);
      return STOP;
    case 'forward':
      x.route = d.route;
      x.forward = d;
      x.routeName = d.route.name;
      x.cluster = d.cluster;
      return CONTINUE;
  }
}

/** Fault injection: a delay (DI) pauses the pipeline; an abort (FI) answers with its status. */
function fault(x: Exchange): number {
  const f = x.route!.fault;
  if (f === undefined) return CONTINUE;
  const d = f.decide();
  if (d === undefined) return CONTINUE;
  const aborts = d.abortStatus !== undefined || d.resetCode !== undefined;
  const abort = (): void => {
    if (d.resetCode !== undefined) x.faultReset(d.resetCode);
    else if (d.abortStatus !== undefined) x.localReply(d.abortStatus, 'fault filter abort', Flag.FI);
  };
  if (d.delayMs > 0) {
    x.flags |= Flag.DI;
    setTimeout(() => {
      if (x.done) return;
      if (aborts) return abort();
      run(x, x.resumeAt);
    }, d.delayMs);
    return PAUSE;
  }
  abort();
  return aborts ? STOP : CONTINUE;
}

/** CORS: preflights from allowed origins are answered here; other requests remember their response headers. */
function cors(x: Exchange): number {
  const c = x.route!.cors;
  if (c === undefined) return CONTINUE;
  const hs = x.head.headers;
  const origin = hs.get('origin');
  if (isPreflight(x.method, origin, hs.get('access-control-request-method'))) {
    const pre = c.preflight(origin);
    if (pre !== undefined) { x.localReply(200, '', 0, pre); return STOP; }
    return CONTINUE;
  }
  x.corsHeaders = c.responseHeaders(origin);
  return CONTINUE;
}

/** Request header operations: the route's, then the picked destination's. */
function requestHeaders(x: Exchange): number {
  // Called only when there is a mutation: most routes have none, and a call that returns at once
  // never warmed up enough to be optimised or inlined (it ran in the interpreter twice per request).
  const rm = x.route!.headers?.request;
  if (rm !== undefined) applyHeaderMutation(rm, x.head.headers);
  const dm = x.forward!.destinationHeaders?.request;
  if (dm !== undefined) applyHeaderMutation(dm, x.head.headers);
  return CONTINUE;
}

/** The route's cluster must exist in this config version (else 503 NC). */
function cluster(x: Exchange): number {
  const c = x.ctx.clusters.get(x.cluster);
  if (c === undefined) {
    x.localReply(503, `no cluster ${x.cluster}`, Flag.NC);
    return STOP;
  }
  if (c.config.discovery !== 'original_dst') return CONTINUE;
  const dst = x.capturedDst ?? splitHostPort(x.head.authority, x.lst.scheme === 'https' ? 443 : 80);
  if (dst === undefined) { x.localReply(400, 'passthrough needs a host in the request\n', Flag.DPE); return STOP; }
  const host = 'host' in dst ? dst.host : dst.address;
  const at = x.resumeAt = STEPS.indexOf(cluster) + 1;
  passthroughTarget(x.ctx.own, host, dst.port).then((t) => {
    if (x.done) return;
    if ('refused' in t) {
      x.ctx.log('passthrough:' + x.lst.name, `passthrough refused on listener ${x.lst.name}: ${t.refused} (BOWLINE_E_PASSTHROUGH_REFUSED)`);
      x.localReply(502, `passthrough refused: ${t.refused}\n`, Flag.NR);
      return;
    }
    x.originalDst = t;
    run(x, at);
  }, (err) => { if (!x.done) x.localReply(500, `internal error: ${String(err)}\n`, 0); });
  return PAUSE;
}

/** Mirrors: fire-and-forget copies to other clusters (bodiless requests; see upstream/mirror.ts). */
function mirror(x: Exchange): number {
  const ms = x.route!.mirrors;
  for (let i = 0; i < ms.length; i++) if (ms[i]!.take()) mirrorRequest(x, ms[i]!.cluster);
  return CONTINUE;
}

/** Lets the telemetry hook rewrite the request's headers, then starts the upstream exchange (exchange/exchange.ts). */
function forward(x: Exchange): number {
  const h = x.head;
  const onHeaders = x.ctx.hooks.onRequestHeaders;
  if (onHeaders !== undefined) {
    try { onHeaders(x, h.headers); } catch (err) { x.ctx.log('hook', `onRequestHeaders hook threw: ${String(err)}`); }
  }
  x.startForward(h.upgrade !== undefined && x.route!.allowUpgrade ? h.upgrade : undefined);
  return STOP;
}
