/**
 * What every connection and request of one proxy shares: the current compiled listener
 * settings (swapped atomically on config change), cluster state, pools, counters and hooks.
 */
import type { CompiledRouteConfig } from './router/index.js';
import type { ListenerChains } from './detect/chains.js';
import type { ListenerDispatchState } from './detect/dispatch.js';
import type { ProxyHooks } from './record.js';
import type { ProxyStats } from './stats.js';
import type { ClusterManager } from './cluster/index.js';
import type { Upstreams } from './upstream/registry.js';
import type { AuthzSlot } from './authz/slot.js';
import type { Socket } from 'node:net';
import type { OwnFacts } from './passthrough/guard.js';
import type { PeerFactsCache } from './identity/peer-facts.js';
import type { IdleSweep } from './http/idle-sweep.js';
import type { PathNormalization } from './http/path-normalize.js';
import type { ProxyTimers } from './timers.js';
import type { H2Loader } from './detect/h2-loader.js';
import type { KeptRequest } from './exchange/kept-request.js';

/** One HTTP listener's settings, compiled from a config version. Immutable once built. */
export interface HttpListenerRuntime {
  name: string;
  direction: 'inbound' | 'outbound' | 'gateway';
  /** The port routing sees (Listener.logicalPort, else the bound port). */
  logicalPort: number;
  /** Compiled route table, or undefined when the named RouteConfig is missing (every request 404 NR). */
  routes: CompiledRouteConfig | undefined;
  maxRequestHeadersBytes: number;
  acceptAbsoluteForm: boolean;
  generateRequestId: boolean;
  idleTimeoutMs: number;
  /** Time allowed from the first byte of a request head to its end (0: no limit); then 408 and close. */
  requestHeadersTimeoutMs: number;
  /** MeshConfig pathNormalization: how request paths are normalised before authorization and routing (http/path-normalize.ts). */
  pathNormalization: PathNormalization;
  /** `http` (TLS listeners come later). */
  scheme: string;
  /** The config version this was compiled from. */
  version: string;
  /** The chain's logicalPort is its own (a captured listener's chain for one destination port), not the listener's. */
  ownPort?: boolean;
  /** Filter chains compiled for dispatch (TLS, HTTP/2, TCP, detection: detect/dispatch.ts); absent for a plain HTTP/1.1 listener. */
  chains?: ListenerChains;
}

/** A listener's current runtime; requests read `current` once at their start. */
export interface ListenerSlot {
  current: HttpListenerRuntime;
  /** What the dispatcher makes once for this listener and shares among its connections (detect/dispatch.ts); absent on chain slots. */
  dispatch?: ListenerDispatchState;
}

/** Shared state of one proxy instance. */
export interface ProxyContext {
  stats: ProxyStats;
  hooks: ProxyHooks;
  clusters: ClusterManager;
  /** Per-cluster upstream state: HTTP/1.1 pools, HTTP/2 sessions, open TCP sessions (upstream/registry.ts). */
  upstreams: Upstreams;
  /** HTTP/2 toward clients (h2/server.ts), loaded with the proxy's first HTTP/2 connection (detect/h2-loader.ts). */
  h2: H2Loader;
  /** The current authorization engine, RequestAuthentication and own SPIFFE id (authz/slot.ts), swapped with each config. */
  authz: AuthzSlot;
  /** Randomness for retries' back-off (injectable in tests). */
  random: () => number;
  /** Logs a data-plane event at most once per `key` per 10 s (never throws). */
  log(key: string, message: string): void;
  /** True once draining started: responses carry `connection: close`. */
  draining: boolean;
  /** This proxy's role and the local ports it owns: passthrough never reaches them (passthrough/guard.ts). */
  own: OwnFacts;
  /** Clusters this proxy already warned about for tls.insecureSkipVerify: the warning is logged once per cluster and proxy (tls/upstream.ts). */
  upstreamTlsWarned: Set<string>;
  /** x-forwarded-client-cert and principal per peer identity, made once (identity/peer-facts.ts). */
  peerFacts: PeerFactsCache;
  /** Closes this proxy's idle keep-alive HTTP/1.1 connections (http/idle-sweep.ts). */
  idleSweep: IdleSweep;
  /** The last finished request's objects, so a GC in a quiet period keeps the request path's optimised code (exchange/kept-request.ts). */
  kept: KeptRequest;
  /** The original destination of a connection redirected by capture (SO_ORIGINAL_DST; capture/original-dst.ts),
   *  undefined when the connection was not redirected or the lookup is not available. */
  originalDst?: (socket: Socket) => { address: string; port: number } | undefined;
  /** Timers for connection deadlines (the request-headers timeout, drain deadlines); Node's when absent (timers.ts). */
  timers?: ProxyTimers;
}
