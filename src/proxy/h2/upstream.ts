/**
 * The HTTP/2 upstream client: multiplexed HTTP/2 sessions per endpoint (h2c or h2 over TLS
 * with ALPN) on our own codec (wire-session.ts, h2/wire/), bounded per cluster by
 * `http2MaxRequests` (concurrent streams; overflow is 503 UO) and per session by
 * `maxConcurrentStreams` (and the peer's SETTINGS). HTTP/1.1 clusters use upstream/h1-call.ts.
 * GOAWAY retires a session (new streams go elsewhere); REFUSED_STREAM and streams cut by a
 * GOAWAY are reported as `refused` (safe to retry: the upstream never processed them).
 */
import type { Headers } from '../http/head.js';
import { connect as netConnect } from 'node:net';
import type { Cluster } from '../../proxy-config/types.js';
import type { UpstreamEndpoint } from '../cluster/index.js';
import type { ProxyContext } from '../context.js';
import { clientRefusedAfterHandshake, connectUpstreamTls, offersClientCertificate, upstreamPeerIdentity, type CompiledUpstreamTls } from '../tls/upstream.js';
import { applyKeepalive } from '../upstream/keepalive.js';
import { guardSink } from './guarded-sink.js';
import { requestList, WireSession } from './wire-session.js';
import type { CallSink, UpstreamCall } from '../upstream/call.js';

/** Default per-session stream cap when neither config nor peer says (Envoy's default is effectively unlimited). */
const DEFAULT_STREAMS_PER_SESSION = 100;
/** Default cap on concurrent streams per cluster (Envoy circuit breaker default max_requests). */
const DEFAULT_MAX_REQUESTS = 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;


/** HTTP/2 sessions of one cluster (upstream/registry.ts keeps one per cluster). */
class ClusterCalls {
  private sessions = new Map<string, WireSession[]>();
  /** Streams in flight across the cluster. */
  active = 0;
  config: Cluster;
  tls: CompiledUpstreamTls | undefined;

  constructor(config: Cluster, tls: CompiledUpstreamTls | undefined, private readonly ctx: Pick<ProxyContext, 'stats' | 'log'>) {
    this.config = config;
    this.tls = tls;
  }

  /** False when the cluster is at http2MaxRequests (a new call would be refused, 503 UO). */
  hasRoom(): boolean {
    return this.active < (this.config.connectionPool?.http2MaxRequests ?? DEFAULT_MAX_REQUESTS);
  }

  /**
   * Starts an HTTP/2 call for `method` `path` on `authority` with the request's fields `headers`
   * (connection-specific ones dropped here); undefined when the cluster is at http2MaxRequests (503 UO).
   */
  h2(ep: UpstreamEndpoint, method: string, authority: string, path: string, headers: Headers, endStream: boolean, sink: CallSink): UpstreamCall | undefined {
    const pool = this.config.connectionPool;
    if (this.active >= (pool?.http2MaxRequests ?? DEFAULT_MAX_REQUESTS)) return undefined;
    sink = guardSink(sink, this.ctx, 'h2 upstream response');
    const s = this.session(ep);
    s.active++;
    this.active++;
    return s.open(requestList(method, this.tls !== undefined ? 'https' : 'http', authority, path, headers), endStream, sink);
  }

  /** A stream of session `s` is done (the session counts it once). */
  private readonly streamDone = (s: WireSession): void => {
    s.active--;
    this.active--;
  };

  /** Calls `cb` once a session to `ep` is connected, or with the reason it could not connect. */
  ready(ep: UpstreamEndpoint, cb: (err?: Error) => void): void {
    this.session(ep).whenReady(cb);
  }

  private session(ep: UpstreamEndpoint): WireSession {
    let list = this.sessions.get(ep.key);
    if (list === undefined) this.sessions.set(ep.key, (list = []));
    const cap = this.config.connectionPool?.maxConcurrentStreams ?? DEFAULT_STREAMS_PER_SESSION;
    let best: WireSession | undefined;
    for (const s of list) {
      if (!s.usable) continue;
      if (s.active < Math.min(cap, s.peerMaxStreams) && (best === undefined || s.active < best.active)) best = s;
    }
    if (best !== undefined) return best;
    // All sessions full: open another unless at maxConnections (then share the least busy one).
    const max = this.config.connectionPool?.maxConnections ?? Infinity;
    let total = 0;
    for (const l of this.sessions.values()) total += l.filter((s) => !s.retired).length;
    if (total >= max) {
      const live = list.filter((s) => s.usable);
      if (live.length > 0) return live.reduce((a, b) => (a.active <= b.active ? a : b));
    }
    return this.open(ep, list);
  }

  private open(ep: UpstreamEndpoint, list: WireSession[]): WireSession {
    const tls = this.tls;
    this.ctx.stats.h2UpstreamSessionsTotal++;
    const secure = tls !== undefined ? connectUpstreamTls(tls, ep.address, ep.port, ep.config.identity, ['h2'], undefined, this.ctx.stats) : undefined;
    const socket = secure ?? netConnect({ host: ep.address, port: ep.port, noDelay: true });
    applyKeepalive(socket, this.config.connectionPool);
    const name = this.config.name;
    let idleTimer: NodeJS.Timeout | undefined;
    const s: WireSession = new WireSession(socket, tls !== undefined,
      (msg) => this.ctx.log('h2up:' + name, `${msg} (${ep.key}, cluster ${name})`),
      () => { this.ctx.stats.h2UpstreamRefusedStreams++; },
      () => {
        clearTimeout(timer);
        if (idleTimer) clearInterval(idleTimer);
        const i = list.indexOf(s);
        if (i >= 0) list.splice(i, 1);
      },
      this.streamDone,
      () => (offersClientCertificate(tls) ? clientRefusedAfterHandshake(this.ctx.stats) : undefined));
    // The server's verified identity, once per session (the session's own secureConnect listener ran first; no byte is read in between).
    if (tls !== undefined && secure !== undefined) secure.once('secureConnect', () => { s.peerIdentity = upstreamPeerIdentity(secure); });
    list.push(s);
    const timeoutMs = this.config.connectionPool?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => { if (!s.connected) socket.destroy(new Error(`connect timeout after ${timeoutMs} ms`)); }, timeoutMs);
    timer.unref();
    const idle = this.config.connectionPool?.idleTimeoutMs;
    if (idle !== undefined && idle > 0) {
      let lastBusy = Date.now();
      idleTimer = setInterval(() => {
        if (s.active > 0) { lastBusy = Date.now(); return; }
        if (Date.now() - lastBusy >= idle) { s.retired = true; s.conn.goaway(); }
      }, Math.max(50, Math.min(idle, 1000)));
      idleTimer.unref();
    }
    socket.unref();
    return s;
  }

  /** Closes every session (cluster gone or proxy closing). */
  close(): void {
    for (const l of this.sessions.values()) for (const s of l) s.destroy();
    this.sessions.clear();
  }
}

export { ClusterCalls };
