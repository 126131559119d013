/** One proxy's stream as the push server tracks it: identity, what it runs, what is in flight, its status. */
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Registration } from '../../registry/universal/universal.js';
import type { ResourceType } from '../../proxy-config/types.js';
import type { TypeSet } from '../cache.js';
import type { ProxyInfo } from '../generators/index.js';
import type { HelloMessage } from '../../proxy-config/wire.js';
import type { StreamCredential } from './credential.js';

/** Sync state of one resource type of one proxy, as `bowline proxy-status` shows it. */
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT_SENT';

/** One proxy's status (proxy-status, /debug/syncz). */
export interface ProxyStatus {
  id: string;
  role: string;
  namespace: string;
  workload: string;
  address: string;
  connectedAt: number;
  /** Per type: state, version the proxy runs, last NACK error. */
  types: Partial<Record<ResourceType, { state: SyncState; version?: string; sentVersion?: string; error?: string }>>;
  lastAckAt?: number;
  /** Milliseconds from the last change the proxy received to its ACK. */
  lastConvergenceMs?: number;
  /**
   * The proxy's wall clock minus the control plane's (ms; positive: the proxy's is ahead), from the clock its
   * hello or last ping carried (protocol 13; absent from an older proxy). A one-way transit time of the
   * stream is in it, so only seconds mean anything.
   */
  clockSkewMs?: number;
  pushes: number;
  acks: number;
  nacks: number;
}

/** A proxy's workload certificate as the control plane last saw it (issued over the stream, or presented on the TLS stream). */
export interface CertificateFacts {
  spiffeId?: string;
  notBefore?: string;
  notAfter?: string;
  /** When the control plane last issued one to this stream (epoch ms). */
  issuedAt?: number;
  /** Certificates issued over this stream (1 = the first, more = rotations). */
  rotations: number;
}

/** The push in flight to a proxy (at most one). */
export interface PendingPush {
  nonce: string;
  sets: Map<ResourceType, TypeSet>;
  sentAt: number;
  /** When the oldest change this push carries was seen (0: none tracked). */
  changedAt: number;
}

/** Server-side state of one stream. */
export class Connection {
  id = '';
  private cert: CertificateFacts = { rotations: 0 };

  /** Records a certificate chain issued to this proxy (leaf first). */
  noteCertificate(chainPem: string, at: number): void {
    try {
      const leaf = new X509Certificate(chainPem);
      const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1];
      this.cert = { ...(uri ? { spiffeId: uri } : {}), notBefore: new Date(leaf.validFrom).toISOString(), notAfter: new Date(leaf.validTo).toISOString(), issuedAt: at, rotations: this.cert.rotations + 1 };
    } catch {}
  }

  /** The certificate facts: the one issued over this stream, else the one the TLS stream's client presented. */
  certificateFacts(): CertificateFacts {
    if (this.cert.notAfter) return this.cert;
    const peer = (this.socket as Partial<TLSSocket>).getPeerX509Certificate?.();
    if (!peer) return this.cert;
    const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(peer.subjectAltName ?? '')?.[1];
    return { ...(uri ? { spiffeId: uri } : {}), notBefore: new Date(peer.validFrom).toISOString(), notAfter: new Date(peer.validTo).toISOString(), rotations: 0 };
  }
  info?: ProxyInfo;
  /** How the stream proved its identity (set with `id`). */
  credential: StreamCredential = 'plaintext';
  /** A hello without a certificate, waiting for a CSR with a bootstrap token to prove `identity`. */
  awaitingToken?: { hello: HelloMessage; identity: string; timer: NodeJS.Timeout };
  /** What the proxy runs (its last ACKed sets). */
  /** The resource types the proxy said it understands (all of them for a hello without `types`). */
  types: ReadonlySet<ResourceType> = new Set();
  readonly acked = new Map<ResourceType, TypeSet>();
  pending?: PendingPush;
  /** A change arrived while a push was in flight: push again after the ACK. */
  dirty = false;
  /** When the oldest change not yet sent was seen (0: none). */
  unsentSince = 0;
  readonly nacked = new Map<ResourceType, { version: string; error: string; at: number }>();
  /** Per type, the snapshot version at which this proxy's output was last computed and found sent or in sync. */
  readonly checkedAt = new Map<ResourceType, number>();
  /** NACKs in a row since the last ACK (sets the backoff before a NACKed version is retried). */
  nackStreak = 0;
  /** Pending retry of the NACKed versions. */
  retryTimer?: NodeJS.Timeout;
  /** The next push may resend NACKed, unchanged versions (the backoff elapsed). */
  retryNacked = false;
  registration?: Registration;
  /** The last `health` the proxy sent (applied to the registration once it exists). */
  health?: { healthy: boolean; message?: string };
  /** The proxy said `leave`: its registration is removed, not left to the grace period. */
  leaving = false;
  connectedAt: number;
  lastAckAt?: number;
  lastConvergenceMs?: number;
  clockSkewMs?: number;
  pushes = 0;
  acks = 0;
  nacks = 0;
  closed = false;

  constructor(readonly socket: Socket, now: number, readonly remote: string) {
    this.connectedAt = now;
  }

  /** Notes the proxy's wall clock a hello or ping carried (`clockMs`), received at the control plane's `now`; anything but a time is ignored. */
  noteClock(clockMs: unknown, now: number): void {
    if (typeof clockMs === 'number' && Number.isFinite(clockMs) && clockMs > 0) this.clockSkewMs = Math.round(clockMs - now);
  }

  /** Cancels a pending retry of NACKed versions. */
  clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** This proxy's status for debugging. */
  status(types: readonly ResourceType[]): ProxyStatus {
    const out: ProxyStatus = {
      id: this.id,
      role: this.info?.node.role ?? '',
      namespace: this.info?.node.namespace ?? '',
      workload: this.info?.node.workload ?? '',
      address: this.info?.workload?.address ?? this.remote,
      connectedAt: this.connectedAt,
      types: {},
      pushes: this.pushes,
      acks: this.acks,
      nacks: this.nacks,
    };
    if (this.lastAckAt !== undefined) out.lastAckAt = this.lastAckAt;
    if (this.lastConvergenceMs !== undefined) out.lastConvergenceMs = this.lastConvergenceMs;
    if (this.clockSkewMs !== undefined) out.clockSkewMs = this.clockSkewMs;
    for (const t of types) {
      const acked = this.acked.get(t)?.version;
      const sent = this.pending?.sets.get(t)?.version;
      const nack = this.nacked.get(t);
      let state: SyncState = acked ? 'SYNCED' : 'NOT_SENT';
      if (sent || (this.dirty && acked)) state = 'STALE';
      if (nack && !sent) state = 'NACKED';
      const e: { state: SyncState; version?: string; sentVersion?: string; error?: string } = { state };
      if (acked) e.version = acked;
      if (sent) e.sentVersion = sent;
      if (nack && state === 'NACKED') e.error = nack.error;
      out.types[t] = e;
    }
    return out;
  }
}
