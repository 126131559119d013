/**
 * AuthorizationPolicy action CUSTOM: `provider.name` -> the MeshConfig `extensionProviders` entry
 * of type `envoyExtAuthzHttp` (or `envoyExtAuthzGrpc`: service, port, timeout, failOpen, statusOnError), resolved to a cluster of the mesh (its `service` must be a service
 * of the registry, `[NAMESPACE/]HOST`, with its `port`). A provider that is missing, of another
 * type or that names an unknown service cannot be asked: the
 * policy then becomes a DENY of every request it selects (Istio denies all requests when the
 * provider is not found), and config-status.ts reports why on the policy.
 */
import { parseDuration } from '../../api/duration.js';
import { findService } from '../../model/hosts.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ExtAuthzHttp } from '../../proxy-config/types.js';
import { HEADER_PATTERN } from '../../proxy-config/validate-authz.js';
import { outboundCluster } from './http-route.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Header names or patterns, lowercase; a pattern the proxy could not read is left out (validation warns about it). */
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string').map((s) => s.toLowerCase()).filter((s) => HEADER_PATTERN.test(s)) : undefined);

/** Istio's default check timeout (10 minutes). */
const DEFAULT_TIMEOUT_MS = 600_000;

/** The provider resolved for the proxies, or why it cannot be. */
export type ResolvedProvider = { provider: ExtAuthzHttp } | { problem: string };

/** Resolves `name` against the mesh config's extension providers. */
export function resolveExtAuthz(snap: MeshSnapshot, name: string): ResolvedProvider {
  const list = Array.isArray(snap.mesh.extensionProviders) ? (snap.mesh.extensionProviders as unknown[]).filter(isObj) : [];
  const entry = list.find((p) => p.name === name);
  if (!entry) return { problem: `provider "${name}" is not one of the mesh config's extensionProviders (${list.map((p) => String(p.name)).join(', ') || 'none'}); every request the policy selects is denied` };
  const grpc = isObj(entry.envoyExtAuthzGrpc);
  const h = grpc ? entry.envoyExtAuthzGrpc : entry.envoyExtAuthzHttp;
  if (!isObj(h)) return { problem: `provider "${name}" is not an envoyExtAuthzHttp or envoyExtAuthzGrpc provider; every request the policy selects is denied` };
  const service = typeof h.service === 'string' ? h.service : '';
  const port = typeof h.port === 'number' ? h.port : Number(h.port);
  if (!service || !Number.isInteger(port) || port <= 0 || port > 65535) return { problem: `provider "${name}" needs service and port; every request the policy selects is denied` };
  const slash = service.indexOf('/');
  const ns = slash > 0 ? service.slice(0, slash) : snap.mesh.rootNamespace;
  const host = slash > 0 ? service.slice(slash + 1) : service;
  const svc = findService(host, ns, snap.serviceByHost, snap.serviceByAlias, snap.domains);
  if (!svc || !svc.ports.some((p) => p.port === port)) return { problem: `provider "${name}": service ${service} port ${port} is not in the registry; every request the policy selects is denied` };
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (typeof h.timeout === 'string') {
    const t = parseDuration(h.timeout);
    if (t === undefined || t <= 0) return { problem: `provider "${name}": timeout ${JSON.stringify(h.timeout)} is not a duration; every request the policy selects is denied` };
    timeoutMs = Math.max(1, Math.round(t));
  }
  const status = typeof h.statusOnError === 'string' ? Number(h.statusOnError) : h.statusOnError;
  const common = {
    ...(h.failOpen === true ? { failOpen: true } : {}),
    ...(typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599 ? { statusOnError: status } : {}),
  };
  if (grpc) return { provider: { name, protocol: 'grpc', cluster: outboundCluster(port, undefined, svc.hostname), authority: `${svc.hostname}:${port}`, timeoutMs, ...common } };
  if (typeof h.pathPrefix === 'string' && h.pathPrefix !== '' && !h.pathPrefix.startsWith('/')) return { problem: `provider "${name}": pathPrefix must start with /; every request the policy selects is denied` };
  const include = strings(h.includeRequestHeadersInCheck) ?? strings(h.includeHeadersInCheck);
  const additional = isObj(h.includeAdditionalHeadersInCheck) ? Object.fromEntries(Object.entries(h.includeAdditionalHeadersInCheck).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k.toLowerCase(), v as string]).filter(([k]) => HEADER_PATTERN.test(k!) && !k!.includes('*'))) : undefined;
  const up = strings(h.headersToUpstreamOnAllow);
  const down = strings(h.headersToDownstreamOnDeny);
  const provider: ExtAuthzHttp = {
    name,
    cluster: outboundCluster(port, undefined, svc.hostname),
    authority: `${svc.hostname}:${port}`,
    timeoutMs,
    ...(typeof h.pathPrefix === 'string' && h.pathPrefix !== '' ? { pathPrefix: h.pathPrefix } : {}),
    ...(include?.length ? { includeRequestHeaders: include } : {}),
    ...(additional && Object.keys(additional).length ? { includeAdditionalHeaders: additional } : {}),
    ...(up ? { headersToUpstreamOnAllow: up } : {}),
    ...(down ? { headersToDownstreamOnDeny: down } : {}),
    ...common,
  };
  return { provider };
}
