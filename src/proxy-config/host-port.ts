/**
 * HOST:PORT, the one parser of the addresses Bowline takes as flags and settings (listen
 * addresses, the control plane's push address, Istio's defaultEndpoint): `host:port`,
 * `[v6]:port`, or `:port` (any host). Shared by the control plane and the proxy.
 */

/** A parsed HOST:PORT; `host` has no brackets and is '' for `:port`. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses HOST:PORT or [V6]:PORT (port 0-65535); undefined when `spec` is not one. */
export function tryParseHostPort(spec: string): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]*)):(\d{1,5})$/.exec(spec.trim());
  if (!m || Number(m[3]) > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

/** A listen address: HOST:PORT, an empty host meaning every IPv4 address (0.0.0.0); throws naming `what` otherwise. */
export function parseListen(spec: string, what = 'listen address'): HostPort {
  const hp = tryParseHostPort(spec);
  if (!hp) throw new Error(`${what} "${spec}" is not HOST:PORT`);
  return { host: hp.host || '0.0.0.0', port: hp.port };
}
