/**
 * Compiles a RouteConfig for one proxy into a CompiledRouteConfig: virtual hosts by domain,
 * routes in order (first match wins, Istio semantics), matchers, regexes, rewrites, weighted
 * splits, fault / CORS / header / retry policies all built here, once. `select` then only
 * runs closures and allocates nothing but its decision (and a rewritten path when asked).
 */
import type { NodeInfo, Route, RouteConfig, VirtualHost } from '../../proxy-config/types.js';
import { SmoothWeighted } from './smooth-weighted.js';
import { compileCors } from '../filters/cors.js';
import { compileFault } from '../filters/fault.js';
import { compileHeaderOps, type CompiledHeaderOps } from '../filters/headers.js';
import { compileRetryPolicy } from '../filters/retry.js';
import { compileHttpMatch, type CompiledMatch, type MatchContext } from './match.js';
import { compilePathRewrite, redirectLocation } from './rewrite.js';
import type { CompiledMirror, CompiledRoute, CompiledRouteConfig, RouteDecision, RouteInput } from './types.js';
import { VirtualHostTable } from './virtual-hosts.js';

/** Options for compiling a route table; randomness is injectable for fault percentages. */
export interface CompileOptions {
  random?: () => number;
}

interface Destination { cluster: string; headers?: CompiledHeaderOps }

interface Entry {
  matches: CompiledMatch[] | null; // null: matches everything
  route: CompiledRoute;
  decide(ctx: MatchContext, matched: number): RouteDecision;
}

/** A mirror whose share of requests is exact in the long run (an accumulator, not a coin flip). */
function compileMirror(cluster: string, percentage: number): CompiledMirror {
  let acc = 0;
  const pct = Math.max(0, Math.min(100, percentage));
  return {
    cluster,
    percentage: pct,
    take() {
      acc += pct;
      if (acc >= 100) { acc -= 100; return true; }
      return false;
    },
  };
}

function compileRoute(vh: VirtualHost, r: Route, index: number, opts: CompileOptions): CompiledRoute {
  const cr: CompiledRoute = {
    name: r.name ?? `${vh.name}/${index}`,
    virtualHost: vh.name,
    timeoutMs: r.route?.timeoutMs ?? 0,
    mirrors: (r.route?.mirrors ?? []).map((m) => compileMirror(m.cluster, m.percentage ?? 100)),
    allowUpgrade: r.route?.allowUpgrade ?? true,
  };
  const retries = compileRetryPolicy(r.route?.retries ?? vh.retries);
  if (retries) cr.retries = retries;
  const headers = compileHeaderOps(r.headers);
  if (headers) cr.headers = headers;
  const fault = compileFault(r.fault, opts.random);
  if (fault) cr.fault = fault;
  const cors = compileCors(r.cors ?? vh.cors);
  if (cors) cr.cors = cors;
  return cr;
}

function decider(r: Route, route: CompiledRoute): Entry['decide'] {
  if (r.directResponse) {
    const d = { kind: 'direct' as const, route, status: r.directResponse.status, body: r.directResponse.body ?? '', contentType: r.directResponse.contentType ?? 'text/plain' };
    return () => d;
  }
  if (r.redirect) {
    const red = r.redirect;
    const status = red.redirectCode ?? 301;
    return (ctx) => ({ kind: 'redirect', route, status, location: redirectLocation(red, ctx.input) });
  }
  const action = r.route!;
  const dests: Destination[] = action.destinations.map((d) => {
    const x: Destination = { cluster: d.cluster };
    const h = compileHeaderOps(d.headers);
    if (h) x.headers = h;
    return x;
  });
  const picker = new SmoothWeighted(action.destinations.map((d, i) => ({ item: dests[i]!, weight: action.destinations.length === 1 ? 1 : d.weight })));
  const rewritePath = compilePathRewrite(action.rewrite);
  const authority = action.rewrite?.authority;
  return (ctx, matched) => {
    const dest = picker.next();
    if (!dest) return { kind: 'direct', route, status: 503, body: 'no healthy upstream', contentType: 'text/plain' };
    const input = ctx.input;
    const path = rewritePath ? rewritePath(input.path, matched) : input.path;
    return {
      kind: 'forward',
      route,
      cluster: dest.cluster,
      destinationHeaders: dest.headers,
      path,
      authority: authority ?? input.authority,
      pathRewritten: path !== input.path,
    };
  };
}

/** Compiles a route table for the proxy `node` (whose labels and namespace decide sourceLabels / sourceNamespace). */
export function compileRouteConfig(rc: RouteConfig, node: NodeInfo, opts: CompileOptions = {}): CompiledRouteConfig {
  const hosts = new VirtualHostTable<Entry[]>();
  for (const vh of rc.virtualHosts) {
    const entries: Entry[] = [];
    vh.routes.forEach((r, i) => {
      let matches: CompiledMatch[] | null = null;
      if (r.match && r.match.length > 0) {
        matches = r.match.map((m) => compileHttpMatch(m, node)).filter((m): m is CompiledMatch => m !== null);
        if (matches.length === 0) return; // no match item applies to this proxy: the route is dropped
      }
      const route = compileRoute(vh, r, i, opts);
      entries.push({ matches, route, decide: decider(r, route) });
    });
    hosts.add(vh.domains, entries);
  }
  const ctx: MatchContext = { input: undefined as unknown as RouteInput, pathOnly: '' };
  const none: RouteDecision = { kind: 'none' };
  return {
    name: rc.name,
    select(input) {
      const entries = hosts.lookup(input.authority);
      if (!entries) return none;
      const q = input.path.indexOf('?');
      ctx.input = input;
      ctx.pathOnly = q < 0 ? input.path : input.path.slice(0, q);
      try {
        for (const e of entries) {
          if (e.matches === null) return e.decide(ctx, ctx.pathOnly.charCodeAt(0) === 47 ? 1 : 0);
          for (const m of e.matches) {
            const len = m(ctx);
            if (len >= 0) return e.decide(ctx, len);
          }
        }
        return none;
      } catch {
        return none;
      } finally {
        ctx.input = undefined as unknown as RouteInput;
      }
    },
  };
}
