/**
 * An upstream HTTP/2 session on our own codec (h2/wire/connection.ts) instead of node:http2's
 * ClientHttp2Session: one socket (h2c, or TLS with ALPN h2), one H2Connection in the client
 * role, and per stream the CallSink the exchange gave. Backpressure is HTTP/2's own: when the
 * sink asks for a pause, the stream's received bytes are not credited back (no WINDOW_UPDATE)
 * until it resumes. Failures map to the sink's kinds: never connected -> `connect`; the upstream
 * refused the stream unprocessed (RST_STREAM REFUSED_STREAM, or beyond a GOAWAY's last stream)
 * -> `refused`; anything else after the start -> `reset`.
 */
import type { Socket } from 'node:net';
import type { OutgoingHttpHeaders } from 'node:http2';
import { Headers } from '../http/head.js';
import { H2Connection } from './wire/connection.js';
import { ErrorCode } from './wire/errors.js';

/** What a stream reports (the same contract as node:http2-based calls in upstream.ts). */
export interface WireSink {
  onResponse(status: number, headers: Headers, endStream: boolean): void;
  onData(chunk: Buffer): boolean;
  onTrailers(trailers: Headers): void;
  onEnd(): void;
  onFailure(kind: 'connect' | 'refused' | 'reset', message: string): void;
}

/** Fields never sent or accepted on an HTTP/2 message (RFC 9113 8.2.2). */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/** A flat [name, value, ...] list from a node header object, pseudo-headers first. */
export function flatHeaders(h: OutgoingHttpHeaders): string[] {
  const out: string[] = [];
  for (const k of [':method', ':scheme', ':authority', ':path']) { const v = h[k]; if (v !== undefined) out.push(k, String(v)); }
  for (const k in h) {
    if (k.charCodeAt(0) === 0x3a) continue;
    const v = h[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, String(v));
  }
  return out;
}

/** The regular fields of a decoded list (pseudo-headers and connection-specific fields dropped, `te` only as trailers). */
function toHeaders(list: string[]): Headers {
  const h = new Headers();
  for (let i = 0; i < list.length; i += 2) {
    const n = list[i]!;
    if (n.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(n)) continue;
    const v = list[i + 1]!;
    if (n === 'te' && v.toLowerCase() !== 'trailers') continue;
    h.names.push(n);
    h.values.push(v);
  }
  return h;
}

interface StreamState {
  /** 0 while queued for a stream slot (the peer's SETTINGS_MAX_CONCURRENT_STREAMS). */
  id: number;
  headers: OutgoingHttpHeaders;
  endStream: boolean;
  /** Body and end written while queued. */
  early: Buffer[];
  earlyEnd: boolean;
  sink: WireSink;
  responded: boolean;
  /** The response's content-length (-1: none) and the body octets received. */
  length: number;
  received: number;
  paused: boolean;
  /** Octets delivered while paused, credited on resume. */
  owed: number;
  drain: Array<() => void>;
  done: boolean;
  release: () => void;
}

/** The controls of one upstream stream. */
export interface WireCall {
  write(chunk: Buffer): boolean;
  end(): void;
  abort(): void;
  pause(): void;
  resume(): void;
  onDrain(fn: () => void): void;
}

/** One upstream connection. */
export class WireSession {
  readonly conn: H2Connection;
  private readonly streams = new Map<number, StreamState>();
  /** Streams waiting for the peer to allow another (node:http2 queued them the same way). */
  private readonly queued: StreamState[] = [];
  connected = false;
  retired = false;
  closed = false;
  active = 0;
  private waiters: Array<(err?: Error) => void> = [];
  private lastError: Error | undefined;

  constructor(readonly socket: Socket, secure: boolean, private readonly onLog: (msg: string) => void, private readonly onRefused: () => void, private readonly onGone: () => void) {
    this.conn = new H2Connection({
      write: (d) => this.queueWrite(d),
      onHeaders: (id, list, end) => this.onHeaders(id, list, end),
      onData: (id, d, end) => this.onData(id, d, end),
      onReset: (id, code, byPeer) => this.onReset(id, code, byPeer),
      onDrain: (id) => { const s = this.streams.get(id); if (s) { const fns = s.drain; s.drain = []; for (const f of fns) f(); } },
      onGoaway: () => { this.retired = true; this.startQueued(); },
      onClose: (err) => { if (err) this.onLog(`upstream HTTP/2 connection: ${err.message}`); this.retired = true; socket.end(); this.startQueued(); },
      onSettings: () => this.startQueued(),
    }, { role: 'client', connectionWindow: 16 << 20, initialWindowSize: 1 << 20 });
    const ready = secure ? 'secureConnect' : 'connect';
    socket.once(ready, () => { this.connected = true; this.settle(); });
    socket.on('data', (d: Buffer) => this.conn.receive(d));
    socket.on('error', (err) => { this.lastError = err; this.onLog(`upstream HTTP/2 connection: ${err.message}`); });
    socket.once('close', () => {
      this.retired = true;
      this.closed = true;
      this.settle(this.lastError ?? new Error('upstream HTTP/2 connection closed before it was ready'));
      this.conn.destroy();
      this.startQueued();
      this.onGone();
    });
    this.conn.start();
  }

  /** Frames written during this tick: one socket write per tick (many streams start in one downstream read). */
  private pendingOut: Buffer[] = [];
  private flushScheduled = false;

  private queueWrite(d: Buffer): void {
    this.pendingOut.push(d);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      const out = this.pendingOut;
      this.pendingOut = [];
      if (this.socket.destroyed) return;
      this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    });
  }

  /** True while a new stream may go on this session (possibly queued for a slot). */
  get usable(): boolean { return !this.retired && !this.closed && !this.conn.isClosed; }

  /** The peer's stream limit. */
  get peerMaxStreams(): number { return this.conn.peerMaxConcurrentStreams; }

  /** Calls `cb` once connected (or with why not). */
  whenReady(cb: (err?: Error) => void): void {
    if (this.connected) cb();
    else if (this.closed) cb(this.lastError ?? new Error('upstream HTTP/2 connection closed'));
    else this.waiters.push(cb);
  }

  private settle(err?: Error): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f(this.connected ? undefined : err);
  }

  /** Starts a stream, or queues it until the peer allows another; the controls follow upstream.ts's UpstreamCall. */
  open(headers: OutgoingHttpHeaders, endStream: boolean, sink: WireSink, release: () => void): WireCall {
    const st: StreamState = { id: 0, headers, endStream, early: [], earlyEnd: false, sink, responded: false, length: -1, received: 0, paused: false, owed: 0, drain: [], done: false, release };
    if (this.conn.canRequest) this.start(st);
    else this.queued.push(st);
    return {
      write: (b) => { if (st.done) return true; if (st.id === 0) { st.early.push(b); return false; } return this.conn.sendData(st.id, b, false); },
      end: () => { if (st.done) return; if (st.id === 0) st.earlyEnd = true; else this.conn.sendData(st.id, Buffer.alloc(0), true); },
      abort: () => {
        if (st.done) return;
        const id = st.id;
        this.finish(st);
        if (id !== 0) this.conn.reset(id, ErrorCode.CANCEL);
      },
      pause: () => { st.paused = true; },
      resume: () => {
        if (!st.paused) return;
        st.paused = false;
        const n = st.owed;
        st.owed = 0;
        if (n > 0 && st.id !== 0) this.conn.consumed(st.id, n);
      },
      onDrain: (fn) => { if (st.done) fn(); else st.drain.push(fn); },
    };
  }

  private start(st: StreamState): void {
    st.id = this.conn.request(flatHeaders(st.headers), st.endStream);
    this.streams.set(st.id, st);
    if (st.early.length > 0 || st.earlyEnd) {
      const body = st.early;
      st.early = [];
      for (let i = 0; i < body.length; i++) this.conn.sendData(st.id, body[i]!, st.earlyEnd && i === body.length - 1);
      if (st.earlyEnd && body.length === 0) this.conn.sendData(st.id, Buffer.alloc(0), true);
      const fns = st.drain;
      st.drain = [];
      for (const f of fns) f();
    }
  }

  /** Starts queued streams while the peer allows. */
  private startQueued(): void {
    while (this.queued.length > 0 && this.conn.canRequest) {
      const st = this.queued.shift()!;
      if (!st.done) this.start(st);
    }
    if (this.queued.length > 0 && (this.retired || this.conn.isClosed)) {
      for (const st of this.queued.splice(0)) this.failStream(st, this.connected ? 'refused' : 'connect', 'upstream HTTP/2 connection went away before the stream could start');
    }
  }

  /** Closes the connection (cluster gone, proxy closing). */
  destroy(): void { this.retired = true; this.socket.destroy(); }

  private finish(s: StreamState): void {
    if (s.done) return;
    s.done = true;
    if (s.id !== 0) this.streams.delete(s.id);
    s.release();
    queueMicrotask(() => this.startQueued());
  }

  private onHeaders(id: number, list: string[], end: boolean): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (!s.responded) {
      const status = list[0] === ':status' ? Number(list[1]) : NaN;
      if (!(status >= 100 && status <= 599)) { this.failStream(s, 'reset', 'upstream response without a valid :status'); this.conn.reset(id, ErrorCode.PROTOCOL_ERROR); return; }
      if (status < 200) return; // informational
      s.responded = true;
      const h = toHeaders(list);
      const cl = h.get('content-length');
      if (cl !== undefined && /^\d{1,15}$/.test(cl)) s.length = Number(cl);
      s.sink.onResponse(status, h, end);
      if (end && !s.done) { this.finish(s); s.sink.onEnd(); }
      return;
    }
    s.sink.onTrailers(toHeaders(list));
    if (end && !s.done) { this.finish(s); s.sink.onEnd(); }
  }

  private onData(id: number, d: Buffer, end: boolean): void {
    const s = this.streams.get(id);
    if (s === undefined) { this.conn.consumed(id, d.length); return; }
    if (d.length > 0) {
      s.received += d.length;
      const more = s.sink.onData(d);
      if (!more) s.paused = true;
      if (s.paused) s.owed += d.length;
      else this.conn.consumed(id, d.length);
    }
    if (end && !s.done) { this.finish(s); s.sink.onEnd(); }
  }

  private onReset(id: number, code: number, byPeer: boolean): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (!this.connected) return this.failStream(s, 'connect', 'upstream HTTP/2 connection failed');
    if (!s.responded && byPeer && code === ErrorCode.REFUSED_STREAM) {
      this.onRefused();
      return this.failStream(s, 'refused', `upstream refused the stream (RST_STREAM ${code})`);
    }
    // RST_STREAM NO_ERROR after the whole body (RFC 9113 8.1: "stop sending the request"): node:http2 servers send it
    // in place of the END_STREAM when the response finished while our window was closed. The response is complete.
    if (s.responded && byPeer && code === ErrorCode.NO_ERROR && (s.length < 0 || s.received === s.length)) {
      this.finish(s);
      s.sink.onEnd();
      return;
    }
    this.failStream(s, 'reset', `upstream reset the stream (code ${code})`);
  }

  private failStream(s: StreamState, kind: 'connect' | 'refused' | 'reset', message: string): void {
    if (s.done) return;
    this.finish(s);
    s.sink.onFailure(kind, message);
  }
}
