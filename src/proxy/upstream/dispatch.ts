/**
 * Which upstream client carries a request: HTTP/2 (h2/upstream.ts, our own codec) when the
 * cluster says `protocol: http2` or `h2Upgrade` (Istio's h2UpgradePolicy UPGRADE), or when the
 * request came over HTTP/2 and the cluster does not insist on HTTP/1.1 (`http1`, `tcp`);
 * otherwise HTTP/1.1 on the cluster's pool (h1-call.ts). Upgrades (WebSocket) always go over
 * HTTP/1.1. Both clients report through the same CallSink, guarded so that a throw in the
 * exchange never reaches a socket callback (h2/guarded-sink.ts).
 */
import type { Cluster } from '../../proxy-config/types.js';
import type { UpstreamEndpoint } from '../cluster/index.js';
import type { ProxyContext } from '../context.js';
import { guardSink } from '../h2/guarded-sink.js';
import type { CallSink, UpstreamCall, UpstreamRequest } from './call.js';
import { h1Dispatch } from './h1-call.js';
import { clusterSpeaksH2 } from './registry.js';

/** True when `req` to `cluster` goes over HTTP/2. */
export function speaksH2(cluster: Cluster, req: UpstreamRequest, fromH2: boolean): boolean {
  if (req.upgrade !== undefined) return false;
  if (clusterSpeaksH2(cluster)) return true;
  return fromH2 && cluster.protocol !== 'http1' && cluster.protocol !== 'tcp';
}

/**
 * Sends `req` to `ep` of `cluster` on the client its protocol needs. 'overflow' when the cluster's
 * limit refuses it (HTTP/1.1 pending queue, HTTP/2 http2MaxRequests): 503 UO; undefined when the
 * cluster is gone. `tunnelIdleMs` closes an upgraded connection idle that long.
 */
export function dispatch(ctx: ProxyContext, cluster: string, ep: UpstreamEndpoint, req: UpstreamRequest, sink: CallSink, fromH2: boolean, tunnelIdleMs = 0): UpstreamCall | 'overflow' | undefined {
  const state = ctx.clusters.get(cluster);
  if (state === undefined) return undefined;
  const c = state.config;
  if (speaksH2(c, req, fromH2)) {
    const calls = ctx.upstreams.sessions(cluster);
    if (calls === undefined) return undefined;
    const h = req.headers;
    if (req.connectionTokens !== null) for (const t of req.connectionTokens) h.remove(t);
    const call = calls.h2(ep, req.method, req.authority, req.path, h, req.bodyLength === 0, sink);
    return call ?? 'overflow';
  }
  return h1Dispatch(ctx.upstreams.pool(cluster), ep, req, guardSink(sink, ctx, 'h1 upstream response'), tunnelIdleMs);
}
