import type { AuthorizationConfig } from '../../proxy-config/types.js';
import { compilePolicy, type PolicyMatcher } from './compile.js';
import type { AuthzDecision, AuthzRequest } from './request.js';
import { compileExtAuthz, type CompiledExtAuthz } from './ext-authz.js';

/** Status and body of an HTTP request refused by authorization (as Envoy's RBAC filter answers). */
export const AUTHZ_DENIED_STATUS = 403;
/** The body of that 403. */
export const AUTHZ_DENIED_BODY = 'RBAC: access denied';
/** The stable code logged for a refused request or connection (docs/errors.md). */
export const AUTHZ_DENIED_CODE = 'BOWLINE_E_AUTHZ_DENIED';

/** A compiled set of policies for one proxy's inbound traffic. */
export interface AuthzEngine {
  /** False when there are no policies: the pipeline can skip building an AuthzRequest entirely. */
  readonly enabled: boolean;
  /** Problems found while compiling (unsupported keys, bad IP blocks), each failing closed. */
  readonly warnings: readonly string[];
  /** Decides one request (HTTP when `method` is set) or connection by DENY and ALLOW (and, for a
   *  connection, CUSTOM: an HTTP authorizer cannot check one, so a matching CUSTOM policy refuses it).
   *  Pure; never throws. */
  evaluate(r: AuthzRequest): AuthzDecision;
  /** HTTP: the CUSTOM policies whose rules match `r`, each with its external authorizer, asked before `evaluate`. */
  customFor(r: AuthzRequest): ReadonlyArray<{ policy: string; provider: CompiledExtAuthz }>;
}

const ALLOW_ALL: AuthzDecision = Object.freeze({ allowed: true, reason: 'no authorization policies' });

/** The engine for a proxy without policies: always allows, at the cost of one property read. */
export const NO_AUTHORIZATION: AuthzEngine = Object.freeze({ enabled: false, warnings: [], evaluate: () => ALLOW_ALL, customFor: () => [] });

/**
 * Compiles AuthorizationConfig into an engine with Istio's order: CUSTOM first (the pipeline asks
 * the external authorizers of the matching CUSTOM policies, `customFor`), then DENY policies (any
 * match refuses), then ALLOW (allowed when no ALLOW policy exists or one matches); AUDIT policies
 * only mark the decision. CUSTOM rules are compiled as DENY rules are: a condition that cannot be
 * evaluated makes the rule match more requests (more are checked), never fewer.
 */
export function compileAuthorization(config: AuthorizationConfig | undefined): AuthzEngine {
  const policies = config?.policies ?? [];
  const customs = config?.custom ?? [];
  if (policies.length === 0 && customs.length === 0) return NO_AUTHORIZATION;
  const warnings: string[] = [];
  const custom = customs.map((c) => ({ policy: c.name, provider: compileExtAuthz(c.provider), match: compilePolicy({ name: c.name, action: 'DENY', rules: c.rules }, warnings) }));
  const compiled = (action: string) => policies.filter((p) => p.action === action).map((p) => ({ name: p.name, match: compilePolicy(p, warnings) as PolicyMatcher }));
  const deny = compiled('DENY');
  const allow = compiled('ALLOW');
  const audit = compiled('AUDIT');
  for (const p of policies) if (!['ALLOW', 'DENY', 'AUDIT'].includes(p.action)) warnings.push(`${p.name}: action ${String(p.action)} is not supported by the proxy; ignored`);
  return {
    enabled: true,
    warnings,
    customFor(r) {
      return custom.filter((c) => c.match(r, true));
    },
    evaluate(r) {
      const isHttp = r.method !== undefined;
      if (!isHttp) {
        for (const c of custom) {
          if (c.match(r, false)) return { allowed: false, policy: c.policy, reason: `CUSTOM policy ${c.policy}: its HTTP authorizer ${c.provider.config.name} cannot check a TCP connection (fail closed)` };
        }
      }
      const audited = audit.filter((p) => p.match(r, isHttp)).map((p) => p.name);
      const mark = audited.length ? { audited } : {};
      for (const p of deny) {
        if (p.match(r, isHttp)) return { allowed: false, policy: p.name, reason: `denied by DENY policy ${p.name}`, ...mark };
      }
      if (allow.length === 0) return { allowed: true, reason: 'no ALLOW policy applies', ...mark };
      for (const p of allow) {
        if (p.match(r, isHttp)) return { allowed: true, policy: p.name, reason: `allowed by ALLOW policy ${p.name}`, ...mark };
      }
      return { allowed: false, reason: `no ALLOW policy matched (${allow.map((p) => p.name).join(', ')})`, ...mark };
    },
  };
}
