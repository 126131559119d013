/**
 * `bowline analyze`: findings on a mesh snapshot built from files, from the live control plane,
 * or from files laid over the live mesh (a file's resource replaces the live one of the same kind,
 * namespace and name). Pure: the CLI fetches the live parts and prints the findings.
 */
import { defaultMeshConfig, validateObject } from '../../api/index.js';
import type { MeshConfig } from '../../api/types/mesh.js';
import type { Kind, Resource } from '../../api/types/meta.js';
import type { DomainSettings, Endpoint, Service, Workload } from '../../model/service.js';
import { buildSnapshot, type MeshSnapshot } from '../../model/snapshot.js';
import { serviceEntryView } from '../../registry/serviceentry/serviceentry.js';
import { finding, type AnalysisFinding } from './findings.js';
import { analyzeMeshPolicies } from './mesh.js';
import { analyzeVirtualServices } from './virtual-services.js';

export { ANALYSIS_CODES, type AnalysisFinding, type Level } from './findings.js';

/** What the live control plane reports (GET /debug/configz and /debug/registryz). */
export interface LiveMesh {
  configs: Resource[];
  services: Service[];
  endpoints: Endpoint[];
  workloads: Workload[];
  mesh?: MeshConfig;
  domains?: DomainSettings;
}

const key = (r: Resource) => `${r.kind}/${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;

/** The snapshot analyze reads: the files alone (`live` undefined), or the files over the live mesh. */
export function analysisSnapshot(files: Resource[], live?: LiveMesh): MeshSnapshot {
  const own = new Set(files.map(key));
  const configs = [...(live?.configs ?? []).filter((r) => !own.has(key(r))), ...files];
  const fileRegistry = serviceEntryView(files.filter((r) => r.kind === 'ServiceEntry'), files.filter((r) => r.kind === 'WorkloadEntry'));
  const fileHosts = new Set(fileRegistry.services.map((s) => s.hostname));
  const services = [...(live?.services ?? []).filter((s) => !fileHosts.has(s.hostname)), ...fileRegistry.services];
  const endpoints = [...(live?.endpoints ?? []).filter((e) => !fileHosts.has(e.service)), ...fileRegistry.endpoints];
  const workloads = [...(live?.workloads ?? []), ...fileRegistry.workloads];
  return buildSnapshot({ configs, services, endpoints, workloads, mesh: live?.mesh ?? defaultMeshConfig(), ...(live?.domains ? { domains: live.domains } : {}) });
}

const KINDS: Kind[] = ['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'WorkloadEntry', 'Sidecar', 'PeerAuthentication', 'RequestAuthentication', 'AuthorizationPolicy'];

/** Every finding on the snapshot; `live`: the registry is the real one (hosts, endpoints, workloads can be checked). */
export function analyzeMesh(snap: MeshSnapshot, live: boolean): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  for (const kind of KINDS) {
    for (const r of snap.configs(kind) as Resource[]) {
      for (const v of validateObject(r)) {
        if (v.severity === 'error') out.push(finding('IST0106', r, `${v.path ? `${v.path}: ` : ''}${v.message} (${v.code})`));
      }
    }
  }
  out.push(...analyzeVirtualServices(snap, live), ...analyzeMeshPolicies(snap, live));
  const rank = { Error: 0, Warning: 1, Info: 2 };
  return out.sort((a, b) => rank[a.level] - rank[b.level] || `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`) || a.code.localeCompare(b.code));
}
