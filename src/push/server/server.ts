/**
 * The push server: accepts proxy streams (newline-delimited JSON over TCP; see
 * docs/push-protocol.md), registers each proxy's workload in the universal registry, and keeps
 * every proxy in sync with the current snapshot: per-type versions, a nonce per push, ACK/NACK,
 * incremental deltas, at most one push in flight per proxy (later changes coalesce into the next).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { NodeInfo, ResourceType } from '../../proxy-config/types.js';
import { decodeMessage, LineFramer, MIN_PUSH_PROTOCOL_VERSION, PUSH_PROTOCOL_VERSION, RESOURCE_TYPES, type HelloMessage, type WorkloadAnnouncement } from '../../proxy-config/wire.js';
import { bowlineVersion } from '../../proxy-config/version.js';
import type { Registration, UniversalRegistry } from '../../registry/universal/universal.js';
import { AutoRegistrationError, type AutoRegistrar } from '../autoregister.js';
import { GenerationCache, type TypeSet } from '../cache.js';
import { generateProxyConfig } from '../generators/index.js';
import { Connection, type CertificateFacts, type ProxyStatus } from './connection.js';
import { CREDENTIAL_STRENGTH, type CsrContext, type StreamAuthenticator, type StreamCredential } from './credential.js';
import { PushMetrics } from './metrics.js';
import { StatsWindow, type StatsWindowOptions } from './stats-window.js';
import type { StatsMessage } from '../../proxy-config/stats.js';

/** Where snapshots come from (the MeshController, or a test's fixed source). */
export interface SnapshotSource {
  current(): MeshSnapshot;
  onSnapshot(fn: (s: MeshSnapshot) => void): () => void;
}

/** A log line: level, message, structured fields. */
export type PushLogger = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** Options of the push server. */
export interface PushServerOptions {
  source: SnapshotSource;
  /** Registers announced workloads (absent: announcements are ignored). */
  universal?: UniversalRegistry;
  /** Registers proxies that name a WorkloadGroup as WorkloadEntries (absent: they register like any other). */
  autoRegister?: AutoRegistrar;
  log?: PushLogger;
  now?: () => number;
  /** Close a stream that sends no hello within this long (default 10 s). */
  helloTimeoutMs?: number;
  /** Proxies pushed per event-loop turn after a snapshot change (default 64). */
  batchSize?: number;
  /** First retry of a NACKed version, unchanged, after this long (default 1 s); doubles per NACK in a row up to `nackRetryMaxMs` (default 60 s). */
  nackRetryMs?: number;
  /** Longest wait between retries of a NACKed, unchanged version (default 60 s). */
  nackRetryMaxMs?: number;
  /** Called on every ACK (benchmarks, tests). */
  onAck?: (proxyId: string, at: number) => void;
  /** Checks the credential a stream presents for its hello (the CA: a workload certificate whose identity is the node's,
   *  or a bootstrap token in the first CSR). Absent: every stream counts as presenting none. Must not throw. */
  authenticate?: StreamAuthenticator;
  /** Accept hellos that present no credential (`bowline up --push-plaintext`, loopback tests). Default false: refused. */
  allowPlaintext?: boolean;
  /** Answers a `csr` message (the CA's answerCsr); absent: CSRs are refused. Calls `ctx.onProven` when a bootstrap token
   *  on this connection proved an identity. Must not throw. */
  onCsr?: (msg: Record<string, unknown>, socket: Socket, ctx: CsrContext) => Promise<object | undefined>;
  /** Slot length and window of the traffic statistics proxies report (default 10 s slots, 15 min). */
  stats?: StatsWindowOptions;
}

/**
 * Longest line a proxy may send (hello, ack/nack, csr are a few KiB). The default LineFramer limit
 * (64 MiB) is sized for pushes toward the proxy; on this unauthenticated port it would let each
 * connection make the control plane buffer 64 MiB before anything is checked.
 */
export const MAX_INBOUND_FRAME_BYTES = 1 << 20;

/** Stable codes of stream errors (docs/errors.md). */
export const PUSH_ERRORS = {
  badFrame: 'BOWLINE_E_PUSH_BAD_FRAME',
  badHello: 'BOWLINE_E_PUSH_BAD_HELLO',
  unexpected: 'BOWLINE_E_PUSH_UNEXPECTED_MESSAGE',
  helloTimeout: 'BOWLINE_E_PUSH_HELLO_TIMEOUT',
  replaced: 'BOWLINE_E_PUSH_REPLACED',
  identity: 'BOWLINE_E_PUSH_IDENTITY',
  protocol: 'BOWLINE_E_PUSH_PROTOCOL_VERSION',
  unauthenticated: 'BOWLINE_E_PUSH_UNAUTHENTICATED',
  weaker: 'BOWLINE_E_PUSH_WEAKER_CREDENTIAL',
  workloadGroup: 'BOWLINE_E_PUSH_WORKLOAD_GROUP',
} as const;

const defaultLog: PushLogger = (level, msg, fields) => process.stderr.write(`${JSON.stringify({ level, component: 'push', msg, ...fields })}\n`);

/** The control plane's end of every proxy stream. */
export class PushServer {
  readonly cache = new GenerationCache();
  readonly metrics = new PushMetrics(() => this.connected);
  /** Traffic the proxies report (`stats` messages), kept for the dashboard. */
  readonly stats: StatsWindow;
  private readonly conns = new Map<string, Connection>();
  private readonly all = new Set<Connection>();
  private server?: Server;
  private queue: Connection[] = [];
  private queued = new Set<Connection>();
  private draining = false;
  private unsub: () => void;
  private readonly log: PushLogger;
  private readonly now: () => number;

  constructor(private readonly opts: PushServerOptions) {
    this.log = opts.log ?? defaultLog;
    this.now = opts.now ?? Date.now;
    this.stats = new StatsWindow({ now: this.now, ...opts.stats });
    this.cache.advance(opts.source.current());
    this.unsub = opts.source.onSnapshot((s) => this.onSnapshot(s));
  }

  /** Listens for proxy streams; resolves with the bound address. */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    const server = createServer((s) => this.attach(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  /** Serves one already-connected stream (plain TCP here; a TLS server hands its sockets over the same way). */
  attach(socket: Socket): void {
    const conn = new Connection(socket, this.now(), `${socket.remoteAddress}:${socket.remotePort}`);
    this.all.add(conn);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const helloTimer = setTimeout(() => this.drop(conn, PUSH_ERRORS.helloTimeout, 'no hello received'), this.opts.helloTimeoutMs ?? 10_000);
    helloTimer.unref();
    const framer = new LineFramer((line) => this.onLine(conn, line, helloTimer), (reason) => this.drop(conn, PUSH_ERRORS.badFrame, reason), MAX_INBOUND_FRAME_BYTES);
    socket.on('data', (d) => {
      if (!conn.closed) framer.push(d);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.onClose(conn);
    });
  }

  private onLine(conn: Connection, line: string, helloTimer: NodeJS.Timeout): void {
    if (conn.closed) return;
    const d = decodeMessage(line);
    if (!d.ok) return this.drop(conn, PUSH_ERRORS.badFrame, d.error);
    const msg = d.msg;
    if (!conn.id && conn.awaitingToken) {
      // Said hello without a certificate: only a CSR with a bootstrap token (or a keepalive) may follow.
      if (msg.type === 'csr') return this.onCsr(conn, msg);
      if (msg.type === 'ping') {
        conn.noteClock(msg.clockMs, this.now());
        return void conn.socket.write('{"type":"pong"}\n');
      }
      if (msg.type === 'pong') return;
      return this.drop(conn, PUSH_ERRORS.unauthenticated, `"${msg.type}" before the stream proved its identity (a CSR with the bootstrap token comes first)`);
    }
    if (!conn.id) {
      if (msg.type !== 'hello') return this.drop(conn, PUSH_ERRORS.unexpected, `expected hello, got "${msg.type}"`);
      clearTimeout(helloTimer);
      return this.onHello(conn, msg as unknown as HelloMessage);
    }
    switch (msg.type) {
      case 'ack':
      case 'nack':
        return this.onResponse(conn, msg.type, String(msg.nonce), typeof msg.error === 'string' ? msg.error : '');
      case 'ping':
        conn.noteClock(msg.clockMs, this.now());
        conn.socket.write('{"type":"pong"}\n');
        return;
      case 'pong':
        return;
      case 'stats':
        // Request counts for the dashboard: malformed rows are counted and skipped, never fatal to the stream.
        this.metrics.statsReports++;
        this.stats.add(msg as unknown as StatsMessage);
        return;
      case 'csr':
        return this.onCsr(conn, msg);
      case 'health':
        // The workload's probe (protocol 7): a malformed one is ignored, never fatal to the stream.
        if (typeof msg.healthy !== 'boolean') return;
        conn.health = { healthy: msg.healthy, ...(typeof msg.message === 'string' ? { message: msg.message.slice(0, 1000) } : {}) };
        return this.applyHealth(conn);
      case 'leave':
        conn.leaving = true;
        this.log('info', 'proxy leaving', { proxy: conn.id });
        if (conn.registration) void this.removeRegistration(conn, conn.registration);
        return;
      default:
        return this.drop(conn, PUSH_ERRORS.unexpected, `unknown message type "${msg.type}"`);
    }
  }

  private onCsr(conn: Connection, msg: Record<string, unknown>): void {
    const refuse = { type: 'certificate', requestId: String(msg.requestId ?? ''), code: 'BOWLINE_E_PUSH_NO_CA', error: 'certificate signing is not enabled on this control plane' };
    let proven: string | undefined;
    const ctx: CsrContext = { onProven: (id) => (proven = id), ...(conn.awaitingToken ? { expect: conn.awaitingToken.identity } : {}) };
    const answer = this.opts.onCsr ? this.opts.onCsr(msg, conn.socket, ctx).catch(() => refuse) : Promise.resolve(refuse);
    void answer.then((reply) => {
      if (conn.closed) return;
      const out = (reply ?? refuse) as { error?: unknown; code?: unknown; certificateChain?: unknown };
      if (typeof out.certificateChain === 'string') conn.noteCertificate(out.certificateChain, this.now());
      conn.socket.write(`${JSON.stringify(out)}\n`);
      const waiting = conn.awaitingToken;
      if (!waiting || conn.id) return;
      if (proven === waiting.identity) return this.activate(conn, waiting.hello, 'token');
      this.drop(conn, PUSH_ERRORS.unauthenticated, `the first CSR did not prove ${waiting.identity}: ${typeof out.code === 'string' ? out.code + ': ' : ''}${typeof out.error === 'string' ? out.error : 'no certificate issued'}`);
    });
  }

  private onHello(conn: Connection, hello: HelloMessage): void {
    const skew = protocolSkew(hello);
    if (skew) return this.drop(conn, PUSH_ERRORS.protocol, skew);
    conn.noteClock(hello.clockMs, this.now());
    conn.types = new Set(Array.isArray(hello.types) ? hello.types.filter((t) => RESOURCE_TYPES.includes(t)) : RESOURCE_TYPES);
    const problem = checkNode(hello.node) ?? (hello.workload ? checkWorkload(hello.workload) : undefined);
    if (problem) return this.drop(conn, PUSH_ERRORS.badHello, problem);
    const verdict = this.opts.authenticate?.(conn.socket, hello) ?? { kind: 'none' as const };
    switch (verdict.kind) {
      case 'refused':
        return this.drop(conn, PUSH_ERRORS.identity, verdict.reason);
      case 'certificate':
        return this.activate(conn, hello, 'certificate');
      case 'token': {
        // No certificate yet: nothing is sent and nothing registered until a CSR with a bootstrap token proves the identity.
        const timer = setTimeout(() => this.drop(conn, PUSH_ERRORS.unauthenticated, `no CSR with a bootstrap token for ${verdict.identity} within ${this.opts.helloTimeoutMs ?? 10_000} ms`), this.opts.helloTimeoutMs ?? 10_000);
        timer.unref();
        conn.awaitingToken = { hello, identity: verdict.identity, timer };
        return;
      }
      case 'none':
        if (this.opts.allowPlaintext) return this.activate(conn, hello, 'plaintext');
        return this.drop(conn, PUSH_ERRORS.unauthenticated, `proxy ${hello.node.id} presented no credential: connect to the TLS push port with a bootstrap token (\`bowline proxy --token-file\`), or start the control plane with --push-plaintext (loopback only)`);
    }
  }

  /** Binds the proxy id to a stream that proved its identity with `credential`, then serves it. */
  private activate(conn: Connection, hello: HelloMessage, credential: StreamCredential): void {
    if (conn.awaitingToken) clearTimeout(conn.awaitingToken.timer);
    conn.awaitingToken = undefined;
    const old = this.conns.get(hello.node.id);
    if (old && CREDENTIAL_STRENGTH[old.credential] > CREDENTIAL_STRENGTH[credential]) {
      return this.drop(conn, PUSH_ERRORS.weaker, `proxy ${hello.node.id} is connected with a ${old.credential} credential; a ${credential} stream cannot replace it`);
    }
    conn.id = hello.node.id;
    conn.credential = credential;
    conn.info = hello.workload ? { node: hello.node, workload: hello.workload, credential } : { node: hello.node, credential };
    if (old) this.drop(old, PUSH_ERRORS.replaced, 'a new stream with the same proxy id connected');
    this.conns.set(conn.id, conn);
    this.metrics.connects++;
    this.log('info', 'proxy connected', { proxy: conn.id, remote: conn.remote, credential });
    const w = hello.workload;
    const group = w?.workloadGroup;
    // One registration per proxy: a WorkloadEntry from its WorkloadGroup, or the universal one.
    const registering: Promise<Registration> | undefined = w && group && this.opts.autoRegister ? this.opts.autoRegister.register(conn.id, { ...w, workloadGroup: group })
      : w && this.opts.universal ? this.opts.universal.register(conn.id, w) : undefined;
    registering?.then((r) => {
      if (conn.leaving) return void this.removeRegistration(conn, r);
      if (conn.closed) return r.close();
      conn.registration = r;
      this.applyHealth(conn);
    }, (err) => {
      if (err instanceof AutoRegistrationError) this.drop(conn, PUSH_ERRORS.workloadGroup, err.message);
      else this.log('warn', 'workload registration failed', { proxy: conn.id, error: String(err) });
    });
    // After a reconnect the proxy says what it runs: unchanged types are not resent.
    for (const t of RESOURCE_TYPES) {
      const v = hello.versions?.[t];
      if (!v) continue;
      const set = this.cache.typeSet(t, conn.info);
      if (set.version === v) conn.acked.set(t, set);
    }
    this.push(conn);
  }

  private applyHealth(conn: Connection): void {
    const r = conn.registration;
    const h = conn.health;
    if (!r?.health || !h) return;
    r.health(h.healthy, h.message).catch((err) => this.log('warn', 'workload health not recorded', { proxy: conn.id, error: String(err) }));
  }

  private async removeRegistration(conn: Connection, r: Registration): Promise<void> {
    r.close();
    try {
      await r.remove?.();
    } catch (err) {
      this.log('warn', 'registration not removed on leave (it goes after the grace period)', { proxy: conn.id, error: String(err) });
    }
  }

  private onResponse(conn: Connection, kind: 'ack' | 'nack', nonce: string, error: string): void {
    const p = conn.pending;
    if (!p || p.nonce !== nonce) return; // stale response to an older push: ignored, as in xDS
    conn.pending = undefined;
    const now = this.now();
    if (kind === 'ack') {
      conn.acks++;
      this.metrics.acks++;
      for (const [t, set] of p.sets) {
        conn.acked.set(t, set);
        conn.nacked.delete(t);
      }
      conn.lastAckAt = now;
      conn.nackStreak = 0;
      conn.clearRetry();
      this.opts.onAck?.(conn.id, now);
      if (p.changedAt) {
        conn.lastConvergenceMs = now - p.changedAt;
        this.metrics.observeConvergence(conn.lastConvergenceMs);
      }
    } else {
      conn.nacks++;
      this.metrics.nacks++;
      for (const [t, set] of p.sets) {
        conn.nacked.set(t, { version: set.version, error, at: now });
        conn.checkedAt.delete(t); // the proxy still runs the older set: recompute next time
      }
      // The same versions are not resent on the next change elsewhere (the proxy would refuse them again,
      // in a loop): only a new version is pushed, or these once more after a backoff (a port briefly in use).
      const wait = Math.min(this.opts.nackRetryMaxMs ?? 60_000, (this.opts.nackRetryMs ?? 1000) * 2 ** Math.min(conn.nackStreak, 16));
      conn.nackStreak++;
      conn.clearRetry();
      conn.retryTimer = setTimeout(() => {
        conn.retryTimer = undefined;
        conn.retryNacked = true;
        this.push(conn);
      }, wait);
      conn.retryTimer.unref();
      this.log('warn', 'proxy rejected config (NACK); it keeps its last good config', { proxy: conn.id, nonce, error: error.slice(0, 500), retryInMs: wait });
    }
    if (conn.dirty) {
      conn.dirty = false;
      this.push(conn);
    }
  }

  private onSnapshot(snap: MeshSnapshot): void {
    const affected = this.cache.advance(snap);
    if (affected.size === 0) return; // e.g. only workload labels changed: nothing any proxy receives differs
    for (const conn of this.conns.values()) {
      if (!conn.unsentSince) conn.unsentSince = snap.changedAt;
      this.enqueue(conn);
    }
  }

  private enqueue(conn: Connection): void {
    if (this.queued.has(conn)) return;
    this.queued.add(conn);
    this.queue.push(conn);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    const batch = this.queue.splice(0, this.opts.batchSize ?? 64);
    for (const c of batch) {
      this.queued.delete(c);
      if (!c.closed) this.push(c);
    }
    if (this.queue.length) setImmediate(() => this.drain());
    else this.draining = false;
  }

  /** Sends the proxy whatever differs from what it runs (or marks it dirty if a push is in flight). */
  private push(conn: Connection): void {
    if (conn.closed || !conn.info) return;
    if (conn.pending) {
      conn.dirty = true;
      return;
    }
    const sets = new Map<ResourceType, TypeSet>();
    const parts: Array<string | Buffer> = [];
    const snapVersion = this.cache.snapshot().version;
    const retryNacked = conn.retryNacked;
    conn.retryNacked = false;
    // A NACK refuses a push as a whole: its unchanged types wait, but go out again with anything new
    // (or when a refused type is back to what the proxy runs), so the proxy never gets half of a combination.
    const deferred: Array<[ResourceType, TypeSet, TypeSet | undefined]> = [];
    let combinationChanged = false;
    const emit = (t: ResourceType, set: TypeSet, have: TypeSet | undefined) => {
      const d = this.cache.delta(have, set);
      sets.set(t, set);
      if (parts.length) parts.push(',');
      parts.push(`{"resourceType":"${t}","version":"${set.version}","full":${d.full},"removed":${JSON.stringify(d.removed)},"resources":[`);
      d.chunks.forEach((c, i) => {
        if (i) parts.push(',');
        parts.push(c);
      });
      parts.push(']}');
    };
    for (const t of RESOURCE_TYPES) {
      if (!conn.types.has(t)) continue; // a type the proxy does not understand is never sent
      const have = conn.acked.get(t);
      // Nothing that could change this type happened since the proxy's output was last computed.
      const checked = conn.checkedAt.get(t);
      if (have && checked !== undefined && !this.cache.needsCheck(t, conn.info, checked)) continue;
      conn.checkedAt.set(t, snapVersion);
      const t0 = performance.now();
      const set = this.cache.typeSet(t, conn.info);
      if (have && have.version === set.version) {
        if (conn.nacked.delete(t)) combinationChanged = true; // the proxy already runs what it should: an older NACK no longer matters
        continue;
      }
      // Refused before and unchanged since: wait for a new version (or the backoff retry).
      if (!retryNacked && conn.nacked.get(t)?.version === set.version) {
        deferred.push([t, set, have]);
        continue;
      }
      if (!have && set.parts.every((p) => p.items.size === 0) && (t === 'authorization' || t === 'names')) {
        // Nothing to say about an empty optional type on first contact: record it as in sync.
        conn.acked.set(t, set);
        continue;
      }
      emit(t, set, have);
      this.metrics.observePushDuration(t, (performance.now() - t0) / 1000);
    }
    if (sets.size > 0 || combinationChanged) for (const [t, set, have] of deferred) emit(t, set, have);
    const changedAt = conn.unsentSince;
    conn.unsentSince = 0;
    if (sets.size === 0) return;
    const nonce = randomBytes(6).toString('base64url');
    conn.pending = { nonce, sets, sentAt: this.now(), changedAt };
    conn.pushes++;
    this.metrics.pushes++;
    const sock = conn.socket;
    sock.cork();
    sock.write(`{"type":"push","nonce":"${nonce}","updates":[`);
    let bytes = 0;
    for (const p of parts) {
      bytes += p.length;
      sock.write(p);
    }
    sock.write(']}\n');
    sock.uncork();
    this.metrics.bytes += bytes;
    for (const t of sets.keys()) this.metrics.typePushes[t] = (this.metrics.typePushes[t] ?? 0) + 1;
  }

  private drop(conn: Connection, code: string, reason: string): void {
    if (conn.closed) return;
    this.log('warn', 'closing proxy stream', { proxy: conn.id || undefined, remote: conn.remote, code, reason });
    this.metrics.drops[code] = (this.metrics.drops[code] ?? 0) + 1;
    if (!conn.socket.destroyed) conn.socket.end(`${JSON.stringify({ type: 'error', code, message: reason })}\n`);
    setTimeout(() => conn.socket.destroy(), 1000).unref();
    this.onClose(conn);
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.clearRetry();
    if (conn.awaitingToken) clearTimeout(conn.awaitingToken.timer);
    this.all.delete(conn);
    conn.registration?.close();
    if (conn.id && this.conns.get(conn.id) === conn) {
      this.conns.delete(conn.id);
      this.cache.forget(conn.id);
      this.log('info', 'proxy disconnected', { proxy: conn.id });
    }
  }

  /** Every connected proxy's sync status, sorted by id. */
  status(): ProxyStatus[] {
    return [...this.conns.values()].map((c) => c.status(RESOURCE_TYPES)).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /**
   * `status()` with what is known of each proxy's workload certificate (`{rotations: 0}` when nothing):
   * /debug/syncz's entries, what the replicas and the dashboard list.
   */
  statusWithCertificates(): Array<ProxyStatus & { certificate: CertificateFacts }> {
    return [...this.conns.values()].map((c) => ({ ...c.status(RESOURCE_TYPES), certificate: c.certificateFacts() })).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** What is known of a connected proxy's workload certificate (the dashboard's Security page, `bowline explain`); undefined when no proxy `id` is connected. */
  identityOf(id: string): CertificateFacts | undefined {
    return this.conns.get(id)?.certificateFacts();
  }

  /** The full config the control plane would give a connected proxy now (config_dump). */
  configDump(id: string): ReturnType<typeof generateProxyConfig> | undefined {
    const c = this.conns.get(id);
    return c?.info ? generateProxyConfig(this.cache.snapshot(), c.info) : undefined;
  }

  /** Sends one message to every connected proxy (e.g. a new trust bundle after a root rotation step). */
  broadcast(msg: object): void {
    const line = `${JSON.stringify(msg)}\n`;
    for (const c of this.conns.values()) if (!c.closed && !c.socket.destroyed) c.socket.write(line);
  }

  /** Number of connected proxies. */
  get connected(): number {
    return this.conns.size;
  }

  /** Stops accepting, closes every stream (proxies keep their config and reconnect elsewhere). */
  async close(): Promise<void> {
    this.unsub();
    for (const c of [...this.all]) {
      c.socket.destroy();
      this.onClose(c);
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

function checkNode(n: NodeInfo | undefined): string | undefined {
  if (!n || typeof n !== 'object') return 'hello.node is required';
  if (typeof n.id !== 'string' || !n.id || n.id.length > 253) return 'hello.node.id must be a non-empty string (at most 253 characters)';
  if (n.role !== 'sidecar' && n.role !== 'gateway') return 'hello.node.role must be "sidecar" or "gateway"';
  for (const k of ['namespace', 'workload', 'serviceAccount'] as const) if (typeof n[k] !== 'string' || !n[k]) return `hello.node.${k} must be a non-empty string`;
  if (!n.labels || typeof n.labels !== 'object' || Object.values(n.labels).some((v) => typeof v !== 'string')) return 'hello.node.labels must map strings to strings';
  return undefined;
}

function checkWorkload(w: WorkloadAnnouncement): string | undefined {
  if (typeof w !== 'object' || w === null) return 'hello.workload must be an object';
  if (typeof w.name !== 'string' || typeof w.namespace !== 'string' || typeof w.address !== 'string') return 'hello.workload needs name, namespace and address strings';
  if (!Array.isArray(w.services)) return 'hello.workload.services must be a list';
  for (const [i, s] of w.services.entries()) {
    if (typeof s?.service !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s.service)) return `hello.workload.services[${i}].service must be a DNS label`;
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) return `hello.workload.services[${i}].port must be 1-65535`;
  }
  if (w.workloadGroup !== undefined && (typeof w.workloadGroup !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(w.workloadGroup))) return 'hello.workload.workloadGroup must be a resource name';
  return undefined;
}

/**
 * Why a hello's protocol cannot be served, naming both sides' protocol and Bowline versions, or
 * undefined. Protocols MIN_PUSH_PROTOCOL_VERSION..PUSH_PROTOCOL_VERSION are served (docs/push-protocol.md).
 */
export function protocolSkew(hello: Pick<HelloMessage, 'protocol' | 'proxyVersion'>): string | undefined {
  const p = hello.protocol;
  if (typeof p === 'number' && Number.isInteger(p) && p >= MIN_PUSH_PROTOCOL_VERSION && p <= PUSH_PROTOCOL_VERSION) return undefined;
  const proxy = `proxy (bowline ${typeof hello.proxyVersion === 'string' ? hello.proxyVersion : 'before 0.1 protocol 5'}) speaks push protocol ${String(p)}`;
  const cp = `this control plane (bowline ${bowlineVersion()}) serves protocols ${MIN_PUSH_PROTOCOL_VERSION}-${PUSH_PROTOCOL_VERSION}`;
  const fix = typeof p === 'number' && p > PUSH_PROTOCOL_VERSION ? 'upgrade the control plane first (control planes go first in an upgrade)' : 'upgrade the proxy to the control plane\'s version';
  return `${proxy}; ${cp}: ${fix}`;
}
