/**
 * The router's contract with the request pipeline: what a request looks like to the route
 * table, and the plain-data decision the table answers (Istio VirtualService semantics).
 */
import type { CompiledCors } from '../filters/cors.js';
import type { CompiledFault } from '../filters/fault.js';
import type { CompiledHeaderOps } from '../filters/headers.js';
import type { CompiledRetryPolicy } from '../filters/retry.js';

/** What the route table sees of one request. Header names are asked for in lowercase. */
export interface RouteInput {
  method: string;
  /** The raw request target path, with its query string (`/reviews/0?x=1`). */
  path: string;
  /** The Host / :authority value as received (may carry a port). */
  authority: string;
  /** `http` or `https`. */
  scheme: string;
  /** The listener's logical port. */
  port: number;
  /** A request header's value (first value if repeated), or undefined. Called only for headers rules name. */
  header(name: string): string | undefined;
}

/** A mirror target of a route; `take()` answers whether this request is mirrored (exact long-run percentage). */
export interface CompiledMirror {
  cluster: string;
  percentage: number;
  take(): boolean;
}

/** A route as the pipeline uses it once selected; built once at config time, shared by requests. */
export interface CompiledRoute {
  /** The route's name (Istio HTTPRoute.name), or `vhost/index` when unnamed. */
  name: string;
  /** The virtual host this route belongs to. */
  virtualHost: string;
  /** Whole-request timeout in ms; 0 means none. */
  timeoutMs: number;
  /** The route's retry policy, else its virtual host's; undefined means no retries. */
  retries?: CompiledRetryPolicy;
  /** Route-level header operations (request and response). */
  headers?: CompiledHeaderOps;
  fault?: CompiledFault;
  /** The route's CORS policy, else its virtual host's. */
  cors?: CompiledCors;
  mirrors: CompiledMirror[];
  /** Allow protocol upgrades (WebSocket); Istio allows them by default. */
  allowUpgrade: boolean;
}

/** Forward to a cluster already picked by weight; `path`/`authority` are the values to send (rewrites applied). */
export interface ForwardDecision {
  kind: 'forward';
  route: CompiledRoute;
  cluster: string;
  /** Header operations of the picked destination (applied after the route's). */
  destinationHeaders?: CompiledHeaderOps;
  /** Path (with query) to send upstream: the original, or the rewritten one. */
  path: string;
  /** Authority to send upstream: the original, or the rewritten one. */
  authority: string;
  /** True when `path` differs from the request's (the pipeline may set x-envoy-original-path). */
  pathRewritten: boolean;
}

/** Answer with a redirect (Istio HTTPRedirect). */
export interface RedirectDecision {
  kind: 'redirect';
  route: CompiledRoute;
  status: number;
  location: string;
}

/** Answer locally with a fixed response (Istio directResponse). */
export interface DirectDecision {
  kind: 'direct';
  route: CompiledRoute;
  status: number;
  body: string;
  contentType: string;
}

/** No virtual host or no route matched: the pipeline answers 404 with flag NR. */
export interface NoRouteDecision {
  kind: 'none';
}

/** The route table's answer for one request. */
export type RouteDecision = ForwardDecision | RedirectDecision | DirectDecision | NoRouteDecision;

/** A route table compiled for one proxy: matchers and regexes built once, `select` is the hot path. */
export interface CompiledRouteConfig {
  name: string;
  /** Picks the route (and the weighted destination) for one request. Never throws. */
  select(input: RouteInput): RouteDecision;
}
