/**
 * GET /debug/explain?from=WORKLOAD[.NS]&url=URL[&method=M][&header=NAME:%20VALUE]...: what
 * `bowline explain` prints, as JSON (src/control/explain/explain.ts). 404 with the known
 * workloads for an unknown `from`, 400 for a bad URL or missing parameter.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MeshController } from '../../mesh/controller.js';
import type { PushServer } from '../../push/server/server.js';
import type { ReplicaParts } from '../replicas/peers.js';
import { BadRequestUrlError, explain } from './explain.js';
import { gatherTraffic, missingTraffic } from '../replicas/traffic.js';
import { explainAcrossReplicas } from './replica-sources.js';
import { UnknownWorkloadError } from './workloads.js';

/** Window of recent traffic explain quotes. */
const TRAFFIC_PERIOD_MS = 5 * 60_000;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body, null, 2) + '\n');
}

function failure(res: ServerResponse, status: number, reason: string, message: string, extra: Record<string, unknown> = {}): void {
  send(res, status, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, reason, message, ...extra });
}

/** Parses `name: value` header arguments. */
export function parseHeaders(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new BadRequestUrlError(`header "${h}" is not "name: value"`);
    out[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  return out;
}

/**
 * The handler of /debug/explain; without a push server (an API-only control plane) it answers 503.
 * With `replicas` (a store shared by several), proxies connected to a peer are read from that peer.
 */
export function explainHandler(push: { server: PushServer; controller: MeshController; replicas?: ReplicaParts } | undefined): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  return async (req, res, url) => {
    if (req.method !== 'GET') return failure(res, 405, 'MethodNotAllowed', 'use GET');
    if (!push) return failure(res, 503, 'BOWLINE_E_EXPLAIN_NO_PUSH', 'this control plane runs no push server: nothing to explain');
    const q = url.searchParams;
    const from = q.get('from') ?? '';
    const target = q.get('url') ?? '';
    if (!from || !target) return failure(res, 400, 'BOWLINE_E_EXPLAIN_URL', 'from and url are required');
    try {
      const server = push.server;
      const request = { from, url: target, method: q.get('method') ?? 'GET', headers: parseHeaders(q.getAll('header')) };
      // Replicas on a shared store: the traffic every replica's proxies reported (each reports to the replica holding its
      // stream), gathered while explainAcrossReplicas gathers their proxies.
      let traffic = { edges: server.stats.graphEdges(TRAFFIC_PERIOD_MS), periodMs: TRAFFIC_PERIOD_MS };
      let missing: string[] = [];
      const replicas = push.replicas;
      const ready = replicas ? gatherTraffic(replicas.self, server.stats, replicas.peers, TRAFFIC_PERIOD_MS).then((g) => {
        traffic = { edges: g.window.graphEdges(TRAFFIC_PERIOD_MS), periodMs: TRAFFIC_PERIOD_MS };
        missing = missingTraffic(g);
      }) : undefined;
      const out = await explainAcrossReplicas((src) => explain(src, request, traffic), { snapshot: push.controller.current(), now: Date.now(), server, ...(replicas ? { replicas } : {}), ...(ready ? { ready } : {}) });
      out.warnings.push(...missing);
      send(res, 200, out);
    } catch (err) {
      if (err instanceof UnknownWorkloadError) return failure(res, 404, err.code, err.message, { known: err.known });
      if (err instanceof BadRequestUrlError) return failure(res, 400, err.code, err.message);
      throw err;
    }
  };
}
