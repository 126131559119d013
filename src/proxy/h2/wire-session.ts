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
import { notCarried } from './headers.js';
import { H2Connection } from './wire/connection.js';
import { ErrorCode } from './wire/errors.js';
import { ReceiveCredit } from './wire/receive-credit.js';
import type { UpstreamCall } from '../upstream/call.js';

/** What a stream reports (the same contract as node:http2-based calls in upstream.ts). */
export interface WireSink {
  onResponse(status: number, headers: Headers, endStream: boolean): void;
  onData(chunk: Buffer): boolean;
  onTrailers(trailers: Headers): void;
  onEnd(): void;
  onFailure(kind: 'connect' | 'refused' | 'reset', message: string): void;
}

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

/**
 * A request's header list for our encoder: pseudo-headers, then the regular fields in order,
 * without connection-specific ones and with `te` only as `trailers` (RFC 9113 8.2.2).
 */
export function requestList(method: string, scheme: string, authority: string, path: string, h: Headers): string[] {
  const out = [':method', method, ':scheme', scheme, ':authority', authority, ':path', path];
  const names = h.names;
  const values = h.values;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (notCarried(n)) continue;
    const v = values[i]!;
    if (n === 'te' && v.toLowerCase() !== 'trailers') continue;
    out.push(n, v);
  }
  return out;
}

/** The regular fields of a decoded list (pseudo-headers and connection-specific fields dropped, `te` only as trailers). */
function toHeaders(list: string[]): Headers {
  const h = new Headers();
  for (let i = 0; i < list.length; i += 2) {
    const n = list[i]!;
    if (n.charCodeAt(0) === 0x3a || notCarried(n)) continue;
    const v = list[i + 1]!;
    if (n === 'te' && v.toLowerCase() !== 'trailers') continue;
    h.names.push(n);
    h.values.push(v);
  }
  return h;
}

/** One upstream stream: its state and its controls (one object per stream, no closures); response octets are credited back as ReceiveCredit says. */
class UpstreamStream extends ReceiveCredit implements UpstreamCall {
  /** 0 while queued for a stream slot (the peer's SETTINGS_MAX_CONCURRENT_STREAMS). */
  id = 0;
  /** Body and end written while queued. */
  early: Buffer[] | undefined;
  earlyEnd = false;
  responded = false;
  /** The response's content-length (-1: none) and the body octets received. */
  length = -1;
  bodyOctets = 0;
  drain: Array<() => void> | undefined;
  done = false;

  constructor(readonly session: WireSession, readonly headers: string[], readonly endStream: boolean, readonly sink: WireSink, readonly release: (() => void) | undefined) {
    super();
  }

  /** The verified SPIFFE id of the server on this stream's session ('' when none). */
  get peerIdentity(): string {
    return this.session.peerIdentity;
  }

  write(b: Buffer): boolean {
    if (this.done) return true;
    if (this.id === 0) { (this.early ??= []).push(b); return false; }
    return this.session.conn.sendData(this.id, b, false);
  }

  end(): void {
    if (this.done) return;
    if (this.id === 0) this.earlyEnd = true;
    else this.session.conn.sendData(this.id, EMPTY, true);
  }

  abort(): void {
    if (this.done) return;
    const id = this.id;
    this.session.finish(this);
    if (id !== 0) this.session.conn.reset(id, ErrorCode.CANCEL);
  }

  /** Response octets go back to the upstream's window (a stream still queued has received none). */
  protected credit(n: number): void {
    if (this.id !== 0) this.session.conn.consumed(this.id, n);
  }

  onDrain(fn: () => void): void {
    if (this.done) fn();
    else (this.drain ??= []).push(fn);
  }

  drained(): void {
    const fns = this.drain;
    if (fns === undefined || fns.length === 0) return;
    this.drain = undefined;
    for (const f of fns) f();
  }
}

const EMPTY = Buffer.alloc(0);

/** One upstream connection. */
export class WireSession {
  readonly conn: H2Connection;
  private readonly streams = new Map<number, UpstreamStream>();
  /** Streams waiting for the peer to allow another (node:http2 queued them the same way). */
  private readonly queued: UpstreamStream[] = [];
  connected = false;
  retired = false;
  closed = false;
  active = 0;
  /** The server's verified SPIFFE id, set once by the session's owner when a mutual TLS connection is up (h2/upstream.ts); '' otherwise. */
  peerIdentity = '';
  private waiters: Array<(err?: Error) => void> = [];
  private lastError: Error | undefined;
  /** The peer sent something after the connection came up. */
  private heard = false;
  /** Why the connection closed unanswered (see `closedUnanswered`), for its streams' failures. */
  private unanswered: string | undefined;

  /**
   * `closedUnanswered`: asked when the connection closes after it came up but before the peer sent a
   * byte; returns why, if that tells something (a mutual-TLS connection: the server most likely
   * refused this proxy's certificate, tls/upstream.ts clientRefusedAfterHandshake), for the streams'
   * failures.
   */
  constructor(readonly socket: Socket, secure: boolean, private readonly onLog: (msg: string) => void, private readonly onRefused: () => void, private readonly onGone: () => void,
    private readonly onStreamDone: (s: WireSession) => void = noop, private readonly closedUnanswered?: () => string | undefined) {
    // Written only when a session is retired or closes: given both values here, so V8 never tracks them as constants and
    // the first upstream session to go deoptimises nothing that reads them (http/downstream.ts, docs/performance.md "The first close").
    this.closed = true;
    this.closed = false;
    this.retired = true;
    this.retired = false;
    this.conn = new H2Connection({
      write: (d) => {
        if (socket.destroyed) return true;
        socket.write(d);
        return socket.writableLength === 0; // written through: the codec may reuse its buffer
      },
      onHeaders: (id, list, end) => this.onHeaders(id, list, end),
      onData: (id, d, end) => this.onData(id, d, end),
      onReset: (id, code, byPeer) => this.onReset(id, code, byPeer),
      onDrain: (id) => { this.streams.get(id)?.drained(); },
      onGoaway: () => { this.retired = true; this.startQueued(); },
      onClose: (err) => { if (err) this.onLog(`upstream HTTP/2 connection: ${err.message}`); this.retired = true; socket.end(); this.startQueued(); },
      onSettings: () => this.startQueued(),
    }, { role: 'client', connectionWindow: 16 << 20, initialWindowSize: 1 << 20, batch: true });
    const ready = secure ? 'secureConnect' : 'connect';
    socket.once(ready, () => { this.connected = true; this.settle(); });
    socket.on('data', (d: Buffer) => { this.heard = true; this.conn.receive(d); });
    socket.on('error', (err) => { this.lastError = err; this.onLog(`upstream HTTP/2 connection: ${err.message}`); });
    socket.once('close', () => {
      if (this.connected && !this.heard) this.unanswered = this.closedUnanswered?.();
      this.retired = true;
      this.closed = true;
      this.settle(this.lastError ?? new Error('upstream HTTP/2 connection closed before it was ready'));
      this.conn.destroy();
      this.startQueued();
      this.onGone();
    });
    this.conn.start();
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

  /**
   * Starts a stream, or queues it until the peer allows another; the controls follow upstream.ts's
   * UpstreamCall. `headers`: a request list (requestList()) or a node header object.
   * `release` is called once when the stream is done, whichever way (after the session's `onStreamDone`).
   */
  open(headers: OutgoingHttpHeaders | string[], endStream: boolean, sink: WireSink, release?: () => void): UpstreamCall {
    const st = new UpstreamStream(this, Array.isArray(headers) ? headers : flatHeaders(headers), endStream, sink, release);
    if (this.conn.canRequest) this.start(st);
    else this.queued.push(st);
    return st;
  }

  private start(st: UpstreamStream): void {
    st.id = this.conn.request(st.headers, st.endStream);
    this.streams.set(st.id, st);
    if (st.early !== undefined || st.earlyEnd) {
      const body = st.early ?? [];
      st.early = undefined;
      for (let i = 0; i < body.length; i++) this.conn.sendData(st.id, body[i]!, st.earlyEnd && i === body.length - 1);
      if (st.earlyEnd && body.length === 0) this.conn.sendData(st.id, EMPTY, true);
      st.drained();
    }
  }

  /** Starts queued streams while the peer allows. */
  private startQueued(): void {
    while (this.queued.length > 0 && this.conn.canRequest) {
      const st = this.queued.shift()!;
      if (!st.done) this.start(st);
    }
    if (this.queued.length > 0 && (this.retired || this.conn.isClosed)) {
      for (const st of this.queued.splice(0)) this.failStream(st, this.connected ? 'refused' : 'connect', this.connected ? 'upstream HTTP/2 connection went away before the stream could start' : this.connectError());
    }
  }

  /** Closes the connection (cluster gone, proxy closing). */
  destroy(): void { this.retired = true; this.socket.destroy(); }

  /** The stream is done (ended, failed or aborted): its slot is free. */
  finish(s: UpstreamStream): void {
    if (s.done) return;
    s.done = true;
    if (s.id !== 0) this.streams.delete(s.id);
    this.onStreamDone(this);
    s.release?.();
    if (this.queued.length > 0) queueMicrotask(() => this.startQueued());
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
      s.bodyOctets += d.length;
      if (!s.sink.onData(d)) s.pause();
      s.received(d.length);
    }
    if (end && !s.done) { this.finish(s); s.sink.onEnd(); }
  }

  private onReset(id: number, code: number, byPeer: boolean): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (!this.connected) return this.failStream(s, 'connect', this.connectError());
    if (!s.responded && byPeer && code === ErrorCode.REFUSED_STREAM) {
      this.onRefused();
      return this.failStream(s, 'refused', `upstream refused the stream (RST_STREAM ${code})`);
    }
    // RST_STREAM NO_ERROR after the whole body (RFC 9113 8.1: "stop sending the request"): node:http2 servers send it
    // in place of the END_STREAM when the response finished while our window was closed. The response is complete.
    if (s.responded && byPeer && code === ErrorCode.NO_ERROR && (s.length < 0 || s.bodyOctets === s.length)) {
      this.finish(s);
      s.sink.onEnd();
      return;
    }
    if (!byPeer && this.unanswered !== undefined) return this.failStream(s, 'reset', this.unanswered);
    this.failStream(s, 'reset', `upstream reset the stream (code ${code})`);
  }

  /** Why the connection never came up, for its streams' connect failures (a TLS failure's message carries its BOWLINE_E_ code: tls/upstream.ts). */
  private connectError(): string {
    return this.lastError !== undefined ? this.lastError.message : 'upstream HTTP/2 connection failed';
  }

  private failStream(s: UpstreamStream, kind: 'connect' | 'refused' | 'reset', message: string): void {
    if (s.done) return;
    this.finish(s);
    s.sink.onFailure(kind, message);
  }
}

function noop(): void {}
