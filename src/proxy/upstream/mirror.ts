/**
 * Traffic mirroring (Istio `mirror` / `mirrorPercentage`): a copy of the request goes to
 * another cluster, fire and forget. The copy uses its own short-lived connection (never the
 * main request's pool, so it cannot take a slot the main request needs), its Host carries
 * Envoy's `-shadow` suffix, its response is read and discarded, and nothing it does (connect
 * failure, slowness, reset) reaches the main request. Requests with bodies are not mirrored.
 */
import { connect } from 'node:net';
import type { Exchange } from '../http/exchange.js';
import { endToEndFields, requestHead } from '../http/serialize.js';
import { BODY_NONE } from '../http/request-head.js';

/** Give up on a mirror copy after this long. */
const MIRROR_TIMEOUT_MS = 10_000;

/** Sends a copy of `x` (headers as they will be forwarded) to one endpoint of `cluster`. */
export function mirrorRequest(x: Exchange, cluster: string): void {
  if (x.head.bodyKind !== BODY_NONE) return;
  const picked = x.ctx.clusters.pick(cluster, x);
  if (picked === undefined) return;
  const ep = picked.endpoint;
  x.ctx.clusters.report(ep, {}); // mirrors never count toward outlier detection
  x.ctx.stats.mirrorRequests++;
  const authority = x.forward!.authority;
  const colon = authority.lastIndexOf(':');
  const shadow = colon > 0 && !authority.endsWith(']') ? authority.slice(0, colon) + '-shadow' + authority.slice(colon) : authority + '-shadow';
  const text = requestHead(x.method, x.forward!.path, shadow, endToEndFields(x.head.headers, x.head.connectionTokens) + 'connection: close\r\n', { kind: 'none' }, undefined);
  const s = connect({ host: ep.address, port: ep.port });
  s.setTimeout(MIRROR_TIMEOUT_MS, () => s.destroy());
  s.on('error', () => {});
  s.on('data', () => {});
  s.on('end', () => s.destroy());
  s.write(text, 'latin1');
}
