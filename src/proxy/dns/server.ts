/**
 * The sidecar's DNS proxy (Istio's DNS capture, port 15053): UDP and TCP on one port. A/AAAA
 * queries for the mesh's names are answered from the pushed name table (authoritative, TTL 30 s);
 * other query types for a mesh name get an empty answer (NOERROR, no records), never a forwarded
 * NXDOMAIN that would hide the name; everything else is relayed to the host's resolvers, and
 * SERVFAIL when none answers. With capture (`bowline capture install --dns`) the app's DNS to
 * port 53 is redirected here; the proxy's own queries to the resolvers are exempt by its uid.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { NameTable } from './table.js';
import { forward, resolvConfUpstreams, type Upstream } from './upstream.js';

/** Default port of the DNS proxy (Istio's). */
export const DEFAULT_DNS_PORT = 15053;
/** TTL of the answers for mesh names (seconds). */
const TTL = 30;
const QR = 0x8000;
const FORMERR = 1;
const SERVFAIL = 2;

/** Options of the DNS proxy. */
export interface DnsProxyOptions {
  /** Port for UDP and TCP (default 15053; 0: one free for both). */
  port?: number;
  /** Bind address (default 127.0.0.1: where iptables REDIRECT sends a host's own DNS). */
  address?: string;
  /** The current name table (read per query, so a push takes effect at once). */
  table(): NameTable;
  /** Resolvers for other names (default: /etc/resolv.conf's). */
  upstreams?: Upstream[];
  /** How long one resolver gets to answer (default 2000 ms). */
  forwardTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Counters of a DNS proxy. */
export interface DnsStats {
  /** Queries answered from the name table. */
  answered: number;
  /** Queries relayed to the host's resolvers (and answered by one). */
  forwarded: number;
  /** Queries no resolver answered (SERVFAIL) or that could not be parsed (FORMERR). */
  failed: number;
}

/** A running DNS proxy. */
export interface DnsProxy {
  readonly port: number;
  readonly address: string;
  readonly stats: DnsStats;
  readonly upstreams: readonly Upstream[];
  close(): Promise<void>;
}

/** A reply with only a header: the query's id and `rcode`. */
function errorReply(query: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(query.readUInt16BE(0), 0);
  out.writeUInt16BE(QR | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  return out;
}

/** Answers one query: from the table, by forwarding, or with an error; undefined means drop (not a query). */
export async function answerQuery(query: Buffer, transport: 'udp' | 'tcp', o: Pick<DnsProxyOptions, 'table' | 'forwardTimeoutMs'> & { upstreams: readonly Upstream[]; stats: DnsStats }): Promise<Buffer | undefined> {
  if (query.length < 12 || (query.readUInt16BE(2) & QR) !== 0) return undefined;
  let packet: dnsPacket.Packet;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    o.stats.failed++;
    return errorReply(query, FORMERR);
  }
  const q = packet.questions?.[0];
  const hit = q && packet.questions!.length === 1 && ((query.readUInt16BE(2) >> 11) & 0xf) === 0 && (q.class ?? 'IN') === 'IN' ? o.table().lookup(q.name) : undefined;
  if (q && hit) {
    o.stats.answered++;
    const answers: dnsPacket.Answer[] = q.type === 'A' ? hit.v4.map((data) => ({ type: 'A', name: q.name, class: 'IN', ttl: TTL, data }))
      : q.type === 'AAAA' ? hit.v6.map((data) => ({ type: 'AAAA', name: q.name, class: 'IN', ttl: TTL, data })) : [];
    const rd = (packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    return dnsPacket.encode({ id: packet.id ?? 0, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | rd, questions: [q], answers });
  }
  const reply = await forward(o.upstreams, query, transport, o.forwardTimeoutMs);
  if (reply) o.stats.forwarded++;
  else o.stats.failed++;
  return reply ?? errorReply(query, SERVFAIL);
}

function bindUdp(port: number, address: string): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(port, address, () => { s.off('error', reject); resolve(s); });
  });
}

function listenTcp(server: Server, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => { server.off('error', reject); resolve(); });
  });
}

/** Serves DNS over TCP on one connection: length-prefixed queries, answered in order. */
function serveTcp(sock: Socket, handle: (q: Buffer) => Promise<Buffer | undefined>): void {
  let buf = Buffer.alloc(0);
  let chain: Promise<void> = Promise.resolve();
  sock.setTimeout(30_000, () => sock.destroy());
  sock.on('error', () => sock.destroy());
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = buf.subarray(2 + q.length);
      chain = chain.then(async () => {
        const r = await handle(Buffer.from(q));
        if (!r || sock.destroyed) return;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(r.length);
        sock.write(Buffer.concat([len, r]));
      });
    }
  });
}

/** Starts the DNS proxy on UDP and TCP. */
export async function startDnsProxy(opts: DnsProxyOptions): Promise<DnsProxy> {
  const address = opts.address ?? '127.0.0.1';
  const upstreams = opts.upstreams ?? resolvConfUpstreams();
  const stats: DnsStats = { answered: 0, forwarded: 0, failed: 0 };
  const ctx = { table: opts.table, upstreams, stats, ...(opts.forwardTimeoutMs !== undefined ? { forwardTimeoutMs: opts.forwardTimeoutMs } : {}) };
  const open = new Set<Socket>();
  const tcp = createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    serveTcp(sock, (q) => answerQuery(q, 'tcp', ctx));
  });
  let udp: UdpSocket | undefined;
  // Port 0: the kernel picks the UDP port; TCP takes the same number (another try if it is taken for TCP).
  for (let attempt = 0; ; attempt++) {
    const u = await bindUdp(opts.port ?? DEFAULT_DNS_PORT, address);
    try {
      await listenTcp(tcp, u.address().port, address);
      udp = u;
      break;
    } catch (err) {
      u.close();
      if ((opts.port ?? DEFAULT_DNS_PORT) !== 0 || attempt >= 10) throw err;
    }
  }
  const sock = udp;
  sock.on('message', (msg, rinfo) => {
    answerQuery(msg, 'udp', ctx).then((r) => { if (r) sock.send(r, rinfo.port, rinfo.address); }, (err: Error) => opts.log?.(`dns: ${err.message}`));
  });
  sock.on('error', (err) => opts.log?.(`dns: udp socket error: ${err.message}`));
  return {
    port: sock.address().port,
    address,
    stats,
    upstreams,
    async close() {
      sock.close();
      for (const s of open) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}
