/**
 * Server-side mTLS mode of a workload port, with Istio's PeerAuthentication precedence:
 * mesh-wide (root namespace, no selector), then namespace-wide, then the workload-selector
 * policy, then its port-level setting; `UNSET` inherits from the level above; nothing at all is
 * PERMISSIVE. Legacy MeshPolicy / Policy arrive already mapped to PeerAuthentication by the mesh
 * controller (label `bowline.io/converted-from`), so they take part in the same precedence.
 */
import type { Resource } from '../../api/types/meta.js';
import type { MtlsMode, PeerAuthenticationSpec } from '../../api/types/security.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { byAge, labelsMatch } from '../generators/scope.js';

/** An effective server mode (never UNSET). */
export type ServerMtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** The mode of one workload port and what set it. */
export interface ServerMtls {
  mode: ServerMtlsMode;
  /** Human name of the deciding policy, e.g. `PeerAuthentication foo/default` or `MeshPolicy default`; `(default)` when none. */
  source: string;
  /** The level that decided. */
  level: 'default' | 'mesh' | 'namespace' | 'workload' | 'port';
}

/** The workload whose inbound side is asked about. */
export interface ServerWorkload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** How a PeerAuthentication (or the legacy resource it came from) is named in reports. */
export function policyName(r: Resource): string {
  const from = r.metadata.labels?.['bowline.io/converted-from'];
  const ns = r.metadata.namespace ?? 'default';
  if (from === 'MeshPolicy') return 'MeshPolicy default';
  if (from === 'Policy') return `Policy ${ns}/${r.metadata.name}`;
  return `PeerAuthentication ${ns}/${r.metadata.name}`;
}

function modeOf(m: { mode?: MtlsMode } | undefined): ServerMtlsMode | undefined {
  const v = m?.mode;
  return v === 'STRICT' || v === 'PERMISSIVE' || v === 'DISABLE' ? v : undefined;
}

/** The PeerAuthentication resources of a snapshot, oldest first (Istio picks the oldest on ties). */
function policies(snap: MeshSnapshot): Resource<PeerAuthenticationSpec>[] {
  return [...(snap.configs('PeerAuthentication') as Resource<PeerAuthenticationSpec>[])].sort(byAge);
}

function hasSelector(r: Resource<PeerAuthenticationSpec>): boolean {
  return Object.keys(r.spec.selector?.matchLabels ?? {}).length > 0;
}

/**
 * The effective mode of `port` on a workload. `ports` lists every number the port is known by
 * (service port, the app's target port): a port-level entry for any of them applies.
 */
export function serverMtls(snap: MeshSnapshot, w: ServerWorkload, ports: readonly number[]): ServerMtls {
  let out: ServerMtls = { mode: 'PERMISSIVE', source: '(default)', level: 'default' };
  const all = policies(snap);
  const root = snap.mesh.rootNamespace;
  const mesh = all.find((r) => r.metadata.namespace === root && !hasSelector(r));
  const meshMode = mesh && modeOf(mesh.spec.mtls);
  if (mesh && meshMode) out = { mode: meshMode, source: policyName(mesh), level: 'mesh' };
  const ns = w.namespace === root ? undefined : all.find((r) => r.metadata.namespace === w.namespace && !hasSelector(r));
  const nsMode = ns && modeOf(ns.spec.mtls);
  if (ns && nsMode) out = { mode: nsMode, source: policyName(ns), level: 'namespace' };
  const wl = all.find((r) => r.metadata.namespace === w.namespace && hasSelector(r) && labelsMatch(r.spec.selector?.matchLabels, w.labels));
  if (wl) {
    const m = modeOf(wl.spec.mtls);
    if (m) out = { mode: m, source: policyName(wl), level: 'workload' };
    for (const p of ports) {
      const pm = modeOf(wl.spec.portLevelMtls?.[String(p)]);
      if (pm) {
        out = { mode: pm, source: `${policyName(wl)} port ${p}`, level: 'port' };
        break;
      }
    }
  }
  return out;
}
