/**
 * Upstream connection pools: per cluster, keep-alive HTTP/1.1 sockets per endpoint, with
 * Istio's ConnectionPool limits (maxConnections across the cluster, connectTimeout,
 * http1MaxPendingRequests waiting for a connection, maxRequestsPerConnection, idleTimeout).
 * A request that finds no idle socket, no room for a new one and a full queue is refused:
 * the caller answers 503 with flag UO.
 */
import { connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { clientRefusedAfterHandshake, connectUpstreamTls, offersClientCertificate, upstreamPeerIdentity, type CompiledUpstreamTls } from '../tls/upstream.js';
import type { ConnectionPool } from '../../proxy-config/types.js';
import { applyKeepalive } from './keepalive.js';
import type { ProxyStats } from '../stats.js';
import { ReadViews, sharedReadBuffer } from '../http/socket-read.js';
import { flushAtTurnEnd, HeldBatch, readEnd, readStart, writeBatch, type HeldWrites } from '../http/turn-writes.js';

/** Writes of one turn up to this many bytes are held and written once at its end (http/turn-writes.ts). */
const BATCH_BYTES = 16 * 1024;

/**
 * The read buffer of every upstream connection, plaintext or TLS (net.connect's and tls.connect's
 * `onread`; for TLS the decrypted bytes): a response's
 * bytes are handed to the connection's owner as a view of it, valid only until the owner returns
 * (h1-call.ts copies what it keeps or passes on).
 */
export const UPSTREAM_READ = sharedReadBuffer();
const READ_VIEWS = new ReadViews(UPSTREAM_READ);

/** Where a pool connects: an endpoint's address, port and `address:port` key. */
export interface Dialable {
  readonly address: string;
  readonly port: number;
  readonly key: string;
  /** The endpoint's config: its SPIFFE identity is what an ISTIO_MUTUAL connection expects of the server. */
  readonly config?: { readonly identity?: string };
}

/** Who uses an upstream connection: gets its bytes and hears when it dies. */
export interface ConnOwner {
  /** Response bytes: a view of UPSTREAM_READ, valid only during the call. */
  onUpstreamData(chunk: Buffer): void;
  /** The connection closed or failed while owned; `err` when it was an error. */
  onUpstreamClose(err: Error | undefined): void;
}

/** Receives the result of `acquire`. */
export interface Waiter {
  /** A connected socket is ready for this request. */
  onConnection(conn: UpstreamConn): void;
  /** The connection could not be made (`timeout` when connectTimeout fired). */
  onConnectFailure(reason: 'refused' | 'timeout', message: string): void;
}

/** One upstream keep-alive socket. */
export class UpstreamConn implements HeldWrites {
  owner: ConnOwner | null = null;
  /** Requests sent on this connection so far. */
  requests = 0;
  connected = false;
  dead = false;
  /** The server's verified SPIFFE id (any verified TLS; tls/upstream.ts upstreamPeerIdentity), read once when connected; '' otherwise. */
  peerIdentity = '';
  /** Bytes received while no one owned the connection (protocol violation). */
  private idleTimer: NodeJS.Timeout | null = null;
  /** Writes held until the end of the turn (strings latin1). */
  private readonly batch = new HeldBatch();

  /**
   * The socket reads into UPSTREAM_READ (`onread`, set by the pool when it dials) and calls `onRead`.
   * `mutual`: a TLS connection on which this proxy offered its client certificate (MUTUAL, ISTIO_MUTUAL).
   */
  constructor(readonly socket: Socket, readonly endpoint: Dialable, readonly pool: ClusterPool, readonly mutual = false) {
    // Both values at once: a field V8 has seen only one value in is a constant its optimised code may fold in, and the
    // first connection to close would deoptimise acquire and release (http/downstream.ts does the same for `closed`).
    this.dead = true;
    this.dead = false;
    socket.on('error', () => {});
    socket.on('close', (hadError) => this.closed(hadError ? new Error('upstream connection error') : undefined));
  }

  /**
   * Request bytes: held until the end of the turn and written once with the rest of the turn's
   * (a head and its body); past the batch limit or the socket's high-water mark written through,
   * after what was held. Returns false when the caller should wait for 'drain'.
   */
  send(data: string | Buffer): boolean {
    const s = this.socket;
    const n = data.length;
    const held = this.batch.bytes;
    if (held + n <= BATCH_BYTES && s.writableLength + held + n < s.writableHighWaterMark) {
      if (this.batch.hold(data)) flushAtTurnEnd(this);
      return true;
    }
    this.flushHeld();
    return typeof data === 'string' ? s.write(data, 'latin1') : s.write(data);
  }

  /** Writes what is held, as one buffer. */
  flushHeld(): void {
    const s = this.socket;
    if (s.destroyed) { this.batch.drop(); return; }
    try {
      writeBatch(s, this.batch);
    } catch {
      s.destroy(); // never thrown by a socket write in practice; the owner hears the close
    }
  }

  /** One read into UPSTREAM_READ (net.connect's `onread` callback). */
  onRead(n: number, b: Buffer): void {
    readStart();
    try {
      this.onData(READ_VIEWS.of(b, n));
    } finally {
      readEnd();
    }
  }

  private onData(chunk: Buffer): void {
    const o = this.owner;
    if (o !== null) o.onUpstreamData(chunk);
    else this.destroy(); // unsolicited bytes on an idle connection: never reuse it
  }

  /**
   * Why the server closed this connection before any response byte of its first request, when that tells
   * something: a mutual-TLS connection closed right after the handshake was most likely refused for this
   * proxy's certificate (tls/upstream.ts clientRefusedAfterHandshake; counted). Undefined otherwise.
   */
  closedUnanswered(): string | undefined {
    return this.mutual && this.requests === 1 ? clientRefusedAfterHandshake(this.pool.stats) : undefined;
  }

  /** True when this connection was used before (a stale keep-alive socket may fail on reuse). */
  get reused(): boolean {
    return this.requests > 1;
  }

  /** Closes the connection (what is held is dropped); the pool forgets it. */
  destroy(): void {
    this.batch.drop();
    if (!this.dead) this.socket.destroy();
  }

  private closed(err: Error | undefined): void {
    if (this.dead) return;
    this.dead = true;
    this.stopIdle();
    this.pool.forget(this);
    const o = this.owner;
    this.owner = null;
    if (o !== null) o.onUpstreamClose(err ?? new Error('upstream connection closed'));
  }

  /** Starts the idle timer (idleTimeout). */
  startIdle(ms: number): void {
    if (ms > 0) this.idleTimer = setTimeout(() => this.destroy(), ms).unref();
  }

  /** Stops the idle timer when the connection is taken again. */
  stopIdle(): void {
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
  }
}

interface Pending { endpoint: Dialable; waiter: Waiter }

const UNLIMITED = 0xffffffff;

/** The connection pool of one cluster. */
export class ClusterPool {
  private idle = new Map<string, UpstreamConn[]>();
  private pending: Pending[] = [];
  /** Open or opening connections of this cluster. */
  open = 0;
  private closing = false;

  /** What the idle connections were made with (`plain` or the TLS settings): a change retires them. */
  private tlsKey = 'plain';
  /** The compiled TLS settings `tlsKey` was last computed from (recomputed only when the object changes). */
  private tlsSeen: CompiledUpstreamTls | undefined = undefined;

  /** `tlsOf` gives the cluster's current upstream TLS (tls/upstream.ts), undefined for plaintext. */
  constructor(readonly name: string, private limits: ConnectionPool | undefined, readonly stats: ProxyStats, private readonly tlsOf: () => CompiledUpstreamTls | undefined = () => undefined) {
    // An ordinary field from the start (UpstreamConn's constructor says why): a cluster's removal does not deoptimise release.
    this.closing = true;
    this.closing = false;
  }

  /** Applies new limits (config update); existing connections stay. */
  setLimits(limits: ConnectionPool | undefined): void {
    this.limits = limits;
  }

  /**
   * Asks for a connection to `endpoint`. Returns an idle connection at once, or 'wait' (the
   * waiter is called later), or 'overflow' when the pending queue is full (503 UO).
   */
  acquire(endpoint: Dialable, waiter: Waiter): UpstreamConn | 'wait' | 'overflow' {
    const tls = this.tlsOf();
    if (tls !== this.tlsSeen) this.retireOnTlsChange(tls);
    const list = this.idle.get(endpoint.key);
    if (list !== undefined) {
      while (list.length > 0) {
        const c = list.pop()!;
        if (c.dead) continue;
        c.stopIdle();
        c.requests++;
        return c;
      }
    }
    if (this.open < (this.limits?.maxConnections ?? UNLIMITED)) {
      this.dial(endpoint, waiter);
      return 'wait';
    }
    if (this.pending.length >= (this.limits?.http1MaxPendingRequests ?? UNLIMITED)) return 'overflow';
    this.pending.push({ endpoint, waiter });
    return 'wait';
  }

  /**
   * Plaintext <-> TLS or other TLS settings: idle connections no longer fit (a renewed certificate
   * alone keeps them). Runs when the compiled settings object changes, not on every request.
   */
  private retireOnTlsChange(tls: CompiledUpstreamTls | undefined): void {
    this.tlsSeen = tls;
    const key = tls === undefined ? 'plain' : `${tls.mode}|${tls.sni ?? ''}|${tls.subjectAltNames.join(',')}|${tls.insecure}`;
    if (key === this.tlsKey) return;
    this.tlsKey = key;
    for (const l of this.idle.values()) for (const c of l.splice(0)) c.destroy();
  }

  /** Withdraws a waiter that no longer wants a connection (timeout, downstream gone). */
  cancel(waiter: Waiter): void {
    const i = this.pending.findIndex((p) => p.waiter === waiter);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** Returns a connection after a complete exchange; `reusable` false closes it. */
  release(conn: UpstreamConn, reusable: boolean): void {
    conn.owner = null;
    const max = this.limits?.maxRequestsPerConnection ?? 0;
    if (!reusable || conn.dead || this.closing || (max > 0 && conn.requests >= max)) {
      conn.destroy();
      return;
    }
    // No waiters (nearly always): no search, no closure per release.
    const i = this.pending.length === 0 ? -1 : this.pending.findIndex((p) => p.endpoint.key === conn.endpoint.key);
    if (i >= 0) {
      const p = this.pending.splice(i, 1)[0]!;
      conn.requests++;
      p.waiter.onConnection(conn);
      return;
    }
    if (this.pending.length > 0) {
      // Waiters want other endpoints: trade this connection's slot for one of theirs.
      conn.destroy();
      return;
    }
    let list = this.idle.get(conn.endpoint.key);
    if (list === undefined) this.idle.set(conn.endpoint.key, (list = []));
    list.push(conn);
    conn.startIdle(this.limits?.idleTimeoutMs ?? 0);
  }

  /** Called by a connection when it closed: frees its slot for a waiter. */
  forget(conn: UpstreamConn): void {
    this.open--;
    this.stats.upstreamConnectionsActive--;
    const list = this.idle.get(conn.endpoint.key);
    if (list !== undefined) {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
    }
    const p = this.pending.shift();
    if (p !== undefined && !this.closing) this.dial(p.endpoint, p.waiter);
  }

  /** Closes idle connections and refuses reuse from now on (cluster removed or proxy closing). */
  close(): void {
    this.closing = true;
    for (const list of this.idle.values()) for (const c of list.splice(0)) c.destroy();
    for (const p of this.pending.splice(0)) p.waiter.onConnectFailure('refused', 'connection pool closed');
  }

  private dial(endpoint: Dialable, firstWaiter: Waiter): void {
    // The closures below live as long as the connection (the read callback, the 'error' listener): they see the waiter
    // only through `waiter`, cleared once it has the connection, so a pooled connection does not keep its first
    // request (its exchange, the downstream connection, their sockets) alive.
    let waiter: Waiter | null = firstWaiter;
    this.open++;
    this.stats.upstreamConnectionsTotal++;
    this.stats.upstreamConnectionsActive++;
    const tls = this.tlsOf();
    // Reads (TLS: decrypted) go to the connection without node's Readable (the callback runs only once `conn` exists: after connect).
    const onread = { buffer: UPSTREAM_READ, callback: (n: number, b: Uint8Array): boolean => { conn.onRead(n, b as Buffer); return true; } };
    const socket = tls !== undefined ? connectUpstreamTls(tls, endpoint.address, endpoint.port, endpoint.config?.identity, undefined, onread, this.stats)
      : connect({ host: endpoint.address, port: endpoint.port, noDelay: true, onread });
    if (tls !== undefined) socket.setNoDelay(true);
    applyKeepalive(socket, this.limits);
    const conn = new UpstreamConn(socket, endpoint, this, offersClientCertificate(tls));
    const timeoutMs = this.limits?.connectTimeoutMs ?? 10_000;
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; socket.destroy(); }, timeoutMs);
    const failed = (err?: Error): void => {
      clearTimeout(timer);
      this.stats.upstreamConnectFailures++;
      const w = waiter;
      waiter = null;
      w?.onConnectFailure(timedOut ? 'timeout' : 'refused', timedOut ? `connect timeout after ${timeoutMs} ms` : (err?.message ?? 'connection closed'));
    };
    // Until connected, failures are connect failures, not owner resets.
    conn.owner = { onUpstreamData: () => conn.destroy(), onUpstreamClose: failed };
    socket.once('error', (err) => { if (!conn.connected) { conn.owner = null; failed(err); } });
    socket.once(tls !== undefined ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      conn.connected = true;
      if (tls !== undefined) conn.peerIdentity = upstreamPeerIdentity(socket as TLSSocket);
      conn.owner = null;
      conn.requests = 1;
      const w = waiter!;
      waiter = null;
      w.onConnection(conn);
    });
  }
}
