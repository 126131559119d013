/**
 * The authorization engine of a running proxy, swapped with each applied config. Kept beside
 * the proxy context (by identity) so the pipeline and the TCP path read the current engine
 * without widening the context's type.
 */
import type { ProxyConfig } from '../../proxy-config/types.js';
import { DEFAULT_TRUST_DOMAIN, formatSpiffeId } from '../../proxy-config/spiffe.js';
import type { AuthzDecision, AuthzRequest } from './request.js';
import { AUTHZ_DENIED_CODE, compileAuthorization, NO_AUTHORIZATION, type AuthzEngine } from './engine.js';
import { compileJwt, NO_JWT, type JwtAuthenticator } from './jwt.js';

const engines = new WeakMap<object, AuthzEngine>();
const jwts = new WeakMap<object, JwtAuthenticator>();
const selves = new WeakMap<object, string>();

/** The proxy's own SPIFFE id (from its node), for x-forwarded-client-cert's `By=`. */
export function ownIdentityOf(ctx: object): string {
  return selves.get(ctx) ?? '';
}

/** Compiles and installs the engine (and RequestAuthentication) of `cfg` for the proxy whose context is `ctx`; returns warnings. */
export function installAuthorization(ctx: object, cfg: ProxyConfig, log?: (msg: string) => void): readonly string[] {
  const e = compileAuthorization(cfg.authorization);
  engines.set(ctx, e);
  jwts.set(ctx, compileJwt(cfg.authorization?.jwtRules, log));
  selves.set(ctx, formatSpiffeId({ trustDomain: cfg.node.trustDomain ?? DEFAULT_TRUST_DOMAIN, namespace: cfg.node.namespace, serviceAccount: cfg.node.serviceAccount }));
  return e.warnings;
}

/** The proxy's current RequestAuthentication (NO_JWT before any config). */
export function jwtOf(ctx: object): JwtAuthenticator {
  return jwts.get(ctx) ?? NO_JWT;
}

/** The proxy's current engine (NO_AUTHORIZATION before any config). */
export function authorizationOf(ctx: object): AuthzEngine {
  return engines.get(ctx) ?? NO_AUTHORIZATION;
}

/** The principal authorization sees for a SPIFFE id: `TD/ns/NS/sa/SA` without `spiffe://`; undefined for ''. */
export function principalOfPeer(peerIdentity: string): string | undefined {
  if (peerIdentity === '') return undefined;
  return peerIdentity.startsWith('spiffe://') ? peerIdentity.slice(9) : peerIdentity;
}

/** One log line for a refusal, with the stable code. */
export function deniedLine(what: string, r: AuthzRequest, d: AuthzDecision): string {
  return `authorization denied ${what} from ${r.principal ? `spiffe://${r.principal}` : 'a plaintext peer'} (${r.sourceIp}) to port ${r.port}: ${d.reason}${d.policy ? ` [${d.policy}]` : ''} (${AUTHZ_DENIED_CODE})`;
}
