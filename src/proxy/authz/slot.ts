/**
 * The authorization engine of a running proxy, swapped with each applied config: the proxy
 * context's `authz` slot, which the pipeline and the TCP path read.
 */
import type { ProxyConfig } from '../../proxy-config/types.js';
import { DEFAULT_TRUST_DOMAIN, formatSpiffeId, peerPrincipal, spiffeIdOf } from '../../proxy-config/spiffe.js';
import type { AuthzDecision, AuthzRequest } from './request.js';
import { AUTHZ_DENIED_CODE, compileAuthorization, NO_AUTHORIZATION, type AuthzEngine } from './engine.js';
import { compileJwt, JwksCache, NO_JWT, type JwtAuthenticator } from './jwt.js';

/** What a proxy's authorization holds for the config in force. */
export interface AuthzSlot {
  /** AuthorizationPolicy (NO_AUTHORIZATION before any config). */
  engine: AuthzEngine;
  /** RequestAuthentication (NO_JWT before any config). */
  jwt: JwtAuthenticator;
  /** The proxy's own SPIFFE id (from its node), for x-forwarded-client-cert's `By=`; '' before any config. */
  self: string;
  /** JWKS fetched from jwksUri, kept across configs. */
  jwks: JwksCache;
}

/** The slot of a proxy before its first config. */
export function emptyAuthz(): AuthzSlot {
  return { engine: NO_AUTHORIZATION, jwt: NO_JWT, self: '', jwks: new JwksCache() };
}

/** The proxy's own SPIFFE id (from its node), for x-forwarded-client-cert's `By=`. */
export function ownIdentityOf(ctx: { authz: AuthzSlot }): string {
  return ctx.authz.self;
}

/** Compiles and installs the engine (and RequestAuthentication) of `cfg` in the proxy context's slot; returns warnings. */
export function installAuthorization(ctx: { authz: AuthzSlot }, cfg: ProxyConfig, log?: (msg: string) => void): readonly string[] {
  const e = compileAuthorization(cfg.authorization);
  const jwks = ctx.authz.jwks;
  ctx.authz = {
    engine: e,
    jwt: compileJwt(cfg.authorization?.jwtRules, log, Date.now, jwks),
    self: formatSpiffeId({ trustDomain: cfg.node.trustDomain ?? DEFAULT_TRUST_DOMAIN, namespace: cfg.node.namespace, serviceAccount: cfg.node.serviceAccount }),
    jwks,
  };
  return e.warnings;
}

/** The proxy's current RequestAuthentication. */
export function jwtOf(ctx: { authz: AuthzSlot }): JwtAuthenticator {
  return ctx.authz.jwt;
}

/** The proxy's current engine. */
export function authorizationOf(ctx: { authz: AuthzSlot }): AuthzEngine {
  return ctx.authz.engine;
}

/**
 * The principal authorization sees for a peer's SPIFFE id (`TD/ns/NS/sa/SA`, the id without
 * `spiffe://`); undefined for a plaintext peer (''). A malformed id keeps its text as the principal
 * (proxy-config/spiffe.ts peerPrincipal): DENY `principals: ["*"]` still matches it, while rules
 * naming namespaces or service accounts never do.
 */
export function principalOfPeer(peerIdentity: string): string | undefined {
  return peerIdentity === '' ? undefined : peerPrincipal(peerIdentity);
}

/** One log line for a refusal, with the stable code. */
export function deniedLine(what: string, r: AuthzRequest, d: AuthzDecision): string {
  return `authorization denied ${what} from ${r.principal ? spiffeIdOf(r.principal) ?? `principal ${r.principal}` : 'a plaintext peer'} (${r.sourceIp}) to port ${r.port}: ${d.reason}${d.policy ? ` [${d.policy}]` : ''} (${AUTHZ_DENIED_CODE})`;
}
