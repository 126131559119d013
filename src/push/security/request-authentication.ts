/**
 * RequestAuthentication for one proxy: the policies that select its workload (mesh-wide in the
 * root namespace, its namespace, or by selector), flattened into the proxy's JWT rules. All
 * selected policies apply together, as in Istio.
 */
import type { RequestAuthenticationSpec } from '../../api/types/security.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { JwtRule } from '../../proxy-config/types.js';
import type { ProxyInfo } from '../generators/generator.js';
import { labelsMatch } from '../generators/scope.js';

/** The JWT rules that apply to a proxy's inbound HTTP, in namespace/name order. */
export function jwtRulesFor(snap: MeshSnapshot, proxy: ProxyInfo): JwtRule[] {
  const out: JwtRule[] = [];
  for (const r of snap.configs('RequestAuthentication')) {
    const ns = r.metadata.namespace ?? 'default';
    if (ns !== snap.mesh.rootNamespace && ns !== proxy.node.namespace) continue;
    const spec = r.spec as RequestAuthenticationSpec;
    if (!labelsMatch(spec.selector?.matchLabels, proxy.node.labels)) continue;
    for (const j of spec.jwtRules ?? []) {
      const rule: JwtRule = { policy: `${ns}/${r.metadata.name}`, issuer: j.issuer };
      if (j.audiences?.length) rule.audiences = j.audiences;
      if (j.jwks) rule.jwks = j.jwks;
      if (j.jwksUri) rule.jwksUri = j.jwksUri;
      if (j.fromHeaders?.length) rule.fromHeaders = j.fromHeaders;
      if (j.fromParams?.length) rule.fromParams = j.fromParams;
      if (j.forwardOriginalToken) rule.forwardOriginalToken = true;
      if (j.outputPayloadToHeader) rule.outputPayloadToHeader = j.outputPayloadToHeader;
      out.push(rule);
    }
  }
  return out;
}
