import { arr, bool, dep, dur, en, int, map, obj, req, str, type Path, type CheckContext } from './dsl.js';
import { destination, exportTo, headerMatches, headers, labels, percent, portNumber, stringMatch } from './common.js';
import * as f from './formats.js';
import { isObj } from './walk.js';

const matchRequest = obj('HTTPMatchRequest', {
  name: str(),
  uri: stringMatch,
  scheme: stringMatch,
  method: stringMatch,
  authority: stringMatch,
  headers: headerMatches,
  port: portNumber(),
  sourceLabels: labels,
  gateways: arr(str()),
  queryParams: map(stringMatch),
  ignoreUriCase: bool(),
  withoutHeaders: headerMatches,
  sourceNamespace: str(),
  statPrefix: str(),
});

const routeDestination = obj('HTTPRouteDestination', { destination: req(destination), weight: int(0), headers });
const l4RouteDestination = obj('RouteDestination', { destination: req(destination), weight: int(0) });

const fault = obj('HTTPFaultInjection', {
  delay: obj('Delay', {
    fixedDelay: dur(),
    exponentialDelay: dur(),
    percentage: percent,
    percent: dep(int(0, 100), 'use percentage: {value: N}'),
  }, { oneOf: [['fixedDelay', 'exponentialDelay']], check: (o, p, ctx) => faultPart(o, p, ctx, 'delay', ['fixedDelay', 'exponentialDelay']) }),
  abort: obj('Abort', {
    httpStatus: int(200, 599),
    grpcStatus: str(),
    http2Error: str(),
    percentage: percent,
    percent: dep(int(0, 100), 'use percentage: {value: N}'),
  }, { oneOf: [['httpStatus', 'grpcStatus', 'http2Error']], check: (o, p, ctx) => faultPart(o, p, ctx, 'abort', ['httpStatus', 'grpcStatus', 'http2Error']) }),
});

function faultPart(o: Record<string, unknown>, path: Path, ctx: CheckContext, what: string, kinds: string[]) {
  if (!kinds.some((k) => o[k] !== undefined && o[k] !== null)) {
    ctx.add({ code: 'BOWLINE_E_API_FAULT', path, message: `a fault ${what} needs one of ${kinds.join(', ')}` });
  }
  if (o.percent !== undefined && o.percentage !== undefined) {
    ctx.add({ code: 'BOWLINE_E_API_ONEOF', path: [...path, 'percent'], atKey: true, message: `fault ${what} has both percent and percentage`, hint: 'keep percentage: {value: N}' });
  }
}

const redirect = obj('HTTPRedirect', {
  uri: str(),
  authority: str(),
  port: portNumber(),
  derivePort: en('FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'),
  scheme: str(),
  redirectCode: int(300, 399),
  prefixRewrite: str(),
}, { oneOf: [['port', 'derivePort']] });

const rewrite = obj('HTTPRewrite', {
  uri: str(),
  authority: str(),
  uriRegexRewrite: obj('RegexRewrite', { match: str(f.regex), rewrite: str() }),
}, {
  check: (o, path, ctx) => {
    if (o.uri !== undefined && o.uriRegexRewrite !== undefined) ctx.add({ code: 'BOWLINE_E_API_ONEOF', path: [...path, 'uriRegexRewrite'], atKey: true, message: 'rewrite has both uri and uriRegexRewrite: only one may be set' });
  },
});

const retries = obj('HTTPRetry', {
  attempts: int(0),
  perTryTimeout: dur(1),
  retryOn: str(),
  retryRemoteLocalities: bool(),
  retryIgnorePreviousHosts: bool(),
  backoff: dur(1),
});

const cors = obj('CorsPolicy', {
  allowOrigin: dep(arr(str()), 'use allowOrigins with StringMatch entries, e.g. - exact: https://example.com'),
  allowOrigins: arr(stringMatch),
  allowMethods: arr(str()),
  allowHeaders: arr(str()),
  exposeHeaders: arr(str()),
  maxAge: dur(),
  allowCredentials: bool(),
  unmatchedPreflights: en('UNSPECIFIED', 'FORWARD', 'IGNORE'),
});

const mirrorPolicy = obj('HTTPMirrorPolicy', { destination: req(destination), percentage: percent });

/** One HTTP rule of a VirtualService. */
export const httpRoute = obj('HTTPRoute', {
  name: str(),
  match: arr(matchRequest),
  route: arr(routeDestination),
  redirect,
  directResponse: obj('HTTPDirectResponse', { status: req(int(200, 599)), body: obj('HTTPBody', { string: str(), bytes: str() }, { oneOf: [['string', 'bytes']] }) }),
  delegate: obj('Delegate', { name: str(), namespace: str() }),
  rewrite,
  timeout: dur(),
  retries,
  fault,
  mirror: destination,
  mirrors: arr(mirrorPolicy),
  mirrorPercent: dep(int(0, 100), 'use mirrorPercentage: {value: N}'),
  mirrorPercentage: percent,
  corsPolicy: cors,
  headers,
}, { check: checkHttpRoute });

function checkHttpRoute(o: Record<string, unknown>, path: Path, ctx: CheckContext): void {
  const has = (k: string) => o[k] !== undefined && o[k] !== null && !(Array.isArray(o[k]) && (o[k] as unknown[]).length === 0);
  const actions = ['route', 'redirect', 'directResponse', 'delegate'].filter(has);
  if (actions.length === 0) {
    ctx.add({
      code: 'BOWLINE_E_API_NO_ROUTE',
      path,
      message: 'this HTTP rule has no route, redirect, directResponse or delegate: it must say where requests go',
      hint: isObj(o.headers) || has('match') ? 'if this item was meant as a match condition, indent it under the previous rule\'s match:' : 'add route: - destination: {host: ...}',
    });
  }
  if (actions.length > 1) {
    const second = actions[1]!;
    ctx.add({ code: 'BOWLINE_E_API_ROUTE_AND_REDIRECT', path: [...path, second], atKey: true, message: `an HTTP rule may have only one of route, redirect, directResponse and delegate; this one has ${actions.join(' and ')}` });
  }
  if (has('redirect') && has('rewrite')) {
    ctx.add({ code: 'BOWLINE_E_API_ROUTE_AND_REDIRECT', path: [...path, 'rewrite'], atKey: true, message: 'an HTTP rule with redirect cannot also rewrite' });
  }
  if (o.mirror !== undefined && o.mirrors !== undefined) ctx.add({ code: 'BOWLINE_E_API_ONEOF', path: [...path, 'mirrors'], atKey: true, message: 'mirror and mirrors cannot both be set: use mirrors' });
  if (o.mirrorPercent !== undefined && o.mirrorPercentage !== undefined) ctx.add({ code: 'BOWLINE_E_API_ONEOF', path: [...path, 'mirrorPercent'], atKey: true, message: 'mirrorPercent and mirrorPercentage cannot both be set: keep mirrorPercentage' });
  checkWeights(o.route, [...path, 'route'], ctx);
}

/** Weights are relative: a total of 0 over several destinations is an error; a total other than 100 is normalised with a note. */
export function checkWeights(route: unknown, path: Path, ctx: CheckContext): void {
  if (!Array.isArray(route) || route.length === 0) return;
  const weights = route.map((d) => (isObj(d) && typeof d.weight === 'number' ? d.weight : isObj(d) && typeof d.weight === 'string' ? Number(d.weight) : undefined));
  if (route.length === 1) return;
  if (weights.some((w) => w === undefined)) {
    if (weights.every((w) => w === undefined)) {
      ctx.add({ code: 'BOWLINE_E_API_WEIGHT', path, message: `${route.length} destinations have no weight: with several destinations each needs a weight (relative, e.g. 80 and 20)` });
    } else {
      ctx.add({ severity: 'warning', code: 'BOWLINE_W_API_WEIGHT_MISSING', path, message: 'some destinations have no weight and receive no traffic (weight 0)' });
    }
    return;
  }
  const total = (weights as number[]).reduce((a, b) => a + b, 0);
  if (total === 0) ctx.add({ code: 'BOWLINE_E_API_WEIGHT', path, message: 'the weights of these destinations total 0: at least one must be positive' });
  else if (total !== 100) ctx.add({ severity: 'warning', code: 'BOWLINE_W_API_WEIGHT_TOTAL', path, message: `weights total ${total}, not 100: they are relative and are normalised (Istio before 1.13 required 100)` });
}

const tlsMatch = obj('TLSMatchAttributes', {
  sniHosts: req(arr(str(f.host))),
  destinationSubnets: arr(str(f.cidr)),
  port: portNumber(),
  sourceLabels: labels,
  gateways: arr(str()),
  sourceNamespace: str(),
});
const l4Match = obj('L4MatchAttributes', {
  destinationSubnets: arr(str(f.cidr)),
  sourceSubnet: dep(str(f.cidr), 'not supported by Istio any more; match the source with an AuthorizationPolicy or sourceLabels'),
  port: portNumber(),
  sourceLabels: labels,
  gateways: arr(str()),
  sourceNamespace: str(),
});

/** spec of a VirtualService. */
export const virtualServiceSpec = obj('VirtualServiceSpec', {
  hosts: arr(str(f.host)),
  gateways: arr(str()),
  http: arr(httpRoute),
  tls: arr(obj('TLSRoute', { match: req(arr(tlsMatch)), route: arr(l4RouteDestination) }, { check: (o, p, c) => checkWeights(o.route, [...p, 'route'], c) })),
  tcp: arr(obj('TCPRoute', { match: arr(l4Match), route: arr(l4RouteDestination) }, { check: (o, p, c) => checkWeights(o.route, [...p, 'route'], c) })),
  exportTo,
}, {
  check: (o, path, ctx) => {
    const hosts = o.hosts;
    const gateways = Array.isArray(o.gateways) ? o.gateways : [];
    if (Array.isArray(hosts) && (gateways.length === 0 || gateways.includes('mesh'))) {
      hosts.forEach((h, i) => {
        if (h === '*') ctx.add({ code: 'BOWLINE_E_API_HOST', path: [...path, 'hosts', i], message: 'host "*" is not allowed for a VirtualService that applies to sidecars (the mesh gateway): it would capture all outbound traffic', hint: 'name the hosts, or bind the VirtualService only to gateways (gateways: [NAME] without mesh)' });
      });
    }
    if (!Array.isArray(hosts) || hosts.length === 0) {
      ctx.add({ severity: 'warning', code: 'BOWLINE_W_API_NO_HOSTS', path, message: 'this VirtualService has no hosts: it is only usable as a delegate of another VirtualService' });
    }
    if (!['http', 'tls', 'tcp'].some((k) => Array.isArray(o[k]) && (o[k] as unknown[]).length > 0)) {
      ctx.add({ code: 'BOWLINE_E_API_NO_RULES', path, message: 'a VirtualService needs at least one http, tls or tcp rule' });
    }
  },
});
