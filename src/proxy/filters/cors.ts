/**
 * CORS (Istio CorsPolicy, Envoy's CORS filter behaviour): a preflight OPTIONS request from an
 * allowed origin is answered locally with the allow-* headers; other requests from an allowed
 * origin get the response headers; a request from an origin that is not allowed passes through
 * untouched (no CORS headers, so the browser blocks it).
 */
import type { CorsPolicy } from '../../proxy-config/types.js';
import { compileStringMatch, type StringMatcher } from '../router/string-match.js';

/** A header name/value pair to add to a response. */
export type HeaderPair = [name: string, value: string];

/** A CORS policy ready for the hot path. */
export interface CompiledCors {
  readonly policy: CorsPolicy;
  /** Whether this Origin is allowed. */
  allows(origin: string): boolean;
  /** The headers of the local 200 answer to a preflight from an allowed origin; undefined: not allowed, pass through. */
  preflight(origin: string | undefined): HeaderPair[] | undefined;
  /** Headers to add to the response of a non-preflight request; undefined when the origin is absent or not allowed. */
  responseHeaders(origin: string | undefined): HeaderPair[] | undefined;
}

/** True when the request is a CORS preflight: OPTIONS with Origin and Access-Control-Request-Method. */
export function isPreflight(method: string, origin: string | undefined, requestMethod: string | undefined): boolean {
  return method === 'OPTIONS' && origin !== undefined && requestMethod !== undefined;
}

/** Compiles a CORS policy (origin matchers built once). */
export function compileCors(policy: CorsPolicy | undefined): CompiledCors | undefined {
  if (!policy) return undefined;
  const matchers: StringMatcher[] = policy.allowOrigins.map((m) => compileStringMatch(m));
  const allows = (origin: string): boolean => {
    for (const m of matchers) if (m(origin)) return true;
    return false;
  };
  const methods = policy.allowMethods?.length ? policy.allowMethods.join(',') : undefined;
  const allowHeaders = policy.allowHeaders?.length ? policy.allowHeaders.join(',') : undefined;
  const expose = policy.exposeHeaders?.length ? policy.exposeHeaders.join(',') : undefined;
  const maxAge = policy.maxAgeMs !== undefined ? String(Math.floor(policy.maxAgeMs / 1000)) : undefined;
  return {
    policy,
    allows,
    preflight(origin) {
      if (origin === undefined || !allows(origin)) return undefined;
      const h: HeaderPair[] = [['access-control-allow-origin', origin]];
      if (methods) h.push(['access-control-allow-methods', methods]);
      if (allowHeaders) h.push(['access-control-allow-headers', allowHeaders]);
      if (maxAge !== undefined) h.push(['access-control-max-age', maxAge]);
      if (policy.allowCredentials) h.push(['access-control-allow-credentials', 'true']);
      h.push(['vary', 'origin']);
      return h;
    },
    responseHeaders(origin) {
      if (origin === undefined || !allows(origin)) return undefined;
      const h: HeaderPair[] = [['access-control-allow-origin', origin]];
      if (policy.allowCredentials) h.push(['access-control-allow-credentials', 'true']);
      if (expose) h.push(['access-control-expose-headers', expose]);
      h.push(['vary', 'origin']);
      return h;
    },
  };
}
