/**
 * A listener's filter chains compiled for connection dispatch (Envoy's filter chain match):
 * what must be read from a new connection before a chain can be chosen (nothing, the
 * protocol, or the ClientHello), and the first chain whose match fits. Per-chain HTTP
 * settings are the listener's, overridden by the chain's own HttpConnectionManager.
 */
import type { FilterChain, FilterChainMatch, HttpConnectionManager, Listener, ProxyConfig } from '../../proxy-config/types.js';
import { ipBlocks } from '../authz/values.js';
import type { HttpListenerRuntime } from '../context.js';
import type { CompiledRouteConfig } from '../router/index.js';
import { compileTcpProxy, type CompiledTcpProxy } from '../tcp/route.js';
import { serverNameMatches } from '../tcp/names.js';
import { compileDownstreamTls, type CompiledDownstreamTls } from '../tls/downstream.js';
import { SecretResolver } from '../tls/secrets.js';
import { compileUpstreamTls, type CompiledUpstreamTls } from '../tls/upstream.js';
import type { Sniffed } from './sniff.js';

/** Default time to wait for a client's first bytes before treating the connection as TCP. */
export const DEFAULT_DETECT_TIMEOUT_MS = 100;

/** Connection facts a chain matches on. */
export interface ChainInput {
  /** The connection came by capture (its local address is the original destination). */
  captured: boolean;
  transport: 'tls' | 'raw';
  /** Detected protocol of a raw connection (undefined when not sniffed). */
  protocol: Sniffed | undefined;
  serverName: string | undefined;
  alpn: readonly string[];
  destinationPort: number;
  destination: string;
  source: string;
  /** Where the client was going (captured: the original destination; CONNECT: its target host). */
  originalDst?: { host: string; port: number };
}

/** One compiled filter chain. */
export interface CompiledChain {
  readonly name: string;
  matches(i: ChainInput): boolean;
  readonly tls: CompiledDownstreamTls | undefined;
  /** HTTP settings (the listener's runtime with this chain's overrides). */
  readonly http: HttpListenerRuntime | undefined;
  /**
   * `http` on a listener whose logical port is `logicalPort` (a port-0 listener learns it when bound):
   * the same object while that port stays, or `http` itself when the chain stands for its own port.
   */
  httpOn(logicalPort: number): HttpListenerRuntime | undefined;
  readonly codec: 'http1' | 'http2' | 'auto';
  /** HTTP/2 limits of this chain. */
  readonly h2: HttpConnectionManager['http2'] | undefined;
  readonly tcp: CompiledTcpProxy | undefined;
  readonly securityPolicy: 'mutual_tls' | 'none';
}

/** Per-config settings every listener shares: upstream TLS per cluster. */
export interface ProtocolShared {
  upstreamTls: Map<string, CompiledUpstreamTls>;
}

/** A listener's chains ready for the accept path. */
export interface ListenerChains {
  readonly listener: Listener;
  readonly chains: readonly CompiledChain[];
  /** What to read before choosing: 'none' (one chain, no match on bytes), 'sniff' (protocol), 'hello' (TLS ClientHello too). */
  readonly inspect: 'none' | 'sniff';
  readonly detectTimeoutMs: number;
  /**
   * The detection timeout of a connection made to the listener itself (not captured, not a CONNECT tunnel) on an HTTP
   * proxy listener (an HTTP chain accepts absolute-form targets: a sidecar's outbound listener): its clients are
   * HTTP_PROXY clients, which speak first, and its TCP chains route captured connections and CONNECT targets by their
   * original destination, which such a connection does not have (the passthrough chain would close it, with the
   * request of a client that was slow to send it unread: the client reads a reset). It waits for its first bytes up to
   * the idle timeout, as on a listener without TCP chains. Elsewhere `detectTimeoutMs`.
   */
  readonly directDetectTimeoutMs: number;
  readonly shared: ProtocolShared;
  /**
   * The mTLS chains the proxy dropped for lack of a workload certificate (identity/secrets.ts), matched after the
   * listener's own: a connection one of them takes is refused as Envoy resets a connection whose chain's certificate
   * is not ready (downstream_context_secrets_not_ready), counted in mtlsNoWorkloadCertificate. Usually empty.
   */
  readonly withoutIdentity: ReadonlyArray<{ readonly name: string; matches(i: ChainInput): boolean; readonly securityPolicy: 'mutual_tls' | 'none' }>;
}

/** The per-config parts every listener shares: the secrets, each cluster's compiled upstream TLS, and the mTLS chains
 *  dropped for lack of a workload certificate (identity/secrets.ts), by listener name. */
export interface CompiledProtocols {
  secrets: SecretResolver;
  shared: ProtocolShared;
  withoutIdentity: ReadonlyMap<string, readonly FilterChain[]>;
}

/** Compiles the per-config parts every listener shares (upstream TLS contexts); throws on missing secrets.
 *  `warned`: the proxy's upstream-TLS warnings already logged (ProxyContext.upstreamTlsWarned); a fresh set for a compile of its own. */
export function compileProtocols(cfg: ProxyConfig, log: (line: string) => void, warned: Set<string> = new Set(), withoutIdentity: ReadonlyMap<string, readonly FilterChain[]> = new Map()): CompiledProtocols {
  const secrets = new SecretResolver(cfg.secrets);
  const upstreamTls = new Map<string, CompiledUpstreamTls>();
  for (const c of cfg.clusters) {
    if (c.tls === undefined) continue;
    const t = compileUpstreamTls(c.name, c.tls, secrets, log, warned);
    upstreamTls.set(c.name, t);
  }
  return { secrets, shared: { upstreamTls }, withoutIdentity };
}

/** True when a listener needs this dispatcher (anything but a single plaintext HTTP/1.1 chain). */
export function needsDispatch(l: Listener, withoutIdentity: readonly FilterChain[]): boolean {
  if (l.filterChains.length !== 1 || withoutIdentity.length > 0) return true;
  const c = l.filterChains[0]!;
  return c.tcp !== undefined || c.tls !== undefined || (c.http?.codec ?? 'auto') !== 'http1' || c.match !== undefined;
}

/** Compiles a listener's chains. `base` is the listener's HTTP runtime (first HTTP chain's settings). */
export function compileListenerChains(
  l: Listener, cfg: ProxyConfig, tables: Map<string, CompiledRouteConfig>, base: HttpListenerRuntime, protocols: CompiledProtocols,
): ListenerChains {
  const { secrets, shared } = protocols;
  const chains = l.filterChains.map((fc, i) => compileChain(fc, i, cfg, tables, base, secrets, l.useOriginalDst === true));
  // A lone plain TCP chain that does not route by SNI reads nothing first: server-first protocols never wait.
  const only = chains.length === 1 ? chains[0]! : undefined;
  const inspect = only !== undefined && l.filterChains[0]!.match === undefined && only.tcp !== undefined && !only.tcp.needsServerName && only.tls === undefined ? 'none' : 'sniff';
  // Without a TCP chain nothing is gained by deciding early: wait for the client's first bytes up to the idle timeout
  // (an HTTP/2 client that sends its preface late must not land in the HTTP/1.1 codec).
  const waitForBytes = base.idleTimeoutMs || 3_600_000;
  const detectTimeoutMs = chains.some((c) => c.tcp !== undefined) ? l.detectTimeoutMs ?? DEFAULT_DETECT_TIMEOUT_MS : waitForBytes;
  const directDetectTimeoutMs = chains.some((c) => c.http?.acceptAbsoluteForm === true) ? Math.max(detectTimeoutMs, waitForBytes) : detectTimeoutMs;
  const withoutIdentity = (protocols.withoutIdentity.get(l.name) ?? []).map((fc, i) => ({
    name: fc.name || `chain-${i}`,
    matches: compileChainMatch(fc.match),
    securityPolicy: fc.tls?.securityPolicy ?? (fc.tls?.requireClientCertificate ? 'mutual_tls' as const : 'none' as const),
  }));
  return { listener: l, chains, inspect, detectTimeoutMs, directDetectTimeoutMs, shared, withoutIdentity };
}

function httpRuntime(h: HttpConnectionManager, base: HttpListenerRuntime, tables: Map<string, CompiledRouteConfig>, tls: boolean): HttpListenerRuntime {
  return {
    ...base,
    routes: tables.get(h.routeConfig),
    maxRequestHeadersBytes: h.maxRequestHeadersBytes ?? base.maxRequestHeadersBytes,
    acceptAbsoluteForm: h.acceptAbsoluteForm === true,
    generateRequestId: h.generateRequestId !== false,
    idleTimeoutMs: h.idleTimeoutMs ?? base.idleTimeoutMs,
    requestHeadersTimeoutMs: h.requestHeadersTimeoutMs ?? base.requestHeadersTimeoutMs,
    scheme: tls ? 'https' : 'http',
  };
}

function compileChain(fc: FilterChain, i: number, cfg: ProxyConfig, tables: Map<string, CompiledRouteConfig>, base: HttpListenerRuntime, secrets: SecretResolver, originalDst: boolean): CompiledChain {
  let http = fc.http !== undefined ? httpRuntime(fc.http, base, tables, fc.tls !== undefined) : undefined;
  // A captured listener's chain for one destination port stands for that port (routing, authorization `ports`).
  const port = fc.match?.destinationPort;
  if (http !== undefined && originalDst && port !== undefined) http = { ...http, logicalPort: port, ownPort: true };
  const own = http;
  let onPort: HttpListenerRuntime | undefined;
  return {
    name: fc.name || `chain-${i}`,
    matches: compileChainMatch(fc.match),
    tls: fc.tls !== undefined ? compileDownstreamTls(fc.tls, secrets) : undefined,
    http,
    httpOn(logicalPort) {
      if (own === undefined || own.ownPort === true || own.logicalPort === logicalPort) return own;
      if (onPort === undefined || onPort.logicalPort !== logicalPort) onPort = { ...own, logicalPort };
      return onPort;
    },
    codec: fc.http?.codec ?? 'auto',
    h2: fc.http?.http2,
    tcp: fc.tcp !== undefined ? compileTcpProxy(fc.tcp, cfg.node) : undefined,
    securityPolicy: fc.tls?.securityPolicy ?? (fc.tls?.requireClientCertificate ? 'mutual_tls' : 'none'),
  };
}

/** A filter chain's match as the accept path runs it (also used by `bowline explain`); absent: matches everything. */
export function compileChainMatch(m: FilterChainMatch | undefined): (i: ChainInput) => boolean {
  if (m === undefined) return () => true;
  const names = m.serverNames?.map((n) => n.toLowerCase());
  const dst = m.prefixRanges !== undefined && m.prefixRanges.length > 0 ? ipBlocks(m.prefixRanges) : undefined;
  const src = m.sourcePrefixRanges !== undefined && m.sourcePrefixRanges.length > 0 ? ipBlocks(m.sourcePrefixRanges) : undefined;
  return (i) => {
    if (m.transportProtocol !== undefined && m.transportProtocol !== i.transport) return false;
    if (names !== undefined && names.length > 0 && (i.serverName === undefined || !serverNameMatches(i.serverName, names))) return false;
    if (m.applicationProtocols !== undefined && m.applicationProtocols.length > 0 && !m.applicationProtocols.some((p) => i.alpn.includes(p))) return false;
    if (m.protocol !== undefined && (i.transport !== 'raw' || (i.protocol ?? 'tcp') !== m.protocol)) return false;
    if (m.destinationPort !== undefined && m.destinationPort !== i.destinationPort) return false;
    if (dst !== undefined && !dst(i.destination)) return false;
    if (src !== undefined && !src(i.source)) return false;
    return true;
  };
}
