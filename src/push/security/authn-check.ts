/**
 * `bowline authn check` and GET /debug/authenticationz: for each service host and port, the
 * server's mTLS mode and the policy that set it, the client's TLS mode and the DestinationRule
 * (or auto-mTLS) that set it, and OK or CONFLICT with a sentence saying what to change. This is
 * Istio 1.0's `/debug/authenticationz`, computed from the same functions the generators use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Service } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { labelsMatch, destinationRuleFor } from '../generators/scope.js';
import { clientTls, type ClientTls } from './client-tls.js';
import { serverMtls } from './peer-authentication.js';

/** One row of the report. */
export interface AuthnRow {
  host: string;
  port: number;
  /** Namespace of the clients this row is about (DestinationRule lookup depends on it). */
  clientNamespace: string;
  /** `sidecar` (clients with a Bowline proxy and a workload certificate) or `no-sidecar` (plaintext only). */
  clients: 'sidecar' | 'no-sidecar';
  /** The DestinationRule subset this row is about, when the rule's subsets set TLS differently. */
  subset?: string;
  server: { mode: string; source: string };
  client: { mode: string; source: string };
  status: 'OK' | 'CONFLICT';
  /** What to change (CONFLICT), or why it works (OK). */
  message: string;
}

function serverSide(snap: MeshSnapshot, svc: Service, port: number, subsetLabels?: Record<string, string>): { mode: string; source: string; noProxy: boolean } {
  const eps = (snap.endpointsByService.get(svc.hostname) ?? []).filter((e) => e.servicePort === port && (!subsetLabels || labelsMatch(subsetLabels, e.labels)));
  if (eps.length === 0) return { mode: 'UNKNOWN', source: '(no endpoints)', noProxy: false };
  if (eps.every((e) => e.tlsMode !== 'istio')) return { mode: 'NONE', source: '(no sidecar: plaintext only)', noProxy: true };
  const seen = new Map<string, { mode: string; source: string }>();
  for (const e of eps) {
    if (e.tlsMode !== 'istio') continue;
    const m = serverMtls(snap, { namespace: e.namespace, labels: e.labels }, [port, e.port]);
    seen.set(`${m.mode} ${m.source}`, m);
  }
  const all = [...seen.values()];
  if (all.length === 1) return { ...all[0]!, noProxy: false };
  const strict = all.find((m) => m.mode === 'STRICT');
  return { mode: strict ? 'STRICT' : all[0]!.mode, source: all.map((m) => `${m.mode} by ${m.source}`).join('; '), noProxy: false };
}

function verdict(host: string, port: number, ns: string, server: { mode: string; source: string; noProxy: boolean }, client: ClientTls, clients: AuthnRow['clients']): Pick<AuthnRow, 'status' | 'message'> {
  const by = client.source.startsWith('(') ? client.source.slice(1, -1) : client.source;
  if (clients === 'no-sidecar' && server.mode === 'STRICT') {
    return { status: 'CONFLICT', message: `${host}:${port} requires mTLS (STRICT, set by ${server.source}) but workloads in namespace ${ns} without a sidecar have no workload certificate and send plaintext: run them with a sidecar, or set the server's mode to PERMISSIVE (a PeerAuthentication for ${host}'s workloads)` };
  }
  if (server.mode === 'STRICT' && client.mode !== 'ISTIO_MUTUAL') {
    const what = client.mode === 'DISABLE' ? 'plaintext' : `${client.mode} TLS with their own certificates`;
    return { status: 'CONFLICT', message: `${host}:${port} requires mTLS (STRICT, set by ${server.source}) but clients in namespace ${ns} send ${what} (${by}): set trafficPolicy.tls.mode ISTIO_MUTUAL in a DestinationRule for ${host}${client.rule ? ` (${by})` : ''}, or relax the server to PERMISSIVE` };
  }
  if (client.mode === 'ISTIO_MUTUAL' && server.mode === 'DISABLE') {
    return { status: 'CONFLICT', message: `clients in namespace ${ns} send mTLS (ISTIO_MUTUAL, ${by}) but ${host}:${port} disables mTLS (${server.source}): set the DestinationRule's tls.mode to DISABLE, or the server's mode to PERMISSIVE or STRICT` };
  }
  if (client.mode === 'ISTIO_MUTUAL' && server.noProxy) {
    return { status: 'CONFLICT', message: `clients in namespace ${ns} send mTLS (ISTIO_MUTUAL, ${by}) but ${host}:${port} has no Bowline sidecar to terminate it: set the DestinationRule's tls.mode to DISABLE, or run the workload with a sidecar` };
  }
  if (server.mode === 'UNKNOWN') return { status: 'OK', message: 'no endpoints yet' };
  return { status: 'OK', message: `clients send ${client.mode === 'DISABLE' ? 'plaintext' : client.mode}, which a ${server.mode === 'NONE' ? 'workload without a sidecar' : `${server.mode} server`} accepts` };
}

/** A client with no sidecar has no workload certificate: whatever the DestinationRule says, it sends plaintext. */
const NO_SIDECAR: ClientTls = { mode: 'DISABLE', source: '(no sidecar: no workload certificate)', auto: false };

/**
 * Who can call: for each namespace, clients with a proxy (every namespace with one, plus the
 * service's own) and clients without one (namespaces holding a workload without a proxy).
 */
function clientGroups(snap: MeshSnapshot, svc: Service, only?: string): Array<{ ns: string; clients: AuthnRow['clients'] }> {
  const withProxy = new Set<string>([svc.namespace]);
  const without = new Set<string>();
  for (const w of snap.workloads) (w.hasProxy ? withProxy : without).add(w.namespace);
  const out: Array<{ ns: string; clients: AuthnRow['clients'] }> = [];
  for (const ns of [...new Set([...withProxy, ...without])].sort()) {
    if (only !== undefined && ns !== only) continue;
    if (withProxy.has(ns) || (only !== undefined && !without.has(ns))) out.push({ ns, clients: 'sidecar' });
    if (without.has(ns)) out.push({ ns, clients: 'no-sidecar' });
  }
  if (only !== undefined && out.length === 0) out.push({ ns: only, clients: 'sidecar' });
  return out;
}

/** Subsets of the rule clients in `ns` use whose TLS differs from the rule's own for `port` (one row each). */
function tlsSubsets(snap: MeshSnapshot, svc: Service, ns: string, port: number): Array<{ name: string; labels: Record<string, string> }> {
  const subsets = destinationRuleFor(snap, svc, ns)?.spec.subsets ?? [];
  const base = clientTls(snap, ns, svc, port);
  return subsets
    .filter((ss) => ss.name && clientTls(snap, ns, svc, port, ss.name).mode !== base.mode)
    .map((ss) => ({ name: ss.name!, labels: ss.labels ?? {} }));
}

/**
 * The report for every mesh-internal service, or those matching `filter` (`name`, `name.namespace`
 * or a full host); `clientNamespace` limits the client side to one namespace.
 */
export function authnReport(snap: MeshSnapshot, filter?: string, clientNamespace?: string): AuthnRow[] {
  const rows: AuthnRow[] = [];
  const f = filter?.toLowerCase();
  for (const svc of snap.services) {
    if (svc.location === 'MESH_EXTERNAL') continue;
    if (f && !(svc.hostname === f || svc.aliases.includes(f) || svc.name === f || `${svc.name}.${svc.namespace}` === f)) continue;
    for (const p of svc.ports) {
      const server = serverSide(snap, svc, p.port);
      for (const { ns, clients } of clientGroups(snap, svc, clientNamespace)) {
        const push = (client: ClientTls, srv: typeof server, subset?: { name: string }) => {
          const row: AuthnRow = { host: svc.hostname, port: p.port, clientNamespace: ns, clients, server: { mode: srv.mode, source: srv.source }, client: { mode: client.mode, source: client.source }, ...verdict(svc.hostname, p.port, ns, srv, client, clients) };
          if (subset) row.subset = subset.name;
          rows.push(row);
        };
        if (clients === 'no-sidecar') { push(NO_SIDECAR, server); continue; }
        push(clientTls(snap, ns, svc, p.port), server);
        for (const ss of tlsSubsets(snap, svc, ns, p.port)) push(clientTls(snap, ns, svc, p.port, ss.name), serverSide(snap, svc, p.port, ss.labels), ss);
      }
    }
  }
  return rows;
}

/** GET /debug/authenticationz[?service=NAME[.NS]][&namespace=CLIENT_NS]: the report as JSON `{rows, conflicts}`. */
export function authnHandler(source: { current(): MeshSnapshot }): (req: IncomingMessage, res: ServerResponse, url: URL) => void {
  return (req, res, url) => {
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'BOWLINE_E_AUTHN_METHOD', message: 'only GET' } }) + '\n');
      return;
    }
    const rows = authnReport(source.current(), url.searchParams.get('service') ?? undefined, url.searchParams.get('namespace') ?? undefined);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rows, conflicts: rows.filter((r) => r.status === 'CONFLICT').length }) + '\n');
  };
}
