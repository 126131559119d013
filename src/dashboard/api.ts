/**
 * The dashboard's JSON API under /ui/api/: one read-only view per page, computed from the
 * running control plane (push server, mesh snapshot, store, traffic window or Prometheus).
 */
import type { ServerResponse } from 'node:http';
import { stringify } from 'yaml';
import { analyzeResources, validateObject, type Resource } from '../api/index.js';
import type { MeshController } from '../mesh/controller.js';
import { authnReport } from '../push/security/authn-check.js';
import type { CertificateFacts, ProxyStatus } from '../push/server/connection.js';
import type { PushServer } from '../push/server/server.js';
import type { EdgeFilter, EdgeStats, SeriesPoint } from '../push/server/stats-window.js';
import type { Store, StoredObject } from '../store/index.js';
import { buildGraph } from './graph.js';

/** Where the traffic numbers come from: the push stream's window, or Prometheus (`bowline up --prometheus`). */
export interface TrafficSource {
  readonly name: 'push' | 'prometheus';
  graphEdges(periodMs: number): Promise<EdgeStats[]>;
  series(filter: EdgeFilter, periodMs: number): Promise<SeriesPoint[]>;
  /** Whose traffic the last answer is missing, in sentences (replicas on a shared store that did not answer). */
  missing?(): string[];
}

/** A proxy as the dashboard lists it: its sync state, the replica holding its stream, what that replica knows of its certificate. */
export type ListedProxy = ProxyStatus & { replica?: string; certificate?: CertificateFacts };

/**
 * Every proxy the control plane serves. One replica: its push server's. Replicas on a shared store
 * (src/control/replicas): every live replica's, gathered as /debug/syncz does, with the replicas asked
 * and the ones that did not answer.
 */
export interface ProxiesView {
  proxies: ListedProxy[];
  replicas?: Array<{ id: string; apiUrl?: string; proxies: number }>;
  unreachableReplicas?: Array<{ id: string; apiUrl: string; error: string }>;
  peersUnknown?: string;
}

/** What the API reads. */
export interface DashboardDeps {
  store: Store;
  push: () => { server: PushServer; controller: MeshController } | undefined;
  traffic: () => TrafficSource | undefined;
  /** Every replica's proxies (set when this control plane is one of several replicas); default: this push server's. */
  proxies?: () => Promise<ProxiesView>;
  now?: () => number;
}

/** The proxies to show: every replica's when the control plane has replicas, else the push server's own. */
async function proxiesView(deps: DashboardDeps, server: PushServer | undefined): Promise<ProxiesView> {
  if (deps.proxies) return deps.proxies();
  return { proxies: server?.statusWithCertificates() ?? [] };
}

/** Kinds the Config page lists, in the order shown. */
export const CONFIG_KINDS = ['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'Sidecar', 'WorkloadEntry', 'PeerAuthentication', 'RequestAuthentication', 'AuthorizationPolicy'];

const LOWER: Record<string, string> = { Gateway: 'gateway', VirtualService: 'virtualservice', DestinationRule: 'destinationrule', ServiceEntry: 'serviceentry', Sidecar: 'sidecar', WorkloadEntry: 'workloadentry', PeerAuthentication: 'peerauthentication', RequestAuthentication: 'requestauthentication', AuthorizationPolicy: 'authorizationpolicy' };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

/** Every stored config resource, with YAML, validation findings and the commands that change it. */
async function configView(store: Store): Promise<unknown[]> {
  const out: unknown[] = [];
  const all: StoredObject[] = [];
  for (const kind of CONFIG_KINDS) {
    try {
      all.push(...(await store.list(kind)).items);
    } catch {}
  }
  const findings = analyzeResources(all as unknown as Resource[]);
  all.forEach((o, i) => {
    const { name, namespace } = o.metadata;
    const k = LOWER[o.kind] ?? o.kind.toLowerCase();
    const clean = { apiVersion: o.apiVersion, kind: o.kind, metadata: { name, namespace, ...(o.metadata.labels ? { labels: o.metadata.labels } : {}), ...(o.metadata.annotations ? { annotations: o.metadata.annotations } : {}) }, spec: (o as { spec?: unknown }).spec };
    const violations = validateObject(clean).map((v) => ({ severity: v.severity, code: v.code, path: v.path, message: v.message }));
    const analyzed = findings.filter((f) => f.index === i).map((f) => ({ severity: f.finding.severity ?? 'warning', code: f.finding.code, path: f.finding.path.join('.'), message: f.finding.message }));
    out.push({
      kind: o.kind, name, namespace, resourceVersion: o.metadata.resourceVersion,
      yaml: stringify(clean),
      status: (o as { status?: unknown }).status,
      findings: [...violations, ...analyzed],
      commands: [
        `bowline get ${k} ${name} -n ${namespace} -o yaml > ${name}.yaml   # edit, then:`,
        `bowline apply -f ${name}.yaml`,
        `bowline delete ${k} ${name} -n ${namespace}`,
        `kubectl --server ${'$'}(bowline config url) edit ${k} ${name} -n ${namespace}`,
      ],
    });
  });
  return out;
}

function hostMatches(host: string, svcHost: string, name: string, ns: string): boolean {
  return host === svcHost || host === name || host === `${name}.${ns}` || host === `${name}.${ns}.svc` || host === '*' || (host.startsWith('*.') && svcHost.endsWith(host.slice(1)));
}

/** Handles GET /ui/api/<view>; returns false for an unknown view. */
export async function handleApi(deps: DashboardDeps, view: string, q: URLSearchParams, res: ServerResponse): Promise<boolean> {
  const now = deps.now ?? Date.now;
  const push = deps.push();
  const snap = push?.controller.current();
  const traffic = deps.traffic();
  const periodMs = Math.min(15 * 60_000, Math.max(10_000, Number(q.get('period') ?? 60) * 1000 || 60_000));
  switch (view) {
    case 'graph': {
      const edges = traffic ? await traffic.graphEdges(periodMs) : [];
      const listed = (await proxiesView(deps, push?.server)).proxies;
      const g = buildGraph(snap, listed, edges);
      const missing = traffic?.missing?.() ?? [];
      send(res, 200, { ...g, source: traffic?.name ?? 'none', periodMs, generatedAt: now(), proxies: new Set(listed.map((p) => p.id)).size, ...(missing.length ? { trafficMissing: missing } : {}) });
      return true;
    }
    case 'services': {
      const services = (snap?.services ?? []).filter((s) => s.location !== 'MESH_EXTERNAL').map((s) => ({ host: s.hostname, name: s.name, namespace: s.namespace }));
      send(res, 200, { services });
      return true;
    }
    case 'service': {
      const name = q.get('name') ?? '';
      const svc = snap?.services.find((s) => s.hostname === name || s.name === name || `${s.name}.${s.namespace}` === name);
      if (!svc) {
        send(res, 404, { error: `no service ${JSON.stringify(name)}`, known: (snap?.services ?? []).map((s) => `${s.name}.${s.namespace}`) });
        return true;
      }
      const series = traffic ? await traffic.series({ service: svc.hostname }, Number(q.get('window') ?? 15 * 60) * 1000 || 15 * 60_000) : [];
      const recent = traffic ? (await traffic.graphEdges(periodMs)).filter((e) => e.destination.service === svc.hostname) : [];
      const byVersion: Record<string, number> = {};
      let total = 0;
      for (const e of recent) {
        byVersion[e.destination.version] = (byVersion[e.destination.version] ?? 0) + e.requests;
        total += e.requests;
      }
      const split = Object.entries(byVersion).map(([version, n]) => ({ version, requests: n, percent: total ? (100 * n) / total : 0 })).sort((a, b) => (a.version < b.version ? -1 : 1));
      const endpoints = (snap?.endpointsByService.get(svc.hostname) ?? []).map((e) => ({ workload: e.workload, namespace: e.namespace, version: e.labels.version ?? '', address: `${e.address}:${e.port}`, port: e.servicePort, tlsMode: e.tlsMode, health: e.health ?? 'healthy' }));
      const config = (await configView(deps.store)).filter((r) => {
        const o = r as { kind: string; namespace: string; yaml: string };
        const spec = (snap?.configs(o.kind as never) ?? []).find((c) => c.metadata.name === (r as { name: string }).name && c.metadata.namespace === o.namespace)?.spec as Record<string, unknown> | undefined;
        if (!spec) return false;
        if (o.kind === 'VirtualService') return ((spec.hosts as string[]) ?? []).some((h) => hostMatches(h, svc.hostname, svc.name, o.namespace === svc.namespace ? svc.namespace : svc.namespace));
        if (o.kind === 'DestinationRule') return typeof spec.host === 'string' && hostMatches(spec.host, svc.hostname, svc.name, svc.namespace);
        if (o.kind === 'PeerAuthentication' || o.kind === 'AuthorizationPolicy' || o.kind === 'RequestAuthentication') return o.namespace === svc.namespace || o.namespace === snap?.mesh.rootNamespace;
        return false;
      });
      send(res, 200, { host: svc.hostname, name: svc.name, namespace: svc.namespace, ports: svc.ports, endpoints, series, split, periodMs, config, authn: snap ? authnReport(snap, svc.hostname) : [], source: traffic?.name ?? 'none' });
      return true;
    }
    case 'config':
      send(res, 200, { resources: await configView(deps.store) });
      return true;
    case 'security': {
      // With replicas, also the replicas asked and those that did not answer (`replicas`, `unreachableReplicas`, `peersUnknown`).
      const { proxies: listed, ...replicaFacts } = await proxiesView(deps, push?.server);
      const proxies = listed.map((p) => ({
        id: p.id, role: p.role, workload: p.workload, namespace: p.namespace, ...(p.replica !== undefined ? { replica: p.replica } : {}), ...(p.certificate ?? { rotations: 0 }),
        // Its host's clock against the control plane's: a proxy judges its peers' certificates by it.
        ...(p.clockSkewMs !== undefined ? { clockSkewMs: p.clockSkewMs } : {}),
      }));
      const policies = (snap?.configs('AuthorizationPolicy') ?? []).map((r) => {
        const spec = (r.spec ?? {}) as { action?: string; selector?: { matchLabels?: Record<string, string> }; rules?: unknown[] };
        const sel = spec.selector?.matchLabels;
        const workloads = (snap?.workloads ?? []).filter((w) => (r.metadata.namespace === snap?.mesh.rootNamespace || w.namespace === r.metadata.namespace) && (!sel || Object.entries(sel).every(([k, v]) => w.labels[k] === v))).map((w) => `${w.name}.${w.namespace}`);
        return { name: r.metadata.name, namespace: r.metadata.namespace, action: spec.action ?? 'ALLOW', selector: sel ?? null, rules: spec.rules?.length ?? 0, workloads };
      });
      send(res, 200, { authn: snap ? authnReport(snap) : [], proxies, policies, ...replicaFacts });
      return true;
    }
    case 'proxies': {
      send(res, 200, { ...(await proxiesView(deps, push?.server)), now: now() });
      return true;
    }
    default:
      return false;
  }
}
