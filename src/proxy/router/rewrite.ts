/**
 * Path and authority rewrites (Istio HTTPRewrite) and redirect locations (Istio HTTPRedirect),
 * with Envoy's treatment of the query string: rewrites act on the path and keep the query;
 * a redirect keeps the request's query unless its new uri carries one.
 */
import type { RedirectAction, RouteAction } from '../../proxy-config/types.js';
import { compileRegex } from './string-match.js';
import { authorityPort, stripPort } from './virtual-hosts.js';

/** Rewrites a request path (with query) given how many leading characters the match consumed. */
export type PathRewriter = (path: string, matchedLength: number) => string;

/** Builds the path rewriter of a route action; undefined when the route does not rewrite the path. */
export function compilePathRewrite(rw: RouteAction['rewrite']): PathRewriter | undefined {
  if (!rw) return undefined;
  if (rw.uriRegex) {
    const re = compileRegex(rw.uriRegex.match);
    // Istio / Envoy write capture groups as \1; re2js substitutes $1.
    const repl = rw.uriRegex.rewrite.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
    return (path) => {
      const q = path.indexOf('?');
      const p = q < 0 ? path : path.slice(0, q);
      const out = re.matcher(p).replaceAll(repl);
      return q < 0 ? out : out + path.slice(q);
    };
  }
  if (rw.uri !== undefined) {
    const to = rw.uri;
    return (path, matched) => to + path.slice(matched);
  }
  return undefined;
}

/** Builds a redirect's Location from the request. */
export function redirectLocation(r: RedirectAction, req: { path: string; authority: string; scheme: string; port?: number }): string {
  const scheme = r.scheme ?? req.scheme;
  const host = r.authority !== undefined ? stripPort(r.authority) : stripPort(req.authority);
  let port: number | undefined = r.port ?? (r.authority !== undefined ? authorityPort(r.authority) : authorityPort(req.authority));
  if (r.port === undefined && r.scheme !== undefined && r.scheme !== req.scheme && (port === 80 || port === 443)) port = undefined;
  // derivePort (Istio): the scheme's default port (none written), or the port the request came in on.
  if (r.port === undefined && r.derivePort === 'FROM_PROTOCOL_DEFAULT') port = undefined;
  if (r.port === undefined && r.derivePort === 'FROM_REQUEST_PORT' && req.port !== undefined && req.port > 0) port = req.port;
  if ((scheme === 'http' && port === 80) || (scheme === 'https' && port === 443)) port = undefined;
  let path = req.path;
  if (r.uri !== undefined) {
    const q = req.path.indexOf('?');
    path = r.uri.includes('?') || q < 0 ? r.uri : r.uri + req.path.slice(q);
  }
  return `${scheme}://${host}${port !== undefined ? ':' + port : ''}${path}`;
}
