/**
 * Upstream calls for requests that arrived over HTTP/2: multiplexed HTTP/2 sessions per
 * endpoint (h2c or h2 over TLS with ALPN), bounded per cluster by `http2MaxRequests`
 * (concurrent streams; overflow is 503 UO) and per session by `maxConcurrentStreams` (and the
 * peer's SETTINGS); or HTTP/1.1 through a keep-alive agent when the cluster speaks HTTP/1.1.
 * GOAWAY retires a session (new streams go elsewhere); REFUSED_STREAM and streams cut by a
 * GOAWAY are reported as `refused` (safe to retry: the upstream never processed them).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import type { Cluster } from '../../proxy-config/types.js';
import type { UpstreamEndpoint } from '../cluster/index.js';
import type { ProxyContext } from '../context.js';
import type { Headers } from '../http/head.js';
import { protocolStats } from '../tcp/record.js';
import { connectUpstreamTls, upstreamTlsOptions, type CompiledUpstreamTls } from '../tls/upstream.js';
import { fromNode } from './headers.js';
import { applyKeepalive } from '../upstream/keepalive.js';
import { guardSink } from './guarded-sink.js';

/** What an upstream call reports back. */
export interface CallSink {
  /** `endStream`: the head ended the response (a gRPC trailers-only response, or no body). */
  onResponse(status: number, headers: Headers, endStream: boolean): void;
  /** Body bytes; return false to ask for a pause (call `resume()` later). */
  onData(chunk: Buffer): boolean;
  onTrailers(trailers: Headers): void;
  onEnd(): void;
  /** `connect`: never connected; `refused`: the upstream refused the stream unprocessed; `reset`: cut mid-way. */
  onFailure(kind: 'connect' | 'refused' | 'reset', message: string): void;
}

/** One upstream request in flight. */
export interface UpstreamCall {
  write(chunk: Buffer): boolean;
  end(): void;
  abort(): void;
  pause(): void;
  resume(): void;
  /** Calls `fn` once the call can take more body bytes. */
  onDrain(fn: () => void): void;
}

/** Default per-session stream cap when neither config nor peer says (Envoy's default is effectively unlimited). */
const DEFAULT_STREAMS_PER_SESSION = 100;
/** Default cap on concurrent streams per cluster (Envoy circuit breaker default max_requests). */
const DEFAULT_MAX_REQUESTS = 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

interface Session {
  session: ClientHttp2Session;
  active: number;
  connected: boolean;
  retired: boolean;
}

/** HTTP/2 sessions and HTTP/1.1 agents of one cluster. */
class ClusterCalls {
  private sessions = new Map<string, Session[]>();
  private agents = new Map<string, HttpAgent>();
  /** Streams in flight across the cluster. */
  active = 0;
  config: Cluster;
  tls: CompiledUpstreamTls | undefined;

  constructor(config: Cluster, tls: CompiledUpstreamTls | undefined, private readonly ctx: ProxyContext) {
    this.config = config;
    this.tls = tls;
  }

  /** False when the cluster is at http2MaxRequests (a new call would be refused, 503 UO). */
  hasRoom(): boolean {
    return this.active < (this.config.connectionPool?.http2MaxRequests ?? DEFAULT_MAX_REQUESTS);
  }

  /** Starts an HTTP/2 call; undefined when the cluster is at http2MaxRequests (503 UO). */
  h2(ep: UpstreamEndpoint, headers: OutgoingHttpHeaders, endStream: boolean, sink: CallSink): UpstreamCall | undefined {
    const pool = this.config.connectionPool;
    if (this.active >= (pool?.http2MaxRequests ?? DEFAULT_MAX_REQUESTS)) return undefined;
    sink = guardSink(sink, this.ctx, 'h2 upstream response');
    const s = this.session(ep);
    s.active++;
    this.active++;
    let stream: ClientHttp2Stream;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      s.active--;
      this.active--;
    };
    try {
      stream = s.session.request({ ...headers, ':scheme': this.tls !== undefined ? 'https' : 'http' }, { endStream });
    } catch (err) {
      release();
      queueMicrotask(() => sink.onFailure(s.connected ? 'refused' : 'connect', (err as Error).message));
      return { write: () => true, end() {}, abort() {}, pause() {}, resume() {}, onDrain() {} };
    }
    let responded = false;
    let failed = false;
    const fail = (kind: 'connect' | 'refused' | 'reset', message: string): void => {
      if (failed) return;
      failed = true;
      release();
      sink.onFailure(kind, message);
    };
    stream.on('response', (h: IncomingHttpHeaders, flags: number) => {
      const status = Number(h[':status']);
      if (status >= 100 && status < 200) return;
      responded = true;
      sink.onResponse(status, fromNode(h), (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0);
    });
    stream.on('data', (chunk: Buffer) => { if (!sink.onData(chunk)) stream.pause(); });
    stream.on('trailers', (h: IncomingHttpHeaders) => sink.onTrailers(fromNode(h)));
    stream.on('end', () => { if (!failed && responded) { failed = true; release(); sink.onEnd(); } });
    stream.on('error', () => {});
    stream.on('close', () => {
      if (failed) return;
      const code = stream.rstCode ?? 0;
      if (!s.connected) return fail('connect', 'upstream HTTP/2 connection failed');
      if (!responded && (code === constants.NGHTTP2_REFUSED_STREAM || s.retired && code === constants.NGHTTP2_NO_ERROR)) {
        protocolStats(this.ctx).h2UpstreamRefusedStreams++;
        return fail('refused', `upstream refused the stream (RST_STREAM ${code})`);
      }
      if (!responded || code !== constants.NGHTTP2_NO_ERROR || !stream.readableEnded) return fail('reset', `upstream reset the stream (code ${code})`);
      if (!failed) { failed = true; release(); sink.onEnd(); }
    });
    return {
      write: (b) => stream.write(b),
      end: () => { if (!stream.writableEnded) stream.end(); },
      abort: () => { failed = true; release(); if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL); },
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      onDrain: (fn) => stream.once('drain', fn),
    };
  }

  /** Starts an HTTP/1.1 call through a keep-alive agent. */
  h1(ep: UpstreamEndpoint, method: string, path: string, headers: OutgoingHttpHeaders, sink: CallSink): UpstreamCall {
    sink = guardSink(sink, this.ctx, 'h1 upstream response');
    let agent = this.agents.get(ep.key);
    const pool = this.config.connectionPool;
    if (agent === undefined) {
      const opts = { keepAlive: true, maxSockets: pool?.maxConnections ?? Infinity, ...(pool?.idleTimeoutMs ? { timeout: pool.idleTimeoutMs } : {}) };
      agent = this.tls !== undefined ? new HttpsAgent(opts) : new HttpAgent(opts);
      this.agents.set(ep.key, agent);
    }
    const tlsOpts = this.tls !== undefined ? upstreamTlsOptions(this.tls, ep.address, ep.port, ep.config.identity) : {};
    const req = (this.tls !== undefined ? httpsRequest : httpRequest)({ ...tlsOpts, host: ep.address, port: ep.port, method, path, headers, agent, setHost: false });
    let res: IncomingMessage | undefined;
    let done = false;
    let connected = false;
    req.on('socket', (sock) => { if (!sock.connecting) connected = true; else sock.once('connect', () => { connected = true; }); });
    const timer = setTimeout(() => { if (!connected) req.destroy(new Error('connect timeout')); }, pool?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    req.on('response', (r) => {
      clearTimeout(timer);
      res = r;
      const h = fromNode(r.headers);
      sink.onResponse(r.statusCode ?? 502, h, false);
      r.on('data', (chunk: Buffer) => { if (!sink.onData(chunk)) r.pause(); });
      r.on('end', () => {
        if (done) return;
        done = true;
        if (r.rawTrailers.length > 0) sink.onTrailers(fromNode(r.trailers));
        sink.onEnd();
      });
      r.on('aborted', () => { if (!done) { done = true; sink.onFailure('reset', 'upstream closed mid-response'); } });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      if (done) return;
      done = true;
      sink.onFailure(connected ? 'reset' : 'connect', err.message);
    });
    return {
      write: (b) => req.write(b),
      end: () => req.end(),
      abort: () => { done = true; req.destroy(); },
      pause: () => res?.pause(),
      resume: () => res?.resume(),
      onDrain: (fn) => req.once('drain', fn),
    };
  }

  /** Calls `cb` once a session to `ep` is connected, or with the reason it could not connect. */
  ready(ep: UpstreamEndpoint, cb: (err?: Error) => void): void {
    const s = this.session(ep);
    if (s.connected) { cb(); return; }
    let last: Error | undefined;
    const onError = (err: Error): void => { last = err; };
    const done = (err?: Error): void => {
      s.session.off('connect', onConnect);
      s.session.off('close', onClose);
      s.session.off('error', onError);
      cb(err);
    };
    const onConnect = (): void => done();
    const onClose = (): void => done(last ?? new Error('upstream HTTP/2 connection closed before it was ready'));
    s.session.once('connect', onConnect);
    s.session.once('close', onClose);
    s.session.on('error', onError);
  }

  private session(ep: UpstreamEndpoint): Session {
    let list = this.sessions.get(ep.key);
    if (list === undefined) this.sessions.set(ep.key, (list = []));
    const cap = this.config.connectionPool?.maxConcurrentStreams ?? DEFAULT_STREAMS_PER_SESSION;
    let best: Session | undefined;
    for (const s of list) {
      if (s.retired || s.session.destroyed || s.session.closed) continue;
      const peer = s.session.remoteSettings?.maxConcurrentStreams ?? cap;
      if (s.active < Math.min(cap, peer) && (best === undefined || s.active < best.active)) best = s;
    }
    if (best !== undefined) return best;
    // All sessions full: open another unless at maxConnections (then share the least busy one).
    const max = this.config.connectionPool?.maxConnections ?? Infinity;
    let total = 0;
    for (const l of this.sessions.values()) total += l.filter((s) => !s.retired).length;
    if (total >= max) {
      const live = list.filter((s) => !s.retired);
      if (live.length > 0) return live.reduce((a, b) => (a.active <= b.active ? a : b));
    }
    return this.open(ep, list);
  }

  private open(ep: UpstreamEndpoint, list: Session[]): Session {
    const tls = this.tls;
    protocolStats(this.ctx).h2UpstreamSessionsTotal++;
    const authority = (tls !== undefined ? 'https://' : 'http://') + ep.key;
    const session = h2connect(authority, {
      createConnection: () => {
        const socket = tls !== undefined ? connectUpstreamTls(tls, ep.address, ep.port, ep.config.identity, ['h2']) : netConnect({ host: ep.address, port: ep.port, noDelay: true });
        applyKeepalive(socket, this.config.connectionPool);
        return socket;
      },
      settings: { enablePush: false },
      maxSessionMemory: 64,
    });
    const s: Session = { session, active: 0, connected: false, retired: false };
    list.push(s);
    const timeoutMs = this.config.connectionPool?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => { if (!s.connected) session.destroy(new Error(`connect timeout after ${timeoutMs} ms`)); }, timeoutMs);
    session.once('connect', () => { s.connected = true; clearTimeout(timer); });
    session.on('error', (err) => this.ctx.log('h2up:' + this.config.name, `upstream HTTP/2 session to ${ep.key} (cluster ${this.config.name}): ${err.message}`));
    session.on('goaway', () => { s.retired = true; });
    session.once('close', () => {
      clearTimeout(timer);
      s.retired = true;
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
    });
    const idle = this.config.connectionPool?.idleTimeoutMs;
    if (idle !== undefined && idle > 0) session.setTimeout(idle, () => { if (s.active === 0) session.close(); });
    session.unref();
    return s;
  }

  /** Closes every session and agent (cluster gone or proxy closing). */
  close(): void {
    for (const l of this.sessions.values()) for (const s of l) s.session.destroy();
    this.sessions.clear();
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

const byCtx = new WeakMap<ProxyContext, Map<string, ClusterCalls>>();

/** The calls pool of a cluster, following the cluster's current config and TLS. */
export function clusterCalls(ctx: ProxyContext, name: string, tls: CompiledUpstreamTls | undefined): ClusterCalls | undefined {
  const state = ctx.clusters.get(name);
  if (state === undefined) return undefined;
  let m = byCtx.get(ctx);
  if (m === undefined) byCtx.set(ctx, (m = new Map()));
  let c = m.get(name);
  if (c !== undefined && (c.config !== state.config || c.tls !== tls)) {
    // Config changed: new connections follow it; sessions in use finish on their own.
    if (c.tls !== tls) { c.close(); c = undefined; } else c.config = state.config;
  }
  if (c === undefined) m.set(name, (c = new ClusterCalls(state.config, tls, ctx)));
  return c;
}

/** Closes all upstream HTTP/2 sessions and agents of a proxy (on close). */
export function closeClusterCalls(ctx: ProxyContext): void {
  const m = byCtx.get(ctx);
  if (m === undefined) return;
  for (const c of m.values()) c.close();
  m.clear();
}

export type { ClusterCalls };
