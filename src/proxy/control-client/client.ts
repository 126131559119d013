/**
 * The proxy's end of the push stream: connects to the control plane, announces its workload,
 * applies each push atomically through `apply` (proxy-core's applyConfig), ACKs or NACKs, keeps
 * its last good config while disconnected, and reconnects with exponential backoff and jitter.
 * Imports only proxy-config (the wire types), as the proxy must.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { NodeInfo, ProxyConfig, ResourceType } from '../../proxy-config/types.js';
import type { StatsMessage } from '../../proxy-config/stats.js';
import { bowlineVersion } from '../../proxy-config/version.js';
import { tryParseHostPort } from '../../proxy-config/host-port.js';
import { assembleConfig, CLOCK_PING_INTERVAL_MS, decodeMessage, LineFramer, PUSH_PROTOCOL_VERSION, RESOURCE_TYPES, type CertificateMessage, type HealthMessage, type LeaveMessage, type PushMessage, type WorkloadAnnouncement } from '../../proxy-config/wire.js';

/** Options of the control client. */
export interface ControlClientOptions {
  /** Control plane push address: `host:port`, `tcp://host:port` or `http://host:port`. */
  server: string;
  node: NodeInfo;
  workload?: WorkloadAnnouncement;
  /** Applies a whole config atomically; rejects with the reason when the config is refused. */
  apply(cfg: ProxyConfig): Promise<void>;
  /** First reconnect delay (default 250 ms), doubled per failure up to `maxBackoffMs` (default 10 s), with jitter. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  random?: () => number;
  /** Opens the stream (the TLS seam: issue 6 swaps in a tls.connect with the workload certificate). */
  connect?: (host: string, port: number) => Socket;
  log?: (line: string) => void;
  /** A new trust bundle sent by the control plane on its own (a root rotation step): PEM roots. */
  onTrustBundle?: (rootsPem: string) => void;
  /** Observes stream events (tests, the proxy's admin page). */
  onEvent?: (ev: ControlClientEvent) => void;
  /** The wall clock sent on the hello and every CLOCK_PING_INTERVAL_MS in a ping (default Date.now). */
  clock?: () => number;
  /** Interval of those pings (default CLOCK_PING_INTERVAL_MS). */
  clockPingIntervalMs?: number;
}

/** What happened on the stream. */
export type ControlClientEvent =
  | { type: 'connected' }
  | { type: 'applied'; nonce: string; versions: Partial<Record<ResourceType, string>> }
  | { type: 'rejected'; nonce: string; error: string }
  | { type: 'disconnected'; reason: string; retryInMs: number };

/** Parses the `--server` value into host and port. */
export function parseServerAddress(s: string): { host: string; port: number } {
  const hp = tryParseHostPort(s.trim().replace(/^[a-z]+:\/\//, '').replace(/\/$/, ''));
  if (!hp?.host) throw new Error(`control plane address "${s}" must be HOST:PORT (e.g. 127.0.0.1:15010)`);
  return hp;
}

/** The client; `start()` connects and keeps reconnecting until `stop()`. */
export class ControlClient {
  /** Last good resources per type (what the proxy runs). */
  private state = new Map<ResourceType, Map<string, unknown>>();
  private versions: Partial<Record<ResourceType, string>> = {};
  private socket?: Socket;
  private stopped = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private queue: Promise<void> = Promise.resolve();
  private readonly addr: { host: string; port: number };
  private readonly csrWaiters = new Map<string, { resolve: (m: CertificateMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private csrSeq = 0;
  /** The stream the control plane serves (its first push arrived): only then may health and leave be sent. */
  private served?: Socket;
  private health?: HealthMessage;
  /** True while a stream is open and the hello was sent. */
  connected = false;
  /** When the last push was applied (ms since epoch). */
  lastAppliedAt?: number;
  lastError?: string;

  constructor(private readonly opts: ControlClientOptions) {
    this.addr = parseServerAddress(opts.server);
  }

  /** Connects (and reconnects on loss) until stopped. */
  start(): void {
    this.stopped = false;
    this.open();
  }

  /**
   * Stops for good (SIGTERM, `bowline leave`): tells the control plane with `leave` on a stream it
   * serves, so an auto-registered WorkloadEntry goes at once, then closes; resolves when closed (at most `timeoutMs`).
   */
  leave(timeoutMs = 2000): Promise<void> {
    const sock = this.socket;
    if (!sock || sock.destroyed || this.served !== sock) {
      this.stop();
      return Promise.resolve();
    }
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    return new Promise((resolve) => {
      const t = setTimeout(() => { sock.destroy(); resolve(); }, timeoutMs);
      t.unref?.();
      sock.once('close', () => { clearTimeout(t); resolve(); });
      sock.end(JSON.stringify({ type: 'leave' } satisfies LeaveMessage) + '\n');
    });
  }

  /** The workload's health from its probe: sent now when the stream is served, and again on every new stream (protocol 8). */
  reportHealth(healthy: boolean, message?: string): void {
    this.health = { type: 'health', healthy, ...(message ? { message: message.slice(0, 1000) } : {}) };
    const sock = this.socket;
    if (sock && !sock.destroyed && this.served === sock) sock.write(JSON.stringify(this.health) + '\n');
  }

  /** Closes the stream and stops reconnecting; the proxy keeps running its config. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
  }

  /**
   * Sends a CSR over the stream (after the hello) and resolves with the control plane's
   * `certificate` reply (which carries `error` when refused). `token` is the bootstrap token on
   * first contact. Rejects when not connected or after `timeoutMs`.
   */
  requestCertificate(csr: string, opts: { token?: string; timeoutMs?: number } = {}): Promise<CertificateMessage> {
    const sock = this.socket;
    if (!sock || !this.connected) return Promise.reject(new Error('not connected to the control plane'));
    const requestId = `csr-${++this.csrSeq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.csrWaiters.delete(requestId);
        reject(new Error(`no certificate for ${requestId} within ${opts.timeoutMs ?? 10_000} ms`));
      }, opts.timeoutMs ?? 10_000);
      this.csrWaiters.set(requestId, { resolve, reject, timer });
      sock.write(JSON.stringify({ type: 'csr', requestId, csr, ...(opts.token ? { token: opts.token } : {}) }) + '\n');
    });
  }

  /** Sends a stats report (docs/push-protocol.md); false when not connected (the caller keeps the counts for the next report). */
  sendStats(msg: StatsMessage): boolean {
    const sock = this.socket;
    if (!sock || !this.connected || sock.destroyed) return false;
    sock.write(JSON.stringify(msg) + '\n');
    return true;
  }

  /** The local port of the open stream (the proxy's push client), undefined when not connected. */
  get localPort(): number | undefined {
    return this.socket?.localPort;
  }

  /** Versions of the config the proxy runs, per type. */
  runningVersions(): Partial<Record<ResourceType, string>> {
    return { ...this.versions };
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => process.stderr.write(`bowline proxy: ${l}\n`)))(line);
  }

  private open(): void {
    if (this.stopped) return;
    const sock = (this.opts.connect ?? ((h, p) => netConnect({ host: h, port: p })))(this.addr.host, this.addr.port);
    this.socket = sock;
    let reason = 'connection closed';
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 10_000);
    const framer = new LineFramer((line) => this.onLine(sock, line, (r) => (reason = r)), (r) => {
      reason = `bad frame from control plane: ${r}`;
      sock.destroy();
    });
    sock.on('connect', () => {
      this.connected = true;
      const clock = this.opts.clock ?? Date.now;
      const hello = { type: 'hello', protocol: PUSH_PROTOCOL_VERSION, proxyVersion: bowlineVersion(), types: RESOURCE_TYPES, node: this.opts.node, workload: this.opts.workload, versions: this.versions, clockMs: clock() };
      sock.write(JSON.stringify(hello) + '\n');
      // The proxy's clock, again now and then: the control plane judges certificates by it (`bowline explain`), and a
      // host's clock can be stepped while the stream stays up. Also a keepalive; the control plane answers pong.
      const pings = setInterval(() => {
        if (!sock.destroyed) sock.write(`{"type":"ping","clockMs":${clock()}}\n`);
      }, this.opts.clockPingIntervalMs ?? CLOCK_PING_INTERVAL_MS);
      pings.unref();
      sock.once('close', () => clearInterval(pings));
      this.opts.onEvent?.({ type: 'connected' });
      this.log(`connected to control plane ${this.opts.server}`);
    });
    sock.on('data', (d) => framer.push(d));
    sock.on('error', (err) => (reason = err.message));
    sock.on('close', () => {
      // A socket that stop() left behind closes after start() opened the next one: it must neither
      // mark the new stream disconnected nor schedule another connection (two streams, one replacing the other).
      if (this.socket !== sock) return;
      this.socket = undefined;
      this.connected = false;
      for (const [id, w] of this.csrWaiters) {
        clearTimeout(w.timer);
        w.reject(new Error('control plane stream closed before the certificate arrived'));
        this.csrWaiters.delete(id);
      }
      if (this.stopped) return;
      const base = Math.min(this.opts.maxBackoffMs ?? 10_000, (this.opts.initialBackoffMs ?? 250) * 2 ** Math.min(this.failures, 16));
      const wait = Math.round(base * (0.5 + 0.5 * (this.opts.random ?? Math.random)()));
      this.failures++;
      this.lastError = reason;
      this.log(`control plane stream lost (${reason}); keeping the last good config; retrying in ${wait} ms`);
      this.opts.onEvent?.({ type: 'disconnected', reason, retryInMs: wait });
      this.timer = setTimeout(() => this.open(), wait);
      this.timer.unref?.();
    });
  }

  private onLine(sock: Socket, line: string, setReason: (r: string) => void): void {
    const d = decodeMessage(line);
    if (!d.ok) {
      setReason(`bad message from control plane: ${d.error}`);
      sock.destroy();
      return;
    }
    const msg = d.msg;
    if (msg.type === 'push') {
      const push = msg as unknown as PushMessage;
      if (this.served !== sock) {
        this.served = sock;
        if (this.health) sock.write(JSON.stringify(this.health) + '\n');
      }
      this.queue = this.queue.then(() => this.onPush(sock, push));
    } else if (msg.type === 'error') {
      setReason(`control plane closed the stream: ${String(msg.code)} ${String(msg.message)}`);
    } else if (msg.type === 'certificate') {
      const w = this.csrWaiters.get(String(msg.requestId));
      if (w) {
        this.csrWaiters.delete(String(msg.requestId));
        clearTimeout(w.timer);
        w.resolve(msg as unknown as CertificateMessage);
      } else if (typeof msg.rootCerts === 'string' && msg.rootCerts) this.opts.onTrustBundle?.(msg.rootCerts);
    } else if (msg.type === 'ping') sock.write('{"type":"pong"}\n');
  }

  private async onPush(sock: Socket, push: PushMessage): Promise<void> {
    const next = new Map(this.state);
    const versions = { ...this.versions };
    try {
      for (const u of push.updates) {
        if (!RESOURCE_TYPES.includes(u.resourceType)) throw new Error(`unknown resource type "${u.resourceType}"`);
        const m = u.full ? new Map<string, unknown>() : new Map(next.get(u.resourceType) ?? []);
        for (const name of u.removed ?? []) m.delete(name);
        for (const r of u.resources) m.set(r.name, r.body);
        next.set(u.resourceType, m);
        versions[u.resourceType] = u.version;
      }
    } catch (err) {
      return this.respond(sock, push.nonce, (err as Error).message);
    }
    const label = RESOURCE_TYPES.map((t) => (versions[t] ?? '-').slice(0, 6)).join('.');
    const cfg = assembleConfig(this.opts.node, next, label);
    try {
      await this.opts.apply(cfg);
    } catch (err) {
      return this.respond(sock, push.nonce, (err as Error).message || String(err));
    }
    this.state = next;
    this.versions = versions;
    this.failures = 0;
    this.lastAppliedAt = Date.now();
    this.respond(sock, push.nonce);
    this.opts.onEvent?.({ type: 'applied', nonce: push.nonce, versions });
  }

  private respond(sock: Socket, nonce: string, error?: string): void {
    if (error !== undefined) {
      this.lastError = error;
      this.log(`config from control plane refused, running config kept: ${error.split('\n')[0]}`);
      this.opts.onEvent?.({ type: 'rejected', nonce, error });
    }
    if (sock.destroyed) return;
    sock.write(JSON.stringify(error === undefined ? { type: 'ack', nonce, versions: this.versions } : { type: 'nack', nonce, error: error.slice(0, 4000), versions: this.versions }) + '\n');
  }
}
