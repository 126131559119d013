/**
 * TCP keepalive on upstream sockets (Istio's connectionPool.tcp.tcpKeepalive, Envoy's
 * upstream_connection_options.tcp_keepalive). Node sets SO_KEEPALIVE and TCP_KEEPIDLE (`timeMs`);
 * it offers no way to set TCP_KEEPINTVL or TCP_KEEPCNT, so `intervalMs` and `probes` are the
 * kernel's (libuv's) values -- docs/proxy-config.md says so, and the API layer warns about them.
 */
import type { Socket } from 'node:net';
import type { ConnectionPool } from '../../proxy-config/types.js';

/** Turns keepalive on for an upstream socket when the cluster's pool asks for it. */
export function applyKeepalive(socket: Socket, pool: ConnectionPool | undefined): void {
  const ka = pool?.tcpKeepalive;
  if (ka === undefined) return;
  // 0 keeps the system's idle time (Istio: "the OS default" when time is unset).
  socket.setKeepAlive(true, ka.timeMs !== undefined ? Math.max(1000, ka.timeMs) : 0);
}
