/**
 * Wires src/telemetry into the proxy: the telemetry hooks (trace headers, peer metadata,
 * istio_* metrics, spans, access logs) composed with any hooks the embedder passed.
 */
import { telemetryHooks, type ProxyTelemetry } from '../telemetry/index.js';
import { flagsText, type ProxyHooks } from './record.js';

/** `user` hooks plus telemetry's; telemetry's run first on request/response heads, last on completion. */
export function withTelemetry(user: ProxyHooks, telemetry: ProxyTelemetry): ProxyHooks {
  const t = telemetryHooks(telemetry, { flagsText });
  const u = user;
  return {
    onRequestHeaders: u.onRequestHeaders ? (r, h) => { t.onRequestHeaders(r, h); u.onRequestHeaders!(r, h); } : t.onRequestHeaders,
    onResponseHeaders: u.onResponseHeaders ? (r, h) => { t.onResponseHeaders(r, h); u.onResponseHeaders!(r, h); } : t.onResponseHeaders,
    onRequestComplete: u.onRequestComplete ? (r) => { u.onRequestComplete!(r); t.onRequestComplete(r); } : t.onRequestComplete,
  };
}
