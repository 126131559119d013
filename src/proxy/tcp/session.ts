/**
 * One proxied TCP connection (TCP routes, TLS passthrough, MESH_EXTERNAL TCP egress): pick
 * the cluster and an endpoint, connect (with the cluster's connect timeout, connection limit
 * and upstream TLS), then splice bytes both ways (splice.ts: each socket reads into its own
 * reused buffer and each read is written to the other side at once). Half-close is kept: a FIN
 * from one side ends the write side toward the other while the reverse direction keeps flowing.
 * A peer that does not read stops the other side's reading (memory stays at the socket buffers
 * and one read buffer per socket). An idle timeout closes both sides.
 */
import { type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { endpointKey, type UpstreamEndpoint } from '../cluster/index.js';
import { passthroughTarget } from '../passthrough/guard.js';
import type { ProxyContext } from '../context.js';
import { Flag } from '../record.js';
import type { AuthzRequest } from '../authz/index.js';
import { authorizationOf, deniedLine, principalOfPeer } from '../authz/slot.js';
import { connectUpstreamTls, upstreamPeerIdentity, type CompiledUpstreamTls } from '../tls/upstream.js';
import { applyKeepalive } from '../upstream/keepalive.js';
import { callHook, type TcpConnectionRecord } from './record.js';
import type { CompiledTcpProxy } from './route.js';
import { reportInternalError } from '../internal-error.js';
import { connectTunnel, spliceTunnel, upstreamOnread, type UpstreamReads } from './splice.js';
import { performance } from 'node:perf_hooks';

/** A fatal TLS alert record `unrecognized_name` (112): how a gateway refuses a ClientHello it has no route for. */
const UNRECOGNIZED_NAME_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);

/** Default upstream connect timeout (Envoy's 10 s). */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Facts about the accepted connection that TCP routing and telemetry need. */
export interface TcpConnectionFacts {
  listener: string;
  direction: 'inbound' | 'outbound' | 'gateway';
  /** The port routes match (original destination / logical port). */
  port: number;
  /** The destination address the client reached. */
  destination: string;
  serverName: string | undefined;
  peerIdentity: string;
  mtls: boolean;
  /** The connection reached the listener by capture (its local address is the original destination, as with TPROXY). */
  captured: boolean;
  /** Where the client was going: a redirected connection's SO_ORIGINAL_DST or a CONNECT tunnel's target (host or address). */
  originalDst?: { host: string; port: number };
}

/** Looks up a cluster's compiled upstream TLS (undefined: plaintext). */
export type UpstreamTlsLookup = (cluster: string) => CompiledUpstreamTls | undefined;

/** A running TCP proxy connection, as the listener tracks it for drain and shutdown. */
export class TcpSession {
  private up: Socket | null = null;
  /** Bytes flow both ways (the upstream connected). */
  private spliced = false;
  private closed = false;
  private readonly record: TcpConnectionRecord;
  private readonly t0 = performance.now();
  private counted = '';

  constructor(
    readonly socket: Socket,
    first: Buffer,
    tcp: CompiledTcpProxy,
    facts: TcpConnectionFacts,
    private readonly ctx: ProxyContext,
    tlsFor: UpstreamTlsLookup,
    private readonly onGone: (s: TcpSession) => void,
  ) {
    // Written only when the session ends: both values here, so V8 never tracks it as a constant and the first session to
    // close deoptimises nothing that reads it (http/downstream.ts, docs/performance.md "The first close").
    this.closed = true;
    this.closed = false;
    const stats = ctx.stats;
    stats.tcpConnectionsTotal++;
    stats.tcpConnectionsActive++;
    this.record = {
      listener: facts.listener, direction: facts.direction, startTime: Date.now(), durationMs: 0, cluster: '', upstreamHost: '',
      downstreamRemote: (socket.remoteAddress ?? '') + ':' + (socket.remotePort ?? 0), serverName: facts.serverName ?? '',
      peerIdentity: facts.peerIdentity, upstreamPeerIdentity: '', mtls: facts.mtls, sentBytes: 0, receivedBytes: 0, flags: 0,
    };
    socket.allowHalfOpen = true;
    socket.on('error', () => {});
    socket.once('close', () => this.finish());
    socket.pause();
    if (facts.direction === 'inbound' && !this.authorized(facts)) return;
    const cluster = tcp.select({ port: facts.port, destination: facts.destination, serverName: facts.serverName, hasCluster: (c) => ctx.clusters.get(c) !== undefined });
    if (cluster === undefined) {
      stats.tcpNoRoute++;
      // AUTO_PASSTHROUGH (east-west gateway): an SNI naming no service here ends the client's handshake with
      // unrecognized_name; nothing is forwarded and there is no plaintext fallback.
      const why = `no TCP route for ${facts.serverName ?? facts.destination + ':' + facts.port} on listener ${facts.listener}`;
      if (tcp.autoPassthrough && facts.serverName !== undefined) {
        this.record.flags |= Flag.NR;
        ctx.log('tcp:' + facts.listener + ':' + Flag.NR, `${why}: the SNI names no service this gateway exposes (TLS alert unrecognized_name)`);
        socket.end(UNRECOGNIZED_NAME_ALERT);
        socket.setTimeout(5_000, () => socket.destroy());
        return;
      }
      this.refuse(Flag.NR, why);
      return;
    }
    this.record.cluster = cluster;
    const state = ctx.clusters.get(cluster);
    if (state === undefined) { this.refuse(Flag.NC, `TCP route names unknown cluster ${cluster}`); return; }
    const pool = state.config.connectionPool;
    const open = this.openCounts();
    if ((open.get(cluster) ?? 0) >= (pool?.maxConnections ?? Infinity)) {
      stats.tcpOverflow++;
      this.refuse(Flag.UO, `cluster ${cluster} is at maxConnections ${pool!.maxConnections}`);
      return;
    }
    open.set(cluster, (open.get(cluster) ?? 0) + 1);
    this.counted = cluster;
    if (state.config.discovery === 'original_dst') {
      // Passthrough: where the client was going -- a captured connection's original destination, or a CONNECT
      // target. A connection made to the listener itself has none (it would loop back to the proxy).
      const dst = facts.originalDst ?? (facts.captured ? { host: socket.localAddress ?? '', port: socket.localPort ?? 0 } : undefined);
      if (dst === undefined) { this.refuse(Flag.UH, `cluster ${cluster} passes through to the original destination, but the connection to listener ${facts.listener} was not captured`); return; }
      passthroughTarget(ctx.own, dst.host, dst.port).then((t) => {
        if (this.closed) return;
        if ('refused' in t) { this.refuse(Flag.NR, `passthrough refused on listener ${facts.listener}: ${t.refused} (BOWLINE_E_PASSTHROUGH_REFUSED)`); return; }
        this.connect(cluster, tcp, first, tlsFor, undefined, { address: t.address, port: t.port, key: endpointKey(t.address, t.port), identity: undefined });
      }, (err) => { reportInternalError(ctx, 'tcp passthrough', err); socket.destroy(); });
      return;
    }
    const picked = ctx.clusters.pick(cluster, { sourceIp: socket.remoteAddress ?? '' });
    if (picked === undefined) { this.refuse(Flag.UH, `no healthy upstream in cluster ${cluster}`); return; }
    const ep = picked.endpoint;
    this.connect(cluster, tcp, first, tlsFor, ep, { address: ep.address, port: ep.port, key: ep.key, identity: ep.config.identity });
  }

  private connect(
    cluster: string, tcp: CompiledTcpProxy, first: Buffer, tlsFor: UpstreamTlsLookup, ep: UpstreamEndpoint | undefined,
    target: { address: string; port: number; key: string; identity: string | undefined },
  ): void {
    const ctx = this.ctx;
    const stats = ctx.stats;
    const pool = ctx.clusters.get(cluster)?.config.connectionPool;
    this.record.upstreamHost = target.key;
    // AUTO_PASSTHROUGH forwards the client's own mTLS untouched: no TLS is originated toward the endpoint.
    const tls = tcp.autoPassthrough ? undefined : tlsFor(cluster);
    // The upstream reads into its own buffer from the start; its reads go to the downstream once connected.
    const bind: UpstreamReads = { onRead: () => true };
    const up = tls !== undefined
      ? connectUpstreamTls(tls, target.address, target.port, target.identity, undefined, upstreamOnread(bind), stats)
      : connectTunnel(target.address, target.port, bind);
    this.up = up;
    up.allowHalfOpen = true;
    applyKeepalive(up, pool);
    const timeoutMs = pool?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => up.destroy(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
    let connected = false;
    up.once('error', (err) => {
      if (connected) return;
      clearTimeout(timer);
      if (ep !== undefined) ctx.clusters.report(ep, { connectFailure: true });
      stats.tcpConnectFailures++;
      this.refuse(Flag.UF, `TCP connect to ${target.key} (cluster ${cluster}) failed: ${err.message}`);
    });
    up.on('error', () => {});
    up.once(tls !== undefined ? 'secureConnect' : 'connect', () => {
      connected = true;
      clearTimeout(timer);
      try {
        if (ep !== undefined) ctx.clusters.report(ep, {});
        if (this.closed) { up.destroy(); return; }
        if (tls !== undefined) this.record.upstreamPeerIdentity = upstreamPeerIdentity(up as TLSSocket);
        callHook(ctx, 'onTcpOpened', this.record);
        if (first.length > 0) up.write(first);
        this.splice(up, bind, tcp.idleTimeoutMs);
      } catch (err) { // no throw crosses a socket callback (internal-error.ts)
        reportInternalError(ctx, 'tcp proxy connect', err);
        up.destroy();
        this.socket.destroy();
      }
    });
  }

  /** Graceful drain: TCP has no way to ask a client to leave, so it runs until the drain's deadline (closeAtDeadline). */
  drain(): void {}

  /**
   * The drain's deadline (drain.ts): a FIN both ways (bytes already written go first; what either side sends after it
   * is dropped); the drain destroys the sockets whose peers do not finish within its close grace. One still connecting
   * or refused is closed at once. False when it was closing already.
   */
  closeAtDeadline(): boolean {
    const ds = this.socket;
    const up = this.up;
    if (this.closed || ds.destroyed || (ds.writableEnded && (up === null || up.writableEnded))) return false;
    if (up === null || !this.spliced || up.destroyed) {
      up?.destroy();
      ds.destroy();
      return true;
    }
    if (!ds.writableEnded) ds.end();
    if (!up.writableEnded) up.end();
    return true;
  }

  private openCounts(): Map<string, number> {
    return this.ctx.upstreams.tcpOpen;
  }

  private splice(up: Socket, bind: UpstreamReads, idleMs: number): void {
    const ds = this.socket;
    this.spliced = true;
    spliceTunnel(ds, up, bind);
    if (idleMs > 0) {
      const idle = (): void => {
        this.ctx.stats.tcpIdleTimeouts++;
        ds.destroy();
        up.destroy();
      };
      ds.setTimeout(idleMs, idle);
      up.setTimeout(idleMs, idle);
    }
  }

  /** AuthorizationPolicy on an inbound TCP connection: a denied one is closed (flag RBAC). */
  private authorized(facts: TcpConnectionFacts): boolean {
    const engine = authorizationOf(this.ctx);
    if (!engine.enabled) return true;
    const principal = principalOfPeer(facts.peerIdentity);
    const r: AuthzRequest = { sourceIp: this.socket.remoteAddress ?? '', port: facts.port, destinationIp: facts.destination, ...(principal !== undefined ? { principal } : {}), ...(facts.serverName !== undefined ? { sni: facts.serverName } : {}) };
    const d = engine.evaluate(r);
    if (d.allowed) return true;
    this.ctx.stats.authzDenied++;
    this.refuse(Flag.RBAC, deniedLine('a TCP connection', r, d));
    return false;
  }

  private refuse(flag: number, message: string): void {
    this.record.flags |= flag;
    this.ctx.log('tcp:' + this.record.listener + ':' + flag, message);
    this.socket.destroy();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    const up = this.up;
    if (up !== null && !up.destroyed) {
      // The client went away: let queued bytes toward the upstream go, then close.
      if (!up.writableEnded) up.end();
      up.setTimeout(5_000, () => up.destroy());
    }
    if (this.counted !== '') {
      const open = this.openCounts();
      open.set(this.counted, (open.get(this.counted) ?? 1) - 1);
    }
    const stats = this.ctx.stats;
    stats.tcpConnectionsActive--;
    const r = this.record;
    r.receivedBytes = this.socket.bytesRead;
    r.sentBytes = this.socket.bytesWritten;
    r.durationMs = performance.now() - this.t0;
    stats.tcpBytesReceived += r.receivedBytes;
    stats.tcpBytesSent += r.sentBytes;
    if (r.flags !== 0) this.ctx.stats.complete(0, r.flags);
    callHook(this.ctx, 'onTcpClosed', r);
    this.onGone(this);
  }
}
