/**
 * A TLS ClientHello reader for routing without terminating TLS (SNI passthrough, filter chain
 * match on server name and ALPN). It reads only the first handshake message, across as many
 * TLS records as it spans, and never trusts a length field: every read is bounds-checked and
 * the total is capped, so garbage is answered with `invalid`, never an exception.
 */

/** Largest ClientHello accepted (handshake bytes across records). Real ones are < 2 KiB, post-quantum ~2 KiB. */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

/** What the first bytes of a connection say. */
export type ClientHelloResult =
  | { kind: 'need-more' }
  | { kind: 'not-tls' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'hello'; serverName: string | undefined; alpn: string[] };

const NEED_MORE: ClientHelloResult = { kind: 'need-more' };
const NOT_TLS: ClientHelloResult = { kind: 'not-tls' };
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

/** True when `buf` could start a TLS handshake record (checks only the bytes present). */
export function looksLikeTls(buf: Buffer): boolean {
  if (buf.length === 0) return true;
  if (buf[0] !== HANDSHAKE) return false;
  if (buf.length > 1 && buf[1] !== 3) return false;
  if (buf.length > 2 && buf[2]! > 4) return false;
  return true;
}

/** Parses the ClientHello at the start of `buf` (the connection's first bytes, possibly partial). */
export function parseClientHello(buf: Buffer): ClientHelloResult {
  if (!looksLikeTls(buf)) return NOT_TLS;
  // Gather the handshake bytes from consecutive handshake records.
  const parts: Buffer[] = [];
  let have = 0;
  let pos = 0;
  let want = -1; // handshake message length + 4, once known
  while (want < 0 || have < want) {
    if (pos + 5 > buf.length) return NEED_MORE;
    if (buf[pos] !== HANDSHAKE || buf[pos + 1] !== 3) return invalid('a record that is not a handshake record inside the ClientHello');
    const len = buf.readUInt16BE(pos + 3);
    if (len === 0 || len > 16384) return invalid(`TLS record length ${len} out of range`);
    if (pos + 5 + len > buf.length) {
      if (have + len > MAX_CLIENT_HELLO_BYTES) return invalid('ClientHello too large');
      return NEED_MORE;
    }
    parts.push(buf.subarray(pos + 5, pos + 5 + len));
    have += len;
    pos += 5 + len;
    if (want < 0 && have >= 4) {
      const first = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (first[0] !== CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
      want = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
      if (want > MAX_CLIENT_HELLO_BYTES) return invalid('ClientHello too large');
    }
    if (have > MAX_CLIENT_HELLO_BYTES) return invalid('ClientHello too large');
  }
  const hs = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return parseBody(hs.subarray(4, want));
}

function invalid(reason: string): ClientHelloResult {
  return { kind: 'invalid', reason };
}

/** Parses the ClientHello body (after the 4-byte handshake header). */
function parseBody(b: Buffer): ClientHelloResult {
  let p = 2 + 32; // client_version, random
  if (p + 1 > b.length) return invalid('truncated ClientHello');
  p += 1 + b[p]!; // session id
  if (p + 2 > b.length) return invalid('truncated ClientHello (cipher suites)');
  const cs = b.readUInt16BE(p);
  if (cs < 2 || cs % 2 !== 0) return invalid('bad cipher suites length');
  p += 2 + cs;
  if (p + 1 > b.length) return invalid('truncated ClientHello (compression)');
  p += 1 + b[p]!;
  if (p > b.length) return invalid('truncated ClientHello (compression)');
  let serverName: string | undefined;
  const alpn: string[] = [];
  if (p === b.length) return { kind: 'hello', serverName, alpn }; // no extensions
  if (p + 2 > b.length) return invalid('truncated extensions');
  const extEnd = p + 2 + b.readUInt16BE(p);
  if (extEnd !== b.length) return invalid('extensions length does not match the ClientHello');
  p += 2;
  while (p < extEnd) {
    if (p + 4 > extEnd) return invalid('truncated extension header');
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const start = p + 4;
    const end = start + len;
    if (end > extEnd) return invalid('extension longer than the ClientHello');
    if (type === EXT_SERVER_NAME) {
      const r = readServerName(b, start, end);
      if (typeof r !== 'string' && r !== undefined) return r;
      serverName = r;
    } else if (type === EXT_ALPN) {
      if (end - start < 2 || b.readUInt16BE(start) !== end - start - 2) return invalid('bad ALPN extension');
      for (let q = start + 2; q < end;) {
        const n = b[q]!;
        if (n === 0 || q + 1 + n > end) return invalid('bad ALPN protocol name');
        alpn.push(b.toString('latin1', q + 1, q + 1 + n));
        q += 1 + n;
      }
    }
    p = end;
  }
  return { kind: 'hello', serverName, alpn };
}

/** The host_name entry of a server_name extension (lowercased), undefined when absent. */
function readServerName(b: Buffer, start: number, end: number): string | undefined | ClientHelloResult {
  if (end - start < 2 || b.readUInt16BE(start) !== end - start - 2) return invalid('bad server_name extension');
  for (let q = start + 2; q < end;) {
    if (q + 3 > end) return invalid('truncated server_name entry');
    const kind = b[q]!;
    const n = b.readUInt16BE(q + 1);
    if (q + 3 + n > end) return invalid('server_name entry longer than its extension');
    if (kind === 0) {
      if (n === 0 || n > 253) return invalid('server name length out of range');
      const name = b.toString('latin1', q + 3, q + 3 + n);
      if (!/^[A-Za-z0-9._-]+$/.test(name)) return invalid('server name has characters a host name cannot have');
      return name.toLowerCase();
    }
    q += 3 + n;
  }
  return undefined;
}
