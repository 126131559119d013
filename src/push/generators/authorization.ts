/**
 * Authorization: the AuthorizationPolicies that select this proxy's workload (mesh-wide in the
 * root namespace, namespace-wide, or by selector), each translated (authorization-translate.ts)
 * into the conditions the proxy owns. Nothing of Istio's shape reaches the proxy.
 */
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { AuthorizationConfig, AuthorizationPolicy } from '../../proxy-config/types.js';
import type { Generator, ProxyInfo } from './generator.js';
import { labelsMatch } from './scope.js';
import { jwtRulesFor } from '../security/request-authentication.js';
import { translatePolicy } from './authorization-translate.js';
import { meshTrustDomains } from '../security/mtls.js';

interface ApSpec {
  selector?: { matchLabels?: Record<string, string> };
  action?: string;
  rules?: unknown;
}

/** The policies that apply to a proxy, DENY before ALLOW as evaluated, each in namespace/name order. */
export function authorizationFor(snap: MeshSnapshot, proxy: ProxyInfo): AuthorizationConfig | undefined {
  const policies: AuthorizationPolicy[] = [];
  for (const r of snap.configs('AuthorizationPolicy')) {
    const spec = r.spec as ApSpec;
    const ns = r.metadata.namespace ?? 'default';
    if (ns !== snap.mesh.rootNamespace && ns !== proxy.node.namespace) continue;
    if (!labelsMatch(spec.selector?.matchLabels, proxy.node.labels)) continue;
    const action = spec.action ?? 'ALLOW';
    if (action !== 'ALLOW' && action !== 'DENY' && action !== 'AUDIT') continue;
    policies.push(translatePolicy(`${ns}/${r.metadata.name}`, action, spec.rules, meshTrustDomains(snap)).policy);
  }
  const jwtRules = jwtRulesFor(snap, proxy);
  if (!policies.length && !jwtRules.length) return undefined;
  return jwtRules.length ? { policies, jwtRules } : { policies };
}

/** Generates the authorization resource (absent when no policy applies). */
export const authorizationGenerator: Generator = {
  type: 'authorization',
  kinds: ['AuthorizationPolicy', 'RequestAuthentication', 'mesh'],
  parts: (snap, proxy) => [{ scope: `own:${proxy.node.id}`, build: () => { const a = authorizationFor(snap, proxy); return a ? [a] : []; } }],
};
