/**
 * Where a passthrough connection may go (Envoy's PassthroughCluster / original_dst cluster):
 * the host the client asked for (explicit HTTP_PROXY mode: the request's authority or the
 * CONNECT target) or the original destination of a captured connection, resolved by DNS.
 * Never a port this proxy itself listens on on a local address (admin, metrics, its own
 * listeners, its push client), which would let an app reach the proxy's controls through it
 * or loop a connection back into the proxy; gateways never pass through.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** What the guard knows about the proxy it protects. */
export interface OwnFacts {
  role: 'sidecar' | 'gateway';
  /** Local ports this proxy listens on or owns (admin, metrics, listeners, push client). */
  ports: Set<number>;
  /** This proxy's resolved names and own-address list (one per proxy: two proxies in a process share nothing). */
  readonly cache: PassthroughCache;
}

/** Resolves a host name to one address (node:dns/promises `lookup` by default). */
export type ResolveName = (host: string) => Promise<string>;

/** node:dns (c-ares and its modules) loads with the first name to resolve: a proxy that never passes a name through does not hold it. */
const dnsLookup: ResolveName = async (host) => {
  const { lookup } = await import('node:dns/promises');
  return (await lookup(host)).address;
};

/**
 * One proxy's passthrough caches: names resolved (5 s each, at most 1000 names, then all dropped)
 * and this host's own addresses (re-read at most every 5 s), both on the proxy's clock.
 */
export class PassthroughCache {
  /** Host name -> address and when the answer expires (clock ms). */
  readonly names = new Map<string, { address: string; until: number }>();
  private local: { at: number; set: Set<string> } | undefined;

  constructor(readonly now: () => number = Date.now, readonly resolve: ResolveName = dnsLookup) {}

  /** This host's own addresses (refreshed at most every 5 s). */
  localAddresses(): Set<string> {
    const now = this.now();
    if (this.local !== undefined && now - this.local.at < 5000) return this.local.set;
    const set = new Set<string>(['0.0.0.0', '::']);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) set.add(a.address);
    this.local = { at: now, set };
    return set;
  }
}

/** A destination a passthrough may use, or why it may not. */
export type PassthroughTarget = { address: string; port: number } | { refused: string };

/** Cluster names with Istio's meaning, used in telemetry (`destination_service_name`). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
/** The cluster REGISTRY_ONLY sends unknown destinations to (nothing answers). */
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

/** True for an address of this host (loopback range, unspecified, or an interface's address, as `cache` last read them). */
export function isLocalAddress(address: string, cache: PassthroughCache): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (a.startsWith('127.') || a === '::1') return true;
  return cache.localAddresses().has(a);
}

/** Splits `host[:port]` (IPv6 in brackets) with a default port. */
export function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  let host = authority;
  let port = defaultPort;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority) ?? /^([^:]+)(?::(\d+))?$/.exec(authority);
  if (m === null) return undefined;
  host = m[1]!;
  if (m[2] !== undefined) port = Number(m[2]);
  if (host === '' || !(port > 0 && port < 65536)) return undefined;
  return { host, port };
}

/** Resolves `host` (cached 5 s in `own.cache`, at most 1000 names) and checks the result against `own`. */
export async function passthroughTarget(own: OwnFacts, host: string, port: number): Promise<PassthroughTarget> {
  if (own.role === 'gateway') return { refused: 'gateways never pass traffic through to destinations outside the mesh' };
  let address = isIP(host) !== 0 ? host : undefined;
  if (address === undefined) {
    const cache = own.cache;
    const c = cache.names.get(host);
    if (c !== undefined && c.until > cache.now()) address = c.address;
    else {
      try {
        address = await cache.resolve(host);
      } catch (err) {
        return { refused: `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      }
      if (cache.names.size >= 1000) cache.names.clear();
      cache.names.set(host, { address, until: cache.now() + 5000 });
    }
  }
  if (own.ports.has(port) && isLocalAddress(address, own.cache)) return { refused: `${host}:${port} is this proxy's own port` };
  return { address, port };
}
