/**
 * Virtual IPs for services that have none (Istio's DNS auto-allocation): every service without
 * `addresses`, except wildcard hosts and pass-through (resolution NONE) ServiceEntries, gets one
 * address from a CIDR (default 240.240.0.0/16, Istio's reserved class E range). The DNS proxy
 * answers the service's names with it, and a captured connection to it is routed to the service.
 *
 * Allocations are kept in the store (raw keys `vips/HOST` -> address), so a service keeps its
 * address across control-plane restarts and its proxies' reconnects, and every replica agrees:
 * a new allocation is written create-only; when another replica won the race, its address is
 * adopted. The first candidate is a hash of the host (so two fresh control planes agree too),
 * then the next free address. An allocation is kept when its service goes away (a registration
 * that lapses during a restart comes back with the same address); only when the range is full
 * are addresses of services gone longest reused.
 */
import { createHash } from 'node:crypto';
import type { Service } from '../model/service.js';
import { isStoreError, type Store, type Watch } from '../store/store.js';

/** The default range: Istio's auto-allocation range. */
export const DEFAULT_VIP_CIDR = '240.240.0.0/16';
/** Raw key prefix of the allocations. */
export const VIP_PREFIX = 'vips/';

/** True when the control plane allocates a virtual IP for the service. */
export function needsVip(svc: Service): boolean {
  return !(svc.addresses?.length) && svc.resolution !== 'NONE' && !svc.hostname.startsWith('*');
}

/** Parses an IPv4 CIDR into its first usable address and count (network and broadcast addresses excluded); throws on bad input. */
export function parseVipCidr(cidr: string): { base: number; size: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const bits = m ? Number(m[5]) : -1;
  if (!m || octets.some((o) => o > 255) || bits < 8 || bits > 30) throw new Error(`VIP range "${cidr}" must be an IPv4 CIDR between /8 and /30 (e.g. ${DEFAULT_VIP_CIDR})`);
  const net = (((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) & (0xffffffff << (32 - bits))) >>> 0;
  return { base: net + 1, size: 2 ** (32 - bits) - 2 };
}

const toIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** Options of a VipAllocator. */
export interface VipAllocatorOptions {
  store: Store;
  /** The range (default 240.240.0.0/16). */
  cidr?: string;
  /** Told when another replica's allocation arrives (the snapshot should be rebuilt). */
  onChange?: () => void;
  log?: (line: string) => void;
}

/** Allocates and remembers services' virtual IPs. */
export class VipAllocator {
  private readonly byHost = new Map<string, string>();
  private readonly hostByIp = new Map<string, string>();
  /** Hosts seen in the last `assign`, and when each host was last seen (for reuse when the range is full). */
  private readonly lastSeen = new Map<string, number>();
  private readonly range: { base: number; size: number };
  private watch?: Watch;
  private seq = 0;

  constructor(private readonly opts: VipAllocatorOptions) {
    this.range = parseVipCidr(opts.cidr ?? DEFAULT_VIP_CIDR);
  }

  /** Loads the stored allocations and follows other replicas' ones. */
  async start(): Promise<void> {
    const { entries, revision } = await this.opts.store.listRaw(VIP_PREFIX);
    for (const e of entries) this.remember(e.key.slice(VIP_PREFIX.length), e.value);
    this.watch = this.opts.store.watchRaw(VIP_PREFIX, (ev) => {
      const host = ev.object.key.slice(VIP_PREFIX.length);
      if (ev.type === 'DELETED') this.forget(host);
      else if (this.byHost.get(host) !== ev.object.value) {
        this.forget(host);
        this.remember(host, ev.object.value);
        this.opts.onChange?.();
      }
    }, { fromRevision: revision });
  }

  /** Stops following the store. */
  stop(): void {
    this.watch?.close();
  }

  /** The allocation of every host so far (debugging, tests). */
  allocations(): ReadonlyMap<string, string> {
    return this.byHost;
  }

  /** Returns the services with `vip` set where one is needed (new allocations are written to the store in the background). */
  assign(services: readonly Service[]): Service[] {
    const now = ++this.seq;
    for (const s of services) if (needsVip(s)) this.lastSeen.set(s.hostname, now);
    return services.map((s) => {
      if (!needsVip(s)) return s;
      const vip = this.byHost.get(s.hostname) ?? this.allocate(s.hostname, now);
      return vip === undefined ? s : { ...s, vip };
    });
  }

  private allocate(host: string, now: number): string | undefined {
    const { base, size } = this.range;
    const start = createHash('sha256').update(host).digest().readUInt32BE(0) % size;
    let ip: string | undefined;
    for (let i = 0; i < size && ip === undefined; i++) {
      const candidate = toIp(base + ((start + i) % size));
      if (!this.hostByIp.has(candidate)) ip = candidate;
    }
    if (ip === undefined) {
      // Full: reuse the address of the service gone longest (never one in use now).
      const gone = [...this.byHost.keys()].filter((h) => (this.lastSeen.get(h) ?? 0) < now).sort((a, b) => (this.lastSeen.get(a) ?? 0) - (this.lastSeen.get(b) ?? 0))[0];
      if (gone === undefined) {
        this.opts.log?.(`vips: the range ${this.opts.cidr ?? DEFAULT_VIP_CIDR} is full; ${host} gets no virtual IP (its names are not answered by the DNS proxy)`);
        return undefined;
      }
      ip = this.byHost.get(gone)!;
      this.forget(gone);
      void this.opts.store.deleteRaw(VIP_PREFIX + gone).catch(() => {});
    }
    this.remember(host, ip);
    this.persist(host, ip);
    return ip;
  }

  private persist(host: string, ip: string): void {
    this.opts.store.putRaw(VIP_PREFIX + host, ip, { expectedModRevision: 0 }).catch(async (err: unknown) => {
      if (!isStoreError(err, 'Conflict')) {
        this.opts.log?.(`vips: allocation ${host} -> ${ip} not stored (${(err as Error).message}); it holds until this control plane restarts`);
        return;
      }
      // Another replica allocated first: adopt its address.
      const theirs = await this.opts.store.getRaw(VIP_PREFIX + host).catch(() => undefined);
      if (theirs && theirs.value !== this.byHost.get(host)) {
        this.forget(host);
        this.remember(host, theirs.value);
        this.opts.onChange?.();
      }
    });
  }

  private remember(host: string, ip: string): void {
    this.byHost.set(host, ip);
    this.hostByIp.set(ip, host);
  }

  private forget(host: string): void {
    const ip = this.byHost.get(host);
    if (ip !== undefined && this.hostByIp.get(ip) === host) this.hostByIp.delete(ip);
    this.byHost.delete(host);
  }
}
