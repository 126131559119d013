/**
 * `bowline authn check` and GET /debug/authenticationz: for each service host and port, the
 * server's mTLS mode and the policy that set it, the client's TLS mode and the DestinationRule
 * (or auto-mTLS) that set it, and OK or CONFLICT with a sentence saying what to change. This is
 * Istio 1.0's `/debug/authenticationz`, computed from the same functions the generators use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Service } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { clientTls, type ClientTls } from './client-tls.js';
import { serverMtls } from './peer-authentication.js';

/** One row of the report. */
export interface AuthnRow {
  host: string;
  port: number;
  /** Namespace of the clients this row is about (DestinationRule lookup depends on it). */
  clientNamespace: string;
  server: { mode: string; source: string };
  client: { mode: string; source: string };
  status: 'OK' | 'CONFLICT';
  /** What to change (CONFLICT), or why it works (OK). */
  message: string;
}

function serverSide(snap: MeshSnapshot, svc: Service, port: number): { mode: string; source: string; noProxy: boolean } {
  const eps = (snap.endpointsByService.get(svc.hostname) ?? []).filter((e) => e.servicePort === port);
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

function verdict(host: string, port: number, ns: string, server: { mode: string; source: string; noProxy: boolean }, client: ClientTls): Pick<AuthnRow, 'status' | 'message'> {
  const by = client.source.startsWith('(') ? client.source.slice(1, -1) : client.source;
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

/** Namespaces with at least one proxy (where clients can be), plus the service's own. */
function clientNamespaces(snap: MeshSnapshot, svc: Service): string[] {
  const out = new Set<string>([svc.namespace]);
  for (const w of snap.workloads) if (w.hasProxy) out.add(w.namespace);
  return [...out].sort();
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
      for (const ns of clientNamespace ? [clientNamespace] : clientNamespaces(snap, svc)) {
        const client = clientTls(snap, ns, svc, p.port);
        rows.push({ host: svc.hostname, port: p.port, clientNamespace: ns, server: { mode: server.mode, source: server.source }, client: { mode: client.mode, source: client.source }, ...verdict(svc.hostname, p.port, ns, server, client) });
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
