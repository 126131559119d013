/**
 * What the proxy tells observers about TCP connections (istio_tcp_* metrics, access logs),
 * and the counters of the protocol layer. The hooks extend ProxyHooks structurally: a hooks
 * object passed to `startProxy` may carry these too; each is optional and must not throw.
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

/** Counters of the protocol layer, served with the proxy's /stats. */
export interface ProtocolCounters {
  tcpConnectionsTotal: number;
  tcpConnectionsActive: number;
  tcpBytesReceived: number;
  tcpBytesSent: number;
  tcpNoRoute: number;
  tcpConnectFailures: number;
  tcpOverflow: number;
  tcpIdleTimeouts: number;
  tlsInspectorInvalid: number;
  tlsInspectorNoSni: number;
  tlsHandshakeFailures: number;
  detectTimeouts: number;
  noFilterChainMatch: number;
  h2SessionsTotal: number;
  h2SessionsActive: number;
  h2StreamsTotal: number;
  h2StreamsReset: number;
  h2ProtocolErrors: number;
  /** HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM for resetting too many streams early (h2/abuse.ts). */
  h2ResetFloods: number;
  h2UpstreamSessionsTotal: number;
  h2UpstreamRefusedStreams: number;
}

const KEYS: Array<keyof ProtocolCounters> = [
  'tcpConnectionsTotal', 'tcpConnectionsActive', 'tcpBytesReceived', 'tcpBytesSent', 'tcpNoRoute', 'tcpConnectFailures',
  'tcpOverflow', 'tcpIdleTimeouts', 'tlsInspectorInvalid', 'tlsInspectorNoSni', 'tlsHandshakeFailures', 'detectTimeouts',
  'noFilterChainMatch', 'h2SessionsTotal', 'h2SessionsActive', 'h2StreamsTotal', 'h2StreamsReset', 'h2ProtocolErrors',
  'h2ResetFloods', 'h2UpstreamSessionsTotal', 'h2UpstreamRefusedStreams'
];

const seen = new WeakSet<object>();

/**
 * The protocol counters, kept as extra numeric fields of the proxy's ProxyStats object so
 * /stats serves them with the rest (ProxyStats.toJSON lists every numeric field).
 */
export function protocolStats(ctx: Pick<ProxyContext, 'stats'>): ProtocolCounters {
  const s = ctx.stats as unknown as ProtocolCounters;
  if (!seen.has(s)) {
    seen.add(s);
    for (const k of KEYS) if (typeof s[k] !== 'number') s[k] = 0;
  }
  return s;
}

/** Calls a protocol hook, swallowing (and logging) anything it throws. */
export function callHook<K extends keyof ProtocolHooks>(ctx: ProxyContext, name: K, r: TcpConnectionRecord): void {
  const fn = (ctx.hooks as ProtocolHooks)[name];
  if (fn === undefined) return;
  try { fn.call(ctx.hooks, r); } catch (err) { ctx.log('hook:' + name, `${name} hook threw: ${String(err)}`); }
}
