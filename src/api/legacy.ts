import type { Resource, Violation } from './types/meta.js';
import type { LegacyPolicySpec, MtlsMode, PeerAuthenticationSpec } from './types/security.js';
import { isObj } from './schema/walk.js';

/** The namespace MeshPolicy maps into (Istio's default mesh root namespace). */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

function warn(code: string, path: string, message: string, hint?: string): Violation {
  return { severity: 'warning', code, path, message, ...(hint ? { hint } : {}) };
}

function modeOf(spec: LegacyPolicySpec): MtlsMode {
  const peer = (spec.peers ?? []).find((p) => isObj(p) && 'mtls' in p);
  if (!peer) return 'DISABLE';
  const m = peer.mtls;
  if (isObj(m) && m.mode === 'PERMISSIVE') return 'PERMISSIVE';
  return spec.peerIsOptional ? 'PERMISSIVE' : 'STRICT';
}

/**
 * Maps legacy authentication.istio.io/v1alpha1 MeshPolicy / Policy to PeerAuthentication resources (with a
 * deprecation warning). MeshPolicy -> mesh-wide PeerAuthentication in the root namespace; a Policy without
 * targets -> namespace-wide; with targets -> one per target, selecting workloads labelled app=<target>.
 */
export function legacyToPeerAuthentication(r: Resource, opts: { rootNamespace?: string } = {}): { resources: Resource[]; warnings: Violation[] } {
  if (r.kind !== 'MeshPolicy' && r.kind !== 'Policy') return { resources: [], warnings: [] };
  const spec = (isObj(r.spec) ? r.spec : {}) as LegacyPolicySpec;
  const mode = modeOf(spec);
  const apiVersion = 'security.istio.io/v1';
  const warnings: Violation[] = [
    warn('BOWLINE_W_API_LEGACY_KIND', 'kind', `${r.kind} ${r.metadata.name} (authentication.istio.io/v1alpha1) is deprecated: applied as PeerAuthentication with mTLS mode ${mode}`, 'migrate to security.istio.io/v1 PeerAuthentication'),
  ];
  if ((spec.origins ?? []).length > 0) {
    warnings.push(warn('BOWLINE_W_API_LEGACY_ORIGINS', 'spec.origins', 'origin (JWT) authentication of a legacy policy is not mapped', 'use a RequestAuthentication plus an AuthorizationPolicy'));
  }
  const labels = { ...(r.metadata.labels ?? {}), 'bowline.io/converted-from': r.kind };
  if (r.kind === 'MeshPolicy') {
    const ns = opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
    const pa: Resource<PeerAuthenticationSpec> = { apiVersion, kind: 'PeerAuthentication', metadata: { name: 'default', namespace: ns, labels }, spec: { mtls: { mode } } };
    return { resources: [pa], warnings };
  }
  const ns = r.metadata.namespace ?? 'default';
  const targets = spec.targets ?? [];
  if (targets.length === 0) {
    return { resources: [{ apiVersion, kind: 'PeerAuthentication', metadata: { name: r.metadata.name, namespace: ns, labels }, spec: { mtls: { mode } } }], warnings };
  }
  const resources: Resource[] = [];
  for (const t of targets) {
    const ports = (t.ports ?? []).filter((p) => typeof p.number === 'number');
    if ((t.ports ?? []).some((p) => typeof p.number !== 'number')) {
      warnings.push(warn('BOWLINE_W_API_LEGACY_PORT_NAME', 'spec.targets', `target ${t.name}: ports selected by name cannot be mapped; the policy applies to the target's port numbers only`));
    }
    const spec2: PeerAuthenticationSpec = { selector: { matchLabels: { app: t.name } } };
    if (ports.length) spec2.portLevelMtls = Object.fromEntries(ports.map((p) => [String(p.number), { mode }]));
    else spec2.mtls = { mode };
    resources.push({ apiVersion, kind: 'PeerAuthentication', metadata: { name: `${r.metadata.name}-${t.name}`, namespace: ns, labels }, spec: spec2 });
  }
  warnings.push(warn('BOWLINE_W_API_LEGACY_TARGETS', 'spec.targets', 'legacy targets name services; Bowline selects the workloads labelled app=<target name>'));
  return { resources, warnings };
}
