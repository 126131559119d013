/**
 * Authorization: the AuthorizationPolicies that select this proxy's workload (mesh-wide in the
 * root namespace, namespace-wide, or by selector), each translated (authorization-translate.ts)
 * into the conditions the proxy owns. Nothing of Istio's shape reaches the proxy.
 */
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { AuthorizationConfig, AuthorizationPolicy, CustomAuthorization } from '../../proxy-config/types.js';
import type { Generator, ProxyInfo } from './generator.js';
import { labelsMatch } from './scope.js';
import { jwtRulesFor } from '../security/request-authentication.js';
import { translatePolicy } from './authorization-translate.js';
import { meshTrustDomains } from '../security/mtls.js';
import { resolveExtAuthz } from './ext-authz.js';

interface ApSpec {
  selector?: { matchLabels?: Record<string, string> };
  action?: string;
  rules?: unknown;
  provider?: { name?: string };
}

/** The policies that apply to a proxy, DENY before ALLOW as evaluated, each in namespace/name order. */
export function authorizationFor(snap: MeshSnapshot, proxy: ProxyInfo): AuthorizationConfig | undefined {
  const policies: AuthorizationPolicy[] = [];
  const custom: CustomAuthorization[] = [];
  for (const r of snap.configs('AuthorizationPolicy')) {
    const spec = r.spec as ApSpec;
    const ns = r.metadata.namespace ?? 'default';
    if (ns !== snap.mesh.rootNamespace && ns !== proxy.node.namespace) continue;
    if (!labelsMatch(spec.selector?.matchLabels, proxy.node.labels)) continue;
    const action = spec.action ?? 'ALLOW';
    const name = `${ns}/${r.metadata.name}`;
    if (action === 'CUSTOM') {
      // Rules translated as DENY rules are: what cannot be translated widens the rule (more requests checked).
      const rules = translatePolicy(name, 'DENY', spec.rules, meshTrustDomains(snap)).policy.rules;
      const resolved = resolveExtAuthz(snap, spec.provider?.name ?? '');
      if ('provider' in resolved) custom.push({ name, rules, provider: resolved.provider });
      else policies.push({ name, action: 'DENY', rules }); // no authorizer to ask: fail closed
      continue;
    }
    if (action !== 'ALLOW' && action !== 'DENY' && action !== 'AUDIT') continue;
    policies.push(translatePolicy(name, action, spec.rules, meshTrustDomains(snap)).policy);
  }
  const jwtRules = jwtRulesFor(snap, proxy);
  if (!policies.length && !jwtRules.length && !custom.length) return undefined;
  return { policies, ...(jwtRules.length ? { jwtRules } : {}), ...(custom.length ? { custom } : {}) };
}

/** Generates the authorization resource (absent when no policy applies). */
export const authorizationGenerator: Generator = {
  type: 'authorization',
  kinds: ['AuthorizationPolicy', 'RequestAuthentication', 'mesh', 'services'],
  parts: (snap, proxy) => [{ scope: `own:${proxy.node.id}`, build: () => { const a = authorizationFor(snap, proxy); return a ? [a] : []; } }],
};
