/**
 * Traffic mirroring (Istio `mirror` / `mirrorPercentage`): a copy of the request goes to
 * another cluster, fire and forget, through the same upstream clients as any request
 * (dispatch.ts: the mirror cluster's own pool or HTTP/2 sessions, its TLS, its limits). Its Host
 * carries Envoy's `-shadow` suffix, its response is read and discarded, and nothing it does
 * (connect failure, overflow, slowness, reset) reaches the main request. Requests with bodies
 * are not mirrored.
 */
import type { Exchange } from '../exchange/exchange.js';
import { Headers } from '../http/head.js';
import { BODY_NONE } from '../http/request-head.js';
import type { CallSink, UpstreamCall } from './call.js';
import { dispatch } from './dispatch.js';

/** Give up on a mirror copy after this long. */
const MIRROR_TIMEOUT_MS = 10_000;

/** Reads a mirror's response and forgets it; gives up after MIRROR_TIMEOUT_MS. */
class Discard implements CallSink {
  call: UpstreamCall | undefined;
  private readonly timer = setTimeout(() => this.call?.abort(), MIRROR_TIMEOUT_MS).unref();
  onResponse(): void {}
  onData(): boolean { return true; }
  onTrailers(): void {}
  onEnd(): void { clearTimeout(this.timer); }
  onFailure(): void { clearTimeout(this.timer); }
}

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
  // The copy's own header list: the main request's may still change (attempt count, HTTP/2 field rules).
  const h = new Headers();
  h.names = x.head.headers.names.slice();
  h.values = x.head.headers.values.slice();
  const sink = new Discard();
  const call = dispatch(x.ctx, cluster, ep, { method: x.method, path: x.forward!.path, authority: shadow, headers: h, connectionTokens: x.head.connectionTokens, bodyLength: 0, upgrade: undefined }, sink, x.protocol === 'HTTP/2');
  if (call === undefined || call === 'overflow') { sink.onEnd(); return; }
  sink.call = call;
}
