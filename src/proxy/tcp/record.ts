/**
 * What the proxy tells observers about TCP connections (istio_tcp_* metrics, access logs).
 * ProxyHooks extends these hooks: a hooks object passed to `startProxy` may carry them too;
 * each is optional and must not throw. The protocol layer's counters are ProxyStats fields.
 */
import type { ProxyContext } from '../context.js';

/** One proxied TCP (or TLS passthrough) connection. Bytes are totals so far. */
export interface TcpConnectionRecord {
  listener: string;
  direction: 'inbound' | 'outbound' | 'gateway';
  startTime: number;
  durationMs: number;
  cluster: string;
  /** `address:port` of the upstream endpoint, '' before one was picked. */
  upstreamHost: string;
  downstreamRemote: string;
  /** SNI of a TLS connection, '' otherwise. */
  serverName: string;
  /** Verified SPIFFE id of the downstream peer when the chain terminated mTLS, else ''. */
  peerIdentity: string;
  /** Verified SPIFFE id of the upstream server when the proxy originated mutual TLS toward it (read once at the handshake), else ''. */
  upstreamPeerIdentity: string;
  mtls: boolean;
  /** Bytes sent to the downstream client. */
  sentBytes: number;
  /** Bytes received from the downstream client. */
  receivedBytes: number;
  /** Response flags bitmask (UF, UO, UH, NR, NC, ...) as in record.ts. */
  flags: number;
}

/** Hooks for TCP connections and gRPC completions (optional, beside ProxyHooks'). */
export interface ProtocolHooks {
  /** A TCP connection reached its upstream (bytes 0). */
  onTcpOpened?(r: TcpConnectionRecord): void;
  /** A TCP connection closed (final byte totals), whether or not it ever connected. */
  onTcpClosed?(r: TcpConnectionRecord): void;
}

/** Calls a protocol hook, swallowing (and logging) anything it throws. */
export function callHook<K extends keyof ProtocolHooks>(ctx: ProxyContext, name: K, r: TcpConnectionRecord): void {
  const fn = ctx.hooks[name];
  if (fn === undefined) return;
  try { fn.call(ctx.hooks, r); } catch (err) { ctx.log('hook:' + name, `${name} hook threw: ${String(err)}`); }
}
