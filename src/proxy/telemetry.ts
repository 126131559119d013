/**
 * Wires src/telemetry into the proxy: the telemetry hooks (trace headers, peer metadata,
 * istio_* metrics, spans, access logs) composed with any hooks the embedder passed.
 */
import type { ProxyTelemetry } from '../telemetry/telemetry.js';
import { telemetryHooks, type TelemetryHooks } from '../telemetry/proxy-hooks.js';
import { flagsText, type ProxyHooks } from './record.js';

/** TCP hooks (src/proxy/tcp/record.ts ProtocolHooks), seen structurally. */
type TcpHook = (r: Parameters<TelemetryHooks['onTcpOpened']>[0]) => void;

/** `user` hooks plus telemetry's; telemetry's run first on request/response heads, last on completion. */
export function withTelemetry(user: ProxyHooks, telemetry: ProxyTelemetry): ProxyHooks {
  const t = telemetryHooks(telemetry, { flagsText });
  const u = user;
  const ut = user as { onTcpOpened?: TcpHook; onTcpClosed?: TcpHook };
  const tcp = {
    onTcpOpened: ut.onTcpOpened ? (r: Parameters<TcpHook>[0]) => { ut.onTcpOpened!(r); t.onTcpOpened(r); } : t.onTcpOpened,
    onTcpClosed: ut.onTcpClosed ? (r: Parameters<TcpHook>[0]) => { ut.onTcpClosed!(r); t.onTcpClosed(r); } : t.onTcpClosed,
  };
  return {
    ...tcp,
    onRequestHeaders: u.onRequestHeaders ? (r, h) => { t.onRequestHeaders(r, h); u.onRequestHeaders!(r, h); } : t.onRequestHeaders,
    onResponseHeaders: u.onResponseHeaders ? (r, h) => { t.onResponseHeaders(r, h); u.onResponseHeaders!(r, h); } : t.onResponseHeaders,
    onRequestComplete: u.onRequestComplete ? (r) => { u.onRequestComplete!(r); t.onRequestComplete(r); } : t.onRequestComplete,
  };
}
