/**
 * Where the DNS proxy sends what is not the mesh's: the host's resolvers from /etc/resolv.conf
 * (`nameserver` lines; read when the proxy starts, as Istio's agent does). A query is relayed
 * byte for byte to each resolver in turn until one answers; the proxy's own queries are exempt
 * from capture (its uid), so they leave for real.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, isIP } from 'node:net';

/** One resolver. */
export interface Upstream {
  host: string;
  port: number;
}

/** The `nameserver` lines of a resolv.conf (IPv6 zone ids dropped); an unreadable file gives none. */
export function resolvConfUpstreams(path = '/etc/resolv.conf'): Upstream[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const host = m?.[1]?.replace(/%.*$/, '');
    if (host && isIP(host)) out.push({ host, port: 53 });
  }
  return out;
}

/** Sends one query over UDP and resolves with the first reply whose id matches, or undefined after `timeoutMs`. */
export function queryUdp(up: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket(isIP(up.host) === 6 ? 'udp6' : 'udp4');
    const done = (v: Buffer | undefined): void => {
      clearTimeout(timer);
      sock.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.address === up.host && rinfo.port === up.port && msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) done(msg);
    });
    sock.send(query, up.port, up.host, (err) => { if (err) done(undefined); });
  });
}

/** Sends one query over TCP (2-byte length prefix) and resolves with the reply, or undefined on failure or timeout. */
export function queryTcp(up: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    const done = (v: Buffer | undefined): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(undefined));
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(undefined));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
  });
}

/** Asks each resolver in turn; undefined when none answered. */
export async function forward(upstreams: readonly Upstream[], query: Buffer, transport: 'udp' | 'tcp', timeoutMs = 2000): Promise<Buffer | undefined> {
  for (const up of upstreams) {
    const reply = await (transport === 'udp' ? queryUdp(up, query, timeoutMs) : queryTcp(up, query, timeoutMs));
    if (reply) return reply;
  }
  return undefined;
}
