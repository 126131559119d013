import type { AuthorizationConfig } from '../../proxy-config/types.js';
import { compilePolicy, type PolicyMatcher } from './compile.js';
import type { AuthzDecision, AuthzRequest } from './request.js';

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
  /** Decides one request (HTTP when `method` is set) or connection. Pure; never throws. */
  evaluate(r: AuthzRequest): AuthzDecision;
}

const ALLOW_ALL: AuthzDecision = Object.freeze({ allowed: true, reason: 'no authorization policies' });

/** The engine for a proxy without policies: always allows, at the cost of one property read. */
export const NO_AUTHORIZATION: AuthzEngine = Object.freeze({ enabled: false, warnings: [], evaluate: () => ALLOW_ALL });

/**
 * Compiles AuthorizationConfig into an engine with Istio's order: DENY policies first (any match
 * refuses), then ALLOW (allowed when no ALLOW policy exists or one matches); AUDIT policies only
 * mark the decision. CUSTOM never reaches the proxy (refused at validation).
 */
export function compileAuthorization(config: AuthorizationConfig | undefined): AuthzEngine {
  const policies = config?.policies ?? [];
  if (policies.length === 0) return NO_AUTHORIZATION;
  const warnings: string[] = [];
  const compiled = (action: string) => policies.filter((p) => p.action === action).map((p) => ({ name: p.name, match: compilePolicy(p, warnings) as PolicyMatcher }));
  const deny = compiled('DENY');
  const allow = compiled('ALLOW');
  const audit = compiled('AUDIT');
  for (const p of policies) if (!['ALLOW', 'DENY', 'AUDIT'].includes(p.action)) warnings.push(`${p.name}: action ${String(p.action)} is not supported by the proxy; ignored`);
  return {
    enabled: true,
    warnings,
    evaluate(r) {
      const isHttp = r.method !== undefined;
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
