/**
 * Istio kinds Bowline refuses on purpose, with what to use instead. They configure Envoy itself,
 * and Bowline's proxies are not Envoy: accepting them would mean silently ignoring them.
 */
export const refusedKinds: Record<string, { message: string; hint: string }> = {
  EnvoyFilter: {
    message: 'EnvoyFilter patches the configuration of Envoy, and Bowline runs no Envoy (its proxies are its own): there is nothing it could patch, so it is refused rather than ignored',
    hint: 'use the built-in feature for the job: add/remove/set headers (what Lua or header filters are used for) -> VirtualService http[].headers; '
      + 'external authorization (ext_authz) -> AuthorizationPolicy action CUSTOM with a mesh extensionProviders envoyExtAuthzHttp or envoyExtAuthzGrpc; '
      + 'rate limiting / load shedding -> DestinationRule trafficPolicy.connectionPool (maxConnections, http1MaxPendingRequests, http2MaxRequests) and outlierDetection; '
      + 'timeouts, retries, fault injection, CORS, redirects -> VirtualService http[] timeout, retries, fault, corsPolicy, redirect; '
      + 'access log format, tracing and metrics tags -> Telemetry or the mesh config (accessLogFormat); TCP keepalive -> DestinationRule connectionPool.tcp.tcpKeepalive',
  },
  WasmPlugin: {
    message: 'WasmPlugin loads a WebAssembly filter into Envoy, and Bowline runs no Envoy (its proxies are its own): it is refused rather than ignored',
    hint: 'use the built-in features: VirtualService headers, AuthorizationPolicy (CUSTOM for an external authorizer), Telemetry',
  },
  TrafficExtension: {
    message: 'TrafficExtension loads Lua or WebAssembly code into Envoy, and Bowline runs no Envoy (its proxies are its own): it is refused rather than ignored',
    hint: 'use the built-in features: VirtualService headers, AuthorizationPolicy (CUSTOM for an external authorizer), Telemetry',
  },
};
