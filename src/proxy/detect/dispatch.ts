/**
 * The accept path of listeners that need more than plaintext HTTP/1.1: read the first bytes
 * (protocol sniffing, the TLS ClientHello's SNI and ALPN) when a chain's match or codec needs
 * them, pick the first matching filter chain, optionally terminate TLS, and hand the socket
 * to the HTTP/1.1 codec (http/downstream.ts), the HTTP/2 codec (h2/server.ts) or the
 * TCP proxy (tcp/session.ts). Called from listeners.ts for every accepted connection.
 */
import { isIP, type Socket } from 'node:net';
import type { HttpListenerRuntime, ListenerSlot, ProxyContext } from '../context.js';
import { Downstream } from '../http/downstream.js';
import { TcpSession, type TcpConnectionFacts } from '../tcp/session.js';
import { parseClientHello, MAX_CLIENT_HELLO_BYTES } from '../tls/client-hello.js';
import { terminate } from '../tls/downstream.js';
import type { ChainInput, CompiledChain, ListenerChains } from './chains.js';
import { sniff, type Sniffed } from './sniff.js';
import { reportInternalError } from '../internal-error.js';
import type { ConnectionTracker, TrackedConnection } from '../drain.js';

/**
 * A connection between accept and its codec (protocol detection, the TLS handshake, loading the HTTP/2 codec), tracked
 * so that a drain is not lost. As Envoy's filter chain update, which drains the connections owned by the chains that
 * went: until a chain is chosen the connection is owned by none, so when the listener's filter chains change
 * (PERMISSIVE -> STRICT) it is matched against the new ones once detected (a plaintext client of a STRICT port is
 * refused). When the listener itself drains (removed, moved to another address, the proxy draining), or once its chain
 * is chosen, the connection it becomes is drained as it starts (it takes the pending connection's place in the drain,
 * drain.ts): HTTP/1.1 answers with `connection: close`, HTTP/2 sends GOAWAY, TCP is closed at the drain deadline; one
 * still pending at the deadline is closed then.
 */
class PendingConnection implements TrackedConnection {
  /** A chain was chosen (its TLS handshake or the HTTP/2 codec's load is under way). */
  chosen = false;

  /** `chains`: the listener's chains it will be matched against (undefined: the listener is plain HTTP/1.1 now). */
  constructor(readonly socket: Socket, private readonly slot: ListenerSlot, public chains: ListenerChains | undefined) {}

  /** The listener drains its connections: its chains changed (ListenerSet.apply set the new ones first: false, matched
   *  against them instead), or it drains itself (true: in the drain). */
  drain(): boolean {
    const now = this.slot.current.chains;
    if (!this.chosen && now !== this.chains && !sameChains(now, this.chains)) { this.chains = now; return false; }
    return true;
  }
}

/** The same filter chains (as ListenerSet.apply compares them to decide what to drain). */
function sameChains(a: ListenerChains | undefined, b: ListenerChains | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a.listener.filterChains) === JSON.stringify(b.listener.filterChains);
}

/** `c` takes over from `pending` in the listener's set (and in its drains), drained at once if the pending connection was or the proxy drains. */
function track(c: TrackedConnection, pending: PendingConnection, conns: ConnectionTracker, ctx: ProxyContext): void {
  if (conns.replace(pending, c) || ctx.draining) c.drain();
}

const EMPTY = Buffer.alloc(0);

/**
 * The closures a connection keeps for its life are made outside dispatchConnection and handOff, once per listener: a
 * closure holds the context of the function that made it, and theirs hold the detection state (the sniffed bytes, the
 * cleared timer, eight closures, the PendingConnection, the chain input): ~1.5 KiB of heap per idle HTTP/1.1 connection
 * until session 10.
 */
const ignoreError = (): void => {};

/** A listener's callbacks for its HTTP/1.1 connections (each listener has its own tracker and slot), shared by them. */
interface ListenerCallbacks {
  slot: ListenerSlot;
  ctx: ProxyContext;
  conns: ConnectionTracker;
  untrack: (gone: TrackedConnection) => void;
  tunnel: (s: Socket, initial: Buffer, host: string, port: number, from: TrackedConnection) => void;
}

/** What the dispatcher makes once per listener and shares among its connections (ListenerSlot.dispatch). */
export interface ListenerDispatchState {
  callbacks?: ListenerCallbacks;
  /** The chain slots, by chain name (one per connection was ~170 bytes each). */
  chainSlots?: Map<string, ListenerSlot>;
}

/** The listener's own state: a slot made without one (tests) gets it here, once. */
const stateOf = (slot: ListenerSlot): ListenerDispatchState => (slot.dispatch ??= {});

function listenerCallbacks(slot: ListenerSlot, ctx: ProxyContext, conns: ConnectionTracker): ListenerCallbacks {
  const state = stateOf(slot);
  let c = state.callbacks;
  if (c === undefined || c.conns !== conns || c.ctx !== ctx) {
    c = {
      slot, ctx, conns,
      untrack: (gone) => { conns.delete(gone); },
      tunnel: (s, initial, host, port, from) => dispatchConnection(s, slot, ctx, conns, { host, port, initial, from }),
    };
    state.callbacks = c;
  }
  return c;
}

/** Where a connection was going when it is not the listener itself: a CONNECT tunnel's target, with bytes already read. */
export interface DispatchOrigin {
  host: string;
  port: number;
  initial: Buffer;
  /** The HTTP/1.1 connection the tunnel leaves (still in the listener's set): the tunnel takes its place, in its drain too. */
  from?: TrackedConnection;
}

/** Dispatches one accepted socket of a listener whose runtime carries compiled chains (or a CONNECT tunnel: `origin`). */
export function dispatchConnection(socket: Socket, slot: ListenerSlot, ctx: ProxyContext, conns: ConnectionTracker, origin?: DispatchOrigin): void {
  const lc = slot.current.chains!;
  socket.on('error', ignoreError);
  const pending = new PendingConnection(socket, slot, lc);
  if (origin?.from !== undefined) conns.replace(origin.from, pending);
  else conns.add(pending);
  const decide = (input: ChainInput, first: Buffer): void => {
    // The chains in force now: those it was accepted under, or the listener's new ones (PendingConnection).
    const lc = pending.chains;
    if (lc === undefined) return servePlain(socket, first, slot, ctx, conns, pending);
    const chain = lc.chains.find((c) => c.matches(input));
    if (chain === undefined) {
      conns.delete(pending);
      const lost = lc.withoutIdentity.length === 0 ? undefined : lc.withoutIdentity.find((c) => c.matches(input));
      if (lost !== undefined) {
        // Its chain needs the workload certificate this proxy does not have: refused (fail closed), for that reason.
        ctx.stats.mtlsNoWorkloadCertificate++;
        ctx.log('noidentity:' + lc.listener.name, `listener ${lc.listener.name}: ${input.transport === 'tls' ? 'TLS' : input.transport} connection from ${input.source} refused: its filter chain ${lost.name} requires mTLS but this proxy has no workload certificate (start it with --token-file) (BOWLINE_E_IDENTITY_NO_CERTIFICATE)`);
        socket.destroy();
        return;
      }
      ctx.stats.noFilterChainMatch++;
      if (input.transport === 'tls' && input.serverName === undefined) ctx.stats.tlsInspectorNoSni++;
      // A port whose chains all require mTLS (STRICT), counting those dropped for lack of a workload certificate.
      const all = lc.withoutIdentity.length === 0 ? lc.chains : [...lc.chains, ...lc.withoutIdentity];
      const mtlsOnly = input.transport === 'raw' && all.length > 0 && all.every((c) => c.securityPolicy === 'mutual_tls');
      if (mtlsOnly) ctx.stats.mtlsPlaintextRefused++;
      if (mtlsOnly) ctx.log('plaintext:' + lc.listener.name, `listener ${lc.listener.name}: plaintext connection from ${input.source} refused: this port requires mTLS (STRICT); the client needs a sidecar with ISTIO_MUTUAL toward it (BOWLINE_E_TLS_PLAINTEXT_REFUSED)`);
      else ctx.log('nochain:' + lc.listener.name, `listener ${lc.listener.name}: no filter chain matches a ${input.transport} connection${input.serverName ? ` for ${input.serverName}` : ''} from ${input.source}; closed`);
      socket.destroy();
      return;
    }
    pending.chosen = true;
    start(socket, first, input, chain, slot, lc, ctx, conns, pending);
  };
  const dst = origin !== undefined ? { host: origin.host, port: origin.port } : originalDestination(socket, lc, ctx);
  const base = (): ChainInput => ({
    captured: dst !== undefined,
    transport: 'raw', protocol: undefined, serverName: undefined, alpn: [],
    destinationPort: dst?.port ?? slot.current.logicalPort, destination: dst?.host ?? socket.localAddress ?? '', source: socket.remoteAddress ?? '',
    ...(dst !== undefined ? { originalDst: dst } : {}),
  });
  if (lc.inspect === 'none') { decide(base(), origin?.initial ?? EMPTY); return; }
  let buf: Buffer = EMPTY;
  let decided = false;
  const finish = (): void => {
    decided = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('close', onClose);
    socket.pause();
  };
  const onClose = (): void => { decided = true; clearTimeout(timer); conns.delete(pending); };
  // No throw crosses the data callback (internal-error.ts): the connection is closed instead.
  const onData = (chunk: Buffer): void => {
    try { sniffData(chunk); } catch (err) { finish(); conns.delete(pending); reportInternalError(ctx, 'listener dispatch', err); socket.destroy(); }
  };
  const sniffData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const p = sniff(buf);
    if (p === undefined) return;
    const input = base();
    if (p === 'tls') {
      const h = parseClientHello(buf);
      if (h.kind === 'need-more') {
        if (buf.length > MAX_CLIENT_HELLO_BYTES + 5 * 8) { finish(); invalidHello('ClientHello too large'); }
        return;
      }
      finish();
      if (h.kind !== 'hello') return invalidHello(h.kind === 'invalid' ? h.reason : 'not TLS');
      input.transport = 'tls';
      input.serverName = h.serverName;
      input.alpn = h.alpn;
    } else {
      finish();
      input.protocol = p;
    }
    decide(input, buf);
  };
  const invalidHello = (reason: string): void => {
    conns.delete(pending);
    ctx.stats.tlsInspectorInvalid++;
    ctx.log('badhello:' + lc.listener.name, `listener ${lc.listener.name}: malformed TLS ClientHello from ${socket.remoteAddress}: ${reason}; closed (BOWLINE_E_TLS_CLIENT_HELLO)`);
    socket.destroy();
  };
  // The timeout decides in the check phase, after this loop turn's poll phase: bytes the client sent in time but
  // a busy event loop had not read yet (timers run before I/O) are read first and decide instead. A connection made to
  // an HTTP proxy listener itself (no original destination, no CONNECT target) waits longer (chains.ts directDetectTimeoutMs).
  const timer = setTimeout(() => setImmediate(() => {
    if (decided || socket.destroyed) return;
    finish();
    ctx.stats.detectTimeouts++;
    const input = base();
    input.protocol = buf.length === 0 ? 'tcp' : (sniff(buf) ?? 'tcp');
    if (input.protocol === 'tls') input.protocol = 'tcp';
    decide(input, buf);
  }), dst === undefined ? lc.directDetectTimeoutMs : lc.detectTimeoutMs);
  socket.on('data', onData);
  socket.once('close', onClose);
  if (origin !== undefined) {
    socket.resume(); // a tunnel's socket was paused by the HTTP codec it leaves
    if (origin.initial.length > 0) onData(origin.initial);
  }
}

/**
 * Where a connection accepted on a `useOriginalDst` listener was going: SO_ORIGINAL_DST of a
 * REDIRECTed connection, or the local address of a TPROXY one (not the listener's own socket
 * address). Undefined: the client connected to the listener itself (explicit HTTP_PROXY use).
 */
function originalDestination(socket: Socket, lc: ListenerChains, ctx: ProxyContext): { host: string; port: number } | undefined {
  if (lc.listener.useOriginalDst !== true) return undefined;
  const o = ctx.originalDst?.(socket);
  if (o !== undefined && !(o.port === socket.localPort && o.address === socket.localAddress)) return { host: o.address, port: o.port };
  const own = (socket as Socket & { server?: { address(): unknown } }).server?.address() as { port?: number } | null | undefined;
  if (own?.port !== undefined && own.port !== socket.localPort) return { host: socket.localAddress ?? '', port: socket.localPort ?? 0 };
  return undefined;
}

/** Serves a connection of a listener that became a single plaintext HTTP/1.1 chain while it was detecting (as listeners.ts does). */
function servePlain(socket: Socket, first: Buffer, slot: ListenerSlot, ctx: ProxyContext, conns: ConnectionTracker, pending: PendingConnection): void {
  if (first.length > 0) socket.unshift(first);
  const d = new Downstream(socket, slot, ctx, (gone) => conns.delete(gone));
  track(d, pending, conns, ctx);
  socket.resume();
}

function start(
  socket: Socket, first: Buffer, input: ChainInput, chain: CompiledChain, slot: ListenerSlot, lc: ListenerChains, ctx: ProxyContext,
  conns: ConnectionTracker, pending: PendingConnection,
): void {
  if (chain.tls !== undefined) {
    if (input.transport !== 'tls') {
      conns.delete(pending);
      ctx.stats.tlsHandshakeFailures++;
      socket.destroy();
      return;
    }
    terminate(socket, first, chain.tls, (err, t) => {
      if (err !== null || t === undefined) {
        conns.delete(pending);
        ctx.stats.tlsHandshakeFailures++;
        ctx.stats.countRefusal(err?.message ?? '');
        // One line per reason per 10 s: an untrusted peer does not hide a wrong trust domain.
        ctx.log('tls:' + lc.listener.name + ':' + (/BOWLINE_E_[A-Z_]+/.exec(err?.message ?? '')?.[0] ?? ''), `listener ${lc.listener.name}: TLS handshake failed from ${socket.remoteAddress}: ${err?.message} (BOWLINE_E_TLS_HANDSHAKE)`);
        return;
      }
      const inner: ChainInput = { ...input, transport: 'raw', protocol: t.alpn === 'h2' ? 'http2' : t.alpn === 'http/1.1' ? 'http1' : undefined };
      handOff(t.socket, EMPTY, inner, chain, slot, lc, ctx, conns, pending, t.peerIdentity, true);
    });
    return;
  }
  handOff(socket, first, input, chain, slot, lc, ctx, conns, pending, '');
}

function handOff(
  socket: Socket, first: Buffer, input: ChainInput, chain: CompiledChain, slot: ListenerSlot, lc: ListenerChains,
  ctx: ProxyContext, conns: ConnectionTracker, pending: PendingConnection, peerIdentity: string, secure = false,
): void {
  if (chain.tcp !== undefined) {
    const facts: TcpConnectionFacts = {
      listener: lc.listener.name, direction: lc.listener.direction, port: input.destinationPort, destination: input.destination,
      serverName: input.serverName, peerIdentity, mtls: chain.securityPolicy === 'mutual_tls',
      captured: input.captured,
      ...(input.originalDst !== undefined ? { originalDst: input.originalDst } : {}),
    };
    const s = new TcpSession(socket, first, chain.tcp, facts, ctx, (c) => lc.shared.upstreamTls.get(c), (gone) => conns.delete(gone));
    track(s, pending, conns, ctx);
    if (socket.destroyed) conns.delete(s);
    return;
  }
  const proto: Sniffed | undefined = input.protocol;
  if (chain.codec === 'http2' || proto === 'http2') {
    const h2 = ctx.h2.loaded;
    if (h2 === undefined) {
      // A socket closed while the codec loads is not handed off: it leaves the listener's set here.
      socket.once('close', () => conns.delete(pending));
      ctx.h2.whenLoaded(socket, ctx, () => handOff(socket, first, input, chain, slot, lc, ctx, conns, pending, peerIdentity, secure));
      return;
    }
    if (first.length > 0) socket.unshift(first);
    const h = h2.serve(socket, chainSlot(slot, chain.name), chain, (gone) => conns.delete(gone), secure, peerIdentity);
    track(h, pending, conns, ctx);
    return;
  }
  const cs = chainSlot(slot, chain.name);
  if (first.length > 0) socket.unshift(first);
  const cb = listenerCallbacks(slot, ctx, conns);
  const d = new Downstream(socket, cs, ctx, cb.untrack);
  if (peerIdentity !== '') d.peerIdentity = peerIdentity;
  if (input.originalDst !== undefined && isIP(input.originalDst.host) !== 0) d.capturedDst = { address: input.originalDst.host, port: input.originalDst.port };
  if (lc.listener.direction === 'outbound') d.tunnelTo = cb.tunnel;
  track(d, pending, conns, ctx);
  socket.resume();
}

/**
 * A slot that follows config updates: each request reads the chain's current settings (by
 * chain name) from the listener's slot, with the listener's resolved logical port. One per
 * listener and chain name (the names of chains a config removed are forgotten past 64).
 */
function chainSlot(slot: ListenerSlot, name: string): ListenerSlot {
  const state = stateOf(slot);
  const byName = (state.chainSlots ??= new Map());
  let cs = byName.get(name);
  if (cs === undefined) {
    if (byName.size >= 64) byName.clear();
    byName.set(name, (cs = newChainSlot(slot, name)));
  }
  return cs;
}

function newChainSlot(slot: ListenerSlot, name: string): ListenerSlot {
  let last: HttpListenerRuntime = slot.current;
  // What `last` was found from: every request reads `current`, and the search runs again only when
  // the listener's runtime, its chains or its logical port changed (a config update).
  let seen: HttpListenerRuntime | undefined;
  let seenChains: HttpListenerRuntime['chains'];
  let seenPort = -1;
  return {
    get current(): HttpListenerRuntime {
      const lst = slot.current;
      const chains = lst.chains;
      if (lst === seen && chains === seenChains && lst.logicalPort === seenPort) return last;
      seen = lst;
      seenChains = chains;
      seenPort = lst.logicalPort;
      const cs = chains?.chains;
      if (cs !== undefined) {
        for (let i = 0; i < cs.length; i++) {
          if (cs[i]!.name !== name) continue;
          const c = cs[i]!.httpOn(lst.logicalPort);
          if (c !== undefined) last = c;
          break;
        }
      }
      return last;
    },
  };
}
