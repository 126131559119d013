/**
 * The Graph page's model: workloads (grouped by service, one node per version), the gateway
 * as the entry, and edges with live rate, error ratio, p99, mTLS and protocol. A pure function
 * of the mesh snapshot, the connected proxies and the traffic window.
 */
import type { MeshSnapshot } from '../model/snapshot.js';
import type { ProxyStatus } from '../push/server/connection.js';
import type { EdgeStats } from '../push/server/stats-window.js';

/** A workload (one version of a service), the gateway, or a caller/callee without a proxy. */
export interface GraphNode {
  id: string;
  /** Text shown on the node. */
  label: string;
  workload: string;
  namespace: string;
  app: string;
  version: string;
  kind: 'workload' | 'gateway' | 'external';
  hasProxy: boolean;
  /** Requests per second arriving at this node. */
  rps: number;
}

/** Traffic from one node to another for one service. */
export interface GraphEdge {
  id: string;
  from: string;
  to: string;
  /** Destination service host. */
  service: string;
  rps: number;
  errorRatio: number;
  p50?: number;
  p99?: number;
  mtls: boolean;
  protocol: string;
  requests: number;
  errors: number;
  /** Whose report this is: `destination` (the callee's proxy) or `source` (the caller's). */
  reporter: string;
  classes: Record<string, number>;
}

/** Nodes of one service (its versions), drawn as a box. */
export interface GraphGroup {
  app: string;
  namespace: string;
  nodes: string[];
}

/** What the Graph page draws. */
export interface MeshGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: GraphGroup[];
  /** Set when there is nothing to draw yet: what to do about it. */
  empty?: string;
}

const nodeId = (workload: string, namespace: string): string => `${workload}.${namespace}`;

/** Builds the graph; `edges` are StatsWindow.graphEdges (or the same shape from Prometheus). */
export function buildGraph(snap: MeshSnapshot | undefined, proxies: readonly ProxyStatus[], edges: readonly EdgeStats[]): MeshGraph {
  const nodes = new Map<string, GraphNode>();
  const gateways = new Set(proxies.filter((p) => p.role === 'gateway').map((p) => nodeId(p.workload, p.namespace)));
  const add = (workload: string, namespace: string, app: string, version: string, hasProxy: boolean): GraphNode => {
    const id = nodeId(workload, namespace);
    let n = nodes.get(id);
    if (!n) {
      const kind = gateways.has(id) ? 'gateway' : hasProxy ? 'workload' : 'external';
      n = { id, label: version && version !== 'unknown' && kind === 'workload' ? `${app} ${version}` : workload, workload, namespace, app, version, kind, hasProxy, rps: 0 };
      nodes.set(id, n);
    }
    return n;
  };
  for (const w of snap?.workloads ?? []) add(w.name, w.namespace, w.labels.app ?? w.name, w.labels.version ?? '', w.hasProxy);
  for (const p of proxies) add(p.workload, p.namespace, p.workload, '', true);
  const out: GraphEdge[] = [];
  for (const e of edges) {
    const s = e.source;
    const from = s.workload === 'unknown' ? add('client', 'outside the mesh', 'client', '', false) : add(s.workload, s.namespace, s.app, s.version, true);
    const d = e.destination;
    const host = d.service;
    const to = d.workload === 'unknown' ? add(host.split('.')[0] ?? host, d.namespace === 'unknown' ? host.split('.')[1] ?? '' : d.namespace, host.split('.')[0] ?? host, '', false) : add(d.workload, d.namespace, d.app, d.version, true);
    to.rps += e.rps;
    const id = `${from.id}>${to.id}>${host}`;
    const prev = out.find((x) => x.id === id);
    if (prev) {
      // Several keys (mTLS or protocol differ) for one pair: one edge, summed.
      prev.requests += e.requests;
      prev.errors += e.errors;
      prev.rps += e.rps;
      prev.errorRatio = prev.requests ? prev.errors / prev.requests : 0;
      prev.mtls = prev.mtls && e.mtls;
      prev.p99 = Math.max(prev.p99 ?? 0, e.p99 ?? 0) || undefined;
      for (const [c, n] of Object.entries(e.classes)) prev.classes[c] = (prev.classes[c] ?? 0) + n;
      continue;
    }
    out.push({
      id, from: from.id, to: to.id, service: host, rps: e.rps, errorRatio: e.errorRatio, p50: e.p50, p99: e.p99, mtls: e.mtls,
      protocol: e.protocol, requests: e.requests, errors: e.errors, reporter: e.reporter, classes: { ...e.classes },
    });
  }
  const groups = new Map<string, GraphGroup>();
  for (const n of nodes.values()) {
    if (n.kind !== 'workload') continue;
    const k = `${n.app}.${n.namespace}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { app: n.app, namespace: n.namespace, nodes: [] }));
    g.nodes.push(n.id);
  }
  const graph: MeshGraph = { nodes: [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), edges: out, groups: [...groups.values()] };
  if (nodes.size === 0) graph.empty = 'No workloads yet. Start some with `bowline demo`, or run `bowline proxy --server ...` next to your apps.';
  else if (out.length === 0) graph.empty = 'No traffic in the last minute. Send some requests (e.g. `curl http://localhost:8080/productpage` against `bowline demo`); edges appear within a few seconds.';
  return graph;
}
