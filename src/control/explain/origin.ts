/**
 * Where a decision came from: the VirtualService rule behind a generated route, and the file:line
 * `bowline apply` recorded on a resource (annotation `bowline.io/source`).
 */
import type { Kind, Resource } from '../../api/types/meta.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { Route, VirtualHost } from '../../proxy-config/types.js';
import { expandHttpRules } from '../../push/generators/delegate.js';
import { httpRoute, type RouteContext } from '../../push/generators/http-route.js';
import { meshVirtualServicesFor } from '../../push/generators/scope.js';
import { SOURCE_ANNOTATION } from './types.js';

export { SOURCE_ANNOTATION };

const NAMED = /\b(VirtualService|DestinationRule|PeerAuthentication|AuthorizationPolicy|RequestAuthentication|Sidecar|MeshPolicy|Policy) ([a-z0-9.-]+)(?:\/([a-z0-9.-]+))?/;

/** The file:line a stored resource was applied from, if recorded. */
export function appliedFrom(snap: MeshSnapshot, kind: Kind, namespace: string | undefined, name: string): string | undefined {
  const r = (snap.configs(kind) as Resource[]).find((x) => x.metadata.name === name && (namespace === undefined || (x.metadata.namespace ?? 'default') === namespace));
  const v = r?.metadata.annotations?.[SOURCE_ANNOTATION];
  return typeof v === 'string' && v ? v : undefined;
}

/** `text` naming a resource (`DestinationRule default/reviews`) with ` (applied from FILE:LINE)` when known. */
export function withSource(snap: MeshSnapshot, text: string): string {
  const m = NAMED.exec(text);
  if (!m) return text;
  const [ns, name] = m[3] !== undefined ? [m[2], m[3]] : [undefined, m[2]!];
  const at = appliedFrom(snap, m[1] as Kind, ns, name!);
  return at ? `${text} (applied from ${at})` : text;
}

/**
 * The VirtualService rule a sidecar's route came from: the same expansion and translation the
 * route generator runs for the virtual host's service, lined up with the routes it kept.
 */
export function routeOrigin(snap: MeshSnapshot, vh: VirtualHost, route: Route, viewerNs: string): string {
  const colon = vh.name.lastIndexOf(':');
  const svc = snap.serviceByHost.get(vh.name.slice(0, colon));
  const port = Number(vh.name.slice(colon + 1));
  if (!svc) return route.name ?? vh.name;
  if (route.name === 'default') return `no VirtualService for ${svc.hostname}: the default route to the whole service`;
  const vss = meshVirtualServicesFor(snap, svc, viewerNs);
  const vs = vss[0];
  if (!vs) return route.name ?? vh.name;
  const kept = expandHttpRules(snap, vs).filter((e) => {
    const ctx: RouteContext = { snap, vsNamespace: e.namespace, port, servicePort: port, gateways: ['mesh'] };
    return httpRoute(ctx, e.rule, e.index, e.source) !== null;
  });
  const e = kept[vh.routes.indexOf(route)];
  if (!e) return route.name ?? vh.name;
  const [ns, name] = e.source.split('/') as [string, string];
  const at = appliedFrom(snap, 'VirtualService', ns, name);
  const others = vss.length > 1 ? `; also for this host, not used (the oldest VirtualService wins): ${vss.slice(1).map((v) => `${v.metadata.namespace}/${v.metadata.name}`).join(', ')}` : '';
  return `VirtualService ${e.source} http[${e.index}]${e.rule.name ? ` "${e.rule.name}"` : ''}${at ? ` (applied from ${at})` : ''}${others}`;
}
