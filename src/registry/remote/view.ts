/**
 * The registry view one Bowline control plane serves to the others (`GET /v1/registry`, readable
 * with a registry-read API token): its own services, endpoints (with cluster, network, locality and
 * health) and east-west gateways, plus the roots its workloads trust and its mesh id. Only what this
 * control plane's own registries report: remote clusters' endpoints are never passed on.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Endpoint, Service, Workload } from '../../model/service.js';
import type { RegistryView } from '../registry.js';
import { isNetworkGateway } from '../topology.js';

/** The path of the registry view on the config API. */
export const REGISTRY_VIEW_PATH = '/v1/registry';

/** What `GET /v1/registry` answers. */
export interface ServedRegistryView {
  kind: 'RegistryView';
  apiVersion: 'bowline.io/v1';
  /** The serving control plane's cluster id and network (`bowline up --cluster/--network`). */
  cluster: string;
  network: string;
  /** Roots its workload certificates chain to (PEM); empty without a CA. */
  roots: string;
  /** Its mesh id (`bowline up --mesh-id`, else its defaultConfig.meshId, else its trust domain); absent from an older Bowline. */
  meshId?: string;
  /** Changes whenever the content does (`?after=VERSION` waits for a different one). */
  version: string;
  services: Service[];
  endpoints: Endpoint[];
  /** Its east-west gateways (workloads labelled istio=eastwestgateway and topology.istio.io/network). */
  gateways: Workload[];
}

/** The served view of a local registry view. */
export function serveView(view: RegistryView, topology: { cluster: string; network: string }, roots: string, meshId: string): ServedRegistryView {
  const body = {
    cluster: topology.cluster,
    network: topology.network,
    roots,
    meshId,
    services: view.services,
    endpoints: view.endpoints,
    gateways: view.workloads.filter(isNetworkGateway),
  };
  const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { kind: 'RegistryView', apiVersion: 'bowline.io/v1', version, ...body };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a received view's shape; throws a message naming what is wrong (a remote is untrusted input). */
export function parseServedView(body: unknown): ServedRegistryView {
  if (!isObj(body) || body.kind !== 'RegistryView') throw new Error('the answer is not a Bowline registry view (kind RegistryView): is the server a Bowline control plane?');
  for (const f of ['cluster', 'network', 'roots', 'version'] as const) if (typeof body[f] !== 'string') throw new Error(`registry view field ${f} is not a string`);
  if (body.meshId !== undefined && typeof body.meshId !== 'string') throw new Error('registry view field meshId is not a string');
  for (const f of ['services', 'endpoints', 'gateways'] as const) if (!Array.isArray(body[f])) throw new Error(`registry view field ${f} is not a list`);
  const services = (body.services as unknown[]).filter((s): s is Service => isObj(s) && typeof s.hostname === 'string' && Array.isArray(s.ports));
  const endpoints = (body.endpoints as unknown[]).filter((e): e is Endpoint => isObj(e) && typeof e.service === 'string' && typeof e.address === 'string' && typeof e.port === 'number' && typeof e.servicePort === 'number' && isObj(e.labels));
  const gateways = (body.gateways as unknown[]).filter((w): w is Workload => isObj(w) && typeof w.address === 'string' && isObj(w.labels));
  return { ...(body as unknown as ServedRegistryView), services, endpoints, gateways };
}

/** One root certificate, as messages name it. */
export interface RootName {
  subject: string;
  sha256: string;
}

/** The certificates of a PEM bundle, named (unparseable blocks are skipped). */
export function rootNames(pem: string): RootName[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const out: RootName[] = [];
  for (const b of blocks) {
    try {
      const c = new X509Certificate(b);
      out.push({ subject: c.subject.replace(/\n/g, ', '), sha256: c.fingerprint256 });
    } catch {}
  }
  return out;
}

/** Undefined when the two bundles share a root; else why they do not (naming both roots). */
export function rootMismatch(local: string, remote: string, remoteName: string): string | undefined {
  const mine = rootNames(local);
  if (mine.length === 0) return undefined; // no CA here: nothing to share
  const theirs = rootNames(remote);
  const show = (l: RootName[]) => (l.length ? l.map((r) => `"${r.subject}" (sha256 ${r.sha256})`).join(' + ') : 'none (it runs no CA)');
  if (theirs.some((t) => mine.some((m) => m.sha256 === t.sha256))) return undefined;
  return `BOWLINE_E_CA_ROOT_MISMATCH: cluster ${remoteName} trusts root ${show(theirs)}, but this mesh's root is ${show(mine)}: clusters of one mesh must share a root (bowline ca root, then bowline ca intermediate per cluster)`;
}

/**
 * Undefined when a remote's mesh id is this control plane's; else why it is refused, naming both ids. Istio's
 * multi-primary clusters share one meshID: two meshes are not merged. A remote that sends no mesh id (a
 * Bowline from before the check) is not refused: `unchecked` says so, for a warning.
 */
export function meshIdMismatch(local: string, remote: string | undefined, remoteName: string): { refused?: string; unchecked?: string } {
  if (remote === undefined) return { unchecked: `BOWLINE_W_CLUSTER_MESH_ID_UNKNOWN: cluster ${remoteName} does not say its mesh id (an older Bowline): this mesh's id "${local}" is not checked against it; upgrade it` };
  if (remote === local) return {};
  return { refused: `BOWLINE_E_CLUSTER_MESH_ID_MISMATCH: cluster ${remoteName} is in mesh "${remote}", but this control plane's mesh id is "${local}": clusters of one mesh must share a mesh id (bowline up --mesh-id ${local} there, or --mesh-id ${remote} here)` };
}
