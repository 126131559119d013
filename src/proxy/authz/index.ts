/** AuthorizationPolicy enforcement in the proxy: compile once per config, evaluate per request or connection. */
export { AUTHZ_DENIED_BODY, AUTHZ_DENIED_CODE, AUTHZ_DENIED_STATUS, compileAuthorization, NO_AUTHORIZATION, type AuthzEngine } from './engine.js';
export type { AuthzDecision, AuthzRequest } from './request.js';
