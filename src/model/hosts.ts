/**
 * Host names as Istio resolves them: short names in a resource's namespace, wildcards,
 * and a service's aliases.
 */
import type { DomainSettings, Service } from './service.js';

/** Resolves a host written in a resource of `namespace`: `reviews` -> `reviews.NS.svc.DOMAIN`; others unchanged. */
export function resolveHost(host: string, namespace: string, domains: DomainSettings): string {
  if (host === '*' || host.includes('.') || host.startsWith('*')) return host.toLowerCase();
  return `${host}.${namespace}.svc.${domains.clusterDomain}`.toLowerCase();
}

/** True when `pattern` (exact or `*.suffix` or `*`) matches the concrete host `host`. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/** True when a host written in namespace `ns` (already resolved) names `svc` (any alias, wildcard allowed). */
export function hostSelectsService(resolved: string, writtenIn: string, svc: Service): boolean {
  if (svc.aliases.some((a) => hostMatches(resolved, a))) return true;
  return writtenIn === svc.namespace && svc.localAliases.some((a) => hostMatches(resolved, a));
}

/** The FQDN of a service a destination host (as written in namespace `ns`) names, if any. */
export function findService(host: string, ns: string, byHost: ReadonlyMap<string, Service>, byAlias: ReadonlyMap<string, Service>, domains: DomainSettings): Service | undefined {
  const h = host.toLowerCase();
  const resolved = resolveHost(h, ns, domains);
  return byHost.get(resolved) ?? byAlias.get(resolved) ?? byAlias.get(h);
}
