/**
 * What each API credential may do on the config API listener. A request is made by a caller
 * (who) with a scope; `scopeAllows` decides per method and path. Scopes are fixed, not
 * configurable roles: an operator holds the admin token, everything else gets the narrowest
 * scope that does its job (docs/security.md "API credentials").
 */
import { parseResourcePath } from './config-api.js';

/** The scopes an API token can carry. */
export type ApiScope = 'admin' | 'read-only' | 'registry-read' | 'viewer' | 'replica';

/** Every scope with what it is for (shown by `bowline api-token create --help` and in refusals). */
export const API_SCOPES: Record<ApiScope, string> = {
  admin: 'everything the admin token can do (config writes, token minting, backups, Secret values)',
  'read-only': 'GET/watch of the config API, /debug views and /metrics; no Secret values, no config_dump (may hold keys), no backup',
  'registry-read': "the registry view a remote cluster's control plane reads: /v1/registry, /debug/registryz and ServiceEntry, WorkloadEntry, WorkloadGroup, Namespace reads",
  viewer: "the web dashboard's data (/ui/api/), for people who look but do not change",
  replica: 'what a control-plane replica reads from its peers: GET /debug/syncz and /debug/config_dump of the proxies connected to them and /debug/statsz, the traffic they reported (minted by each replica for itself, never by a user)',
};

/** The scopes a user may give a token (`replica` tokens are minted by the replicas themselves: src/control/replicas/presence.ts). */
export const USER_SCOPES: readonly ApiScope[] = ['admin', 'read-only', 'registry-read', 'viewer'];

/** True when `s` names a scope. */
export function isApiScope(s: unknown): s is ApiScope {
  return typeof s === 'string' && Object.hasOwn(API_SCOPES, s);
}

/** Who made a request, as the audit log and refusals name it. */
export interface Caller {
  /** `admin-token`, `api-token`, `local` (loopback without a token) or `anonymous` (no credential off loopback). */
  kind: 'admin-token' | 'api-token' | 'local' | 'anonymous';
  /** What the caller may do; `none` for anonymous callers off loopback (open paths only). */
  scope: ApiScope | 'none';
  /** The API token's id and name. */
  tokenId?: string;
  name?: string;
}

/** A short name of a caller for logs: `admin-token`, `api-token NAME (ID, scope)`, `local`, `anonymous`. */
export function callerName(c: Caller): string {
  return c.kind === 'api-token' ? `api-token ${c.name ?? ''} (${c.tokenId}, ${c.scope})` : c.kind;
}

const READ = new Set(['GET', 'HEAD']);

/** Paths no one but an admin reads: key material or credentials. */
const ADMIN_ONLY_PREFIXES = ['/v1/store/backup', '/v1/auth/', '/v1/tokens', '/debug/config_dump'];

/** Kinds a remote cluster's control plane reads to learn this cluster's services and workloads. */
const REGISTRY_KINDS = new Set(['ServiceEntry', 'WorkloadEntry', 'WorkloadGroup', 'Namespace']);

/** Discovery and version paths a Kubernetes-style client reads before anything else. */
function isDiscovery(path: string): boolean {
  return path === '/version' || path === '/api' || path === '/apis' || /^\/apis?\/[^/]+(\/[^/]+)?$/.test(path) || path.startsWith('/openapi/');
}

/** True when `scope` may send `method` to `path` (path without a trailing slash, as the listener computes it). */
export function scopeAllows(scope: ApiScope | 'none', method: string, path: string): boolean {
  if (scope === 'admin') return true;
  if (scope === 'none' || !READ.has(method)) return false;
  if (path === '/v1/auth/whoami') return true;
  // Exactly the paths a peer asks (with ?local=1; src/control/replicas/debug.ts), config_dump included.
  if (scope === 'replica') return path === '/debug/syncz' || path === '/debug/config_dump' || path === '/debug/statsz';
  if (ADMIN_ONLY_PREFIXES.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`))) return false;
  switch (scope) {
    case 'read-only':
      return true;
    case 'viewer':
      return path.startsWith('/ui/api/');
    case 'registry-read': {
      if (path === '/debug/registryz' || path === '/v1/registry' || isDiscovery(path)) return true;
      const rp = parseResourcePath(path);
      return rp !== undefined && rp.subresource === undefined && REGISTRY_KINDS.has(rp.kind.kind);
    }
  }
}

/** The scope a refusal names as enough for `method path` (the narrowest that allows it). */
export function scopeNeeded(method: string, path: string): ApiScope {
  for (const s of ['viewer', 'registry-read', 'read-only'] as const) if (scopeAllows(s, method, path)) return s;
  return 'admin';
}
