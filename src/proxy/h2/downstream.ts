/**
 * HTTP/2 toward clients: h2c with prior knowledge (the preface was sniffed) and h2 over TLS
 * (ALPN) on node:http2 (BOWLINE_H2_DOWNSTREAM=node; server.ts is the default): node does the framing, HPACK and flow control; each stream becomes an
 * Exchange on the shared pipeline (stream-side.ts). Limits are explicit, with safe defaults: concurrent
 * streams, header list size, session memory (bounds pending bytes), invalid frames and
 * rejected streams (floods of RST_STREAM or bad frames end the session), outstanding
 * SETTINGS and PINGs; rapid reset and error codes in abuse.ts. A drain sends GOAWAY and lets
 * streams in flight finish. A request starts on the next turn of the event loop (setImmediate), so
 * a stream the client resets in the same read never reaches the pipeline or an upstream.
 */
import { createSecureServer, createServer, type Http2Server, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream, constants } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerSlot, ProxyContext } from '../context.js';
import type { CompiledChain } from '../detect/chains.js';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE } from '../http/request-head.js';
import { run } from '../http/pipeline.js';
import { Flag } from '../record.js';
import { reportInternalError } from '../internal-error.js';
import { checkPeer } from '../tls/downstream.js';
import { Exchange } from '../exchange/exchange.js';
import { H2StreamSide } from './stream-side.js';
import { fromNode, headerListSize } from './headers.js';
import { h2Head } from './request.js';
import { ResetGuard, resetByUs, resetOurStream, withRightGoawayCodes } from './abuse.js';
import { NodeResponder } from './node-responder.js';
import { H2_DEFAULTS, serveWire } from './server.js';

/** node:http2's own limits beyond the chain's (H2_DEFAULTS, server.ts). */
const NODE_LIMITS = { maxOutstandingSettings: 10, maxOutstandingPings: 10, maxHeaderListPairs: 256 } as const;

/** node:http2's servers of one filter chain: h2c, and h2 over TLS for a TLS chain. They never listen: connections are handed to them. */
class NodeServers {
  readonly plain: Http2Server;
  readonly secure: Http2SecureServer | undefined;
  /** The session the plain server made for the connection being handed to it ('session' is emitted synchronously). */
  private captured: ServerHttp2Session | undefined;
  /** TLS connections handed to the secure server, by `address:port`, until their session appears. */
  private readonly pendingTls = new Map<string, (session: ServerHttp2Session) => void>();

  constructor(chain: CompiledChain, ctx: ProxyContext) {
    const maxHeader = chain.http?.maxRequestHeadersBytes ?? 60 * 1024;
    const h2 = chain.h2;
    const settings = {
      maxConcurrentStreams: h2?.maxConcurrentStreams ?? H2_DEFAULTS.maxConcurrentStreams,
      initialWindowSize: h2?.initialWindowSize ?? H2_DEFAULTS.initialWindowSize,
      maxHeaderListSize: maxHeader,
      enablePush: false,
    };
    const opts = {
      settings,
      // MB nghttp2 may hold for the session before new streams are refused.
      maxSessionMemory: h2?.maxSessionMemoryMb ?? H2_DEFAULTS.maxSessionMemoryMb,
      maxSessionInvalidFrames: h2?.maxInvalidFrames ?? H2_DEFAULTS.maxInvalidFrames,
      maxSessionRejectedStreams: h2?.maxRejectedStreams ?? H2_DEFAULTS.maxRejectedStreams,
      ...NODE_LIMITS,
      maxSettings: 32,
    };
    this.plain = createServer(opts);
    this.plain.on('session', (session: ServerHttp2Session) => { this.captured = session; });
    this.plain.setTimeout(0);
    const t = chain.tls;
    if (t === undefined) return;
    // HTTP/2 over TLS: this server runs the handshake itself (node:http2 cannot take over a TLS socket made elsewhere).
    const secure = createSecureServer({
      // Client certificates are judged by checkPeer after the handshake, so a refusal names its reason (as tls/downstream.ts does).
      ...opts, ...t.material, ALPNProtocols: ['h2'], requestCert: t.requestCert, rejectUnauthorized: false,
    });
    secure.setTimeout(0);
    secure.on('tlsClientError', (err) => { ctx.stats.tlsHandshakeFailures++; ctx.log('tls-h2', `HTTP/2 TLS handshake failed: ${err.message} (BOWLINE_E_TLS_HANDSHAKE)`); });
    secure.on('session', (session: ServerHttp2Session) => {
      const key = remoteKey(session.socket);
      const cb = this.pendingTls.get(key);
      this.pendingTls.delete(key);
      if (cb === undefined) session.destroy();
      else cb(session);
    });
    this.secure = secure;
  }

  /** Hands an h2c connection to the plain server: its session, or undefined when node made none. */
  h2c(socket: Socket): ServerHttp2Session | undefined {
    this.captured = undefined;
    this.plain.emit('connection', socket);
    const session = this.captured as ServerHttp2Session | undefined;
    this.captured = undefined;
    return session;
  }

  /** Hands a TLS connection to the secure server; `onSession` gets its session after the handshake, `onLost` runs if the socket closes first. */
  tls(socket: Socket, onSession: (session: ServerHttp2Session) => void, onLost: () => void): void {
    const key = remoteKey(socket);
    this.pendingTls.set(key, onSession);
    socket.once('close', () => { if (this.pendingTls.delete(key)) onLost(); });
    this.secure!.emit('connection', socket);
  }
}

/** A connection's `address:port` (the TLS socket node:http2 made has the same as the TCP socket it wraps). */
function remoteKey(socket: Socket): string {
  return (socket.remoteAddress ?? '') + ':' + (socket.remotePort ?? 0);
}

/** One client HTTP/2 connection, tracked by its listener. */
export class H2Connection {
  private streams = 0;
  private draining = false;
  /** Set once the connection was found abusive (GOAWAY ENHANCE_YOUR_CALM sent): new streams are refused. */
  calm = false;

  /** The HTTP/2 session, once it exists (after the TLS handshake for h2 over TLS). */
  session: ServerHttp2Session | undefined;

  constructor(readonly socket: Socket, private readonly onGone: (c: H2Connection) => void) {}

  /** A stream started / finished. */
  opened(): void { this.streams++; }
  closed(): void { this.streams--; }

  /** Sends GOAWAY; streams in flight finish, then the session closes. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    const s = this.session;
    if (s === undefined) this.socket.destroy();
    else if (!s.destroyed && !s.closed) s.close();
  }

  /** Connection gone. */
  gone(): void { this.onGone(this); }

  /** Streams in flight. */
  get active(): number { return this.streams; }
}

/** Which HTTP/2 server carries downstream connections: ours (`wire`, the default) or node:http2 (`node`). */
export type H2Downstream = 'wire' | 'node';

/** BOWLINE_H2_DOWNSTREAM, read at each connection: `node` selects node:http2; unset or `wire`: our codec (h2/server.ts). */
export function h2Downstream(): H2Downstream {
  const v = process.env.BOWLINE_H2_DOWNSTREAM;
  return v === 'node' ? 'node' : 'wire';
}

/** A downstream HTTP/2 connection as its listener tracks it (either implementation). */
export interface H2Served {
  readonly socket: Socket;
  drain(): void;
}

/**
 * HTTP/2 toward clients for one proxy (ProxyContext.h2 once loaded, detect/h2-loader.ts): each
 * connection goes to our codec (server.ts) or, with BOWLINE_H2_DOWNSTREAM=node, to node:http2's
 * servers of its filter chain, made with the chain's first such connection.
 */
export class H2ServerSide {
  private readonly nodeServers = new WeakMap<CompiledChain, NodeServers>();

  constructor(private readonly ctx: ProxyContext) {}

  /** Which server takes a new connection (BOWLINE_H2_DOWNSTREAM, read each time). */
  implementation(): H2Downstream { return h2Downstream(); }

  /**
   * Serves HTTP/2 on an accepted socket whose first bytes were put back: h2c with prior knowledge,
   * or (`secure`) a TLS socket that negotiated h2, already terminated and checked (`peerIdentity`).
   */
  serve(socket: Socket, slot: ListenerSlot, chain: CompiledChain, onGone: (c: H2Served) => void, secure = false, peerIdentity = ''): H2Served {
    if (h2Downstream() === 'wire') return serveWire(socket, slot, chain, this.ctx, onGone, secure, peerIdentity);
    return this.serveNodeH2c(socket, slot, chain, onGone);
  }

  /** Serves h2 over TLS on node:http2: the chain's secure server runs the handshake on `socket` (ClientHello bytes put back). */
  serveTls(socket: Socket, slot: ListenerSlot, chain: CompiledChain, onGone: (c: H2Connection) => void): H2Connection {
    const ctx = this.ctx;
    const conn = new H2Connection(socket, onGone);
    const tls = chain.tls!;
    this.serversOf(chain).tls(socket, (session) => {
      const s = session.socket as TLSSocket;
      const why = s.authorizationError;
      const peer = checkPeer(s, tls, s.authorized ? null : Object.assign(new Error(String(why ?? 'no certificate')), { code: typeof why === 'string' ? why : String(why ?? '') }));
      if (peer instanceof Error) {
        ctx.stats.tlsHandshakeFailures++;
        ctx.log('tls:' + slot.current.name, `listener ${slot.current.name}: ${peer.message} (BOWLINE_E_TLS_HANDSHAKE)`);
        session.destroy();
        conn.gone();
        return;
      }
      attach(conn, session, slot, ctx, true, peer);
    }, () => conn.gone());
    return conn;
  }

  /** node:http2 h2c (prior knowledge). */
  private serveNodeH2c(socket: Socket, slot: ListenerSlot, chain: CompiledChain, onGone: (c: H2Connection) => void): H2Connection {
    const conn = new H2Connection(socket, onGone);
    const session = this.serversOf(chain).h2c(socket);
    if (session === undefined) {
      socket.destroy();
      queueMicrotask(() => conn.gone());
      return conn;
    }
    attach(conn, session, slot, this.ctx, false, '');
    return conn;
  }

  private serversOf(chain: CompiledChain): NodeServers {
    let s = this.nodeServers.get(chain);
    if (s === undefined) this.nodeServers.set(chain, (s = new NodeServers(chain, this.ctx)));
    return s;
  }
}

/** Wires a new session: counters, errors, idle handling, and one Exchange per stream. */
function attach(conn: H2Connection, session: ServerHttp2Session, slot: ListenerSlot, ctx: ProxyContext, secure: boolean, peerIdentity: string): void {
  const stats = ctx.stats;
  const socket = conn.socket;
  conn.session = session;
  stats.h2SessionsTotal++;
  stats.h2SessionsActive++;
  ctx.stats.downstreamConnectionsTotal++;
  ctx.stats.downstreamConnectionsActive++;
  const remoteAddress = socket.remoteAddress ?? '';
  const remote = remoteAddress + ':' + (socket.remotePort ?? 0);
  session.on('error', (err) => {
    stats.h2ProtocolErrors++;
    ctx.log('h2err:' + slot.current.name, `HTTP/2 session from ${remote} ended: ${err.message}`);
  });
  session.on('frameError', () => { stats.h2ProtocolErrors++; });
  withRightGoawayCodes(session);
  const guard = new ResetGuard();
  /** Too many premature resets: GOAWAY ENHANCE_YOUR_CALM, then the connection closes (once the GOAWAY is flushed). */
  const calmDown = (): void => {
    if (conn.calm) return;
    conn.calm = true;
    stats.h2ResetFloods++;
    ctx.log('h2flood:' + slot.current.name, `HTTP/2 connection from ${remote} reset more than ${guard.limit} streams early: GOAWAY ENHANCE_YOUR_CALM and close (BOWLINE_E_H2_RESET_FLOOD)`);
    try { session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM); } catch { /* already closing */ }
    closeSoon(socket);
  };
  session.once('error', () => closeSoon(socket));
  session.once('close', () => {
    stats.h2SessionsActive--;
    ctx.stats.downstreamConnectionsActive--;
    conn.gone();
  });
  watchIdle(conn, session, slot.current.idleTimeoutMs);
  // A throw while starting a request resets that stream only (internal-error.ts).
  session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => {
    try { onStream(stream, headers, flags); } catch (err) {
      reportInternalError(ctx, 'h2 downstream request', err);
      resetOurStream(stream, constants.NGHTTP2_INTERNAL_ERROR);
    }
  });
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number): void => {
    stats.h2StreamsTotal++;
    if (conn.calm) { stream.on('error', noop); resetOurStream(stream, constants.NGHTTP2_REFUSED_STREAM); return; }
    guard.opened();
    // Already reset by the client when node delivers it (a read that held both frames): never a request.
    if (stream.aborted || stream.closed) {
      stream.on('error', noop);
      stats.h2StreamsReset++;
      if (!resetByUs(stream) && guard.reset()) calmDown();
      return;
    }
    // A reset before the response completed ('aborted': the response side was still open) that we did not send.
    stream.once('aborted', () => { if (!resetByUs(stream) && guard.reset()) calmDown(); });
    const lst = slot.current;
    if (headerListSize(headers) > lst.maxRequestHeadersBytes) {
      stream.on('error', noop);
      stats.h2ProtocolErrors++;
      ctx.stats.downstreamProtocolErrors++;
      ctx.stats.complete(431, Flag.DPE);
      try { stream.respond({ ':status': 431 }, { endStream: true }); } catch { resetOurStream(stream, constants.NGHTTP2_PROTOCOL_ERROR); }
      return;
    }
    const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const hs = fromNode(headers);
    const cl = headers['content-length'];
    const scheme = headers[':scheme'];
    const head = h2Head(String(headers[':method'] ?? 'GET'), String(headers[':path'] ?? '/'), String(headers[':authority'] ?? headers.host ?? ''),
      typeof scheme === 'string' ? scheme : secure ? 'https' : 'http', hs,
      endStream ? BODY_NONE : cl !== undefined ? BODY_LENGTH : BODY_CHUNKED, cl !== undefined ? Number(cl) || 0 : 0);
    ctx.stats.requestsTotal++;
    ctx.stats.requestsActive++;
    conn.opened();
    const side = new H2StreamSide(new NodeResponder(stream, () => { stats.h2StreamsReset++; }), head, remoteAddress, remote, peerIdentity, () => conn.closed());
    const x = new Exchange(side, head, lst, ctx);
    side.attach(x);
    setImmediate(start, x);
  };
  if (ctx.draining) conn.drain();
}

/** How often an idle session (no streams) is probed with a PING. */
export const H2_PROBE_MS = { value: 30_000 };

/**
 * Idle handling. A session with no streams for the idle timeout is closed with GOAWAY. Every
 * probe interval without traffic it is also PINGed: a session that stopped answering (node
 * stops reading after it sent GOAWAY for a protocol error, and would never notice the peer
 * leaving) is destroyed instead of held forever.
 */
function watchIdle(conn: H2Connection, session: ServerHttp2Session, idleMs: number): void {
  let idleFor = 0;
  const every = idleMs > 0 ? Math.min(idleMs, H2_PROBE_MS.value) : H2_PROBE_MS.value;
  session.setTimeout(every, () => {
    if (conn.active > 0) { idleFor = 0; return; }
    idleFor += every;
    if (idleMs > 0 && idleFor >= idleMs) { session.close(); return; }
    let answered = false;
    try { session.ping(() => { answered = true; }); } catch { session.destroy(); return; }
    setTimeout(() => { if (!answered && !session.destroyed) session.destroy(); }, Math.min(every, 5000)).unref();
  });
}

function noop(): void {}

/** How long a connection may stay open after its session ended with GOAWAY (the GOAWAY flushes first). */
export const H2_CLOSE_GRACE_MS = { value: 1000 };

/** Closes the TCP connection after the grace, whatever the peer does (it may never read or close). */
function closeSoon(socket: Socket): void {
  setTimeout(() => { if (!socket.destroyed) socket.destroy(); }, H2_CLOSE_GRACE_MS.value).unref();
}

/** Starts a request's pipeline, unless the client already reset the stream (then the exchange has ended). */
function start(x: Exchange): void {
  if (x.done) return;
  try { run(x); } catch (err) { x.downstreamFault('h2 downstream request', err); }
}
