// The codec's answers to bad input, fed as bytes to a server connection with an injected clock:
// each case ends in the GOAWAY or RST_STREAM code RFC 9113 names, and floods end in
// ENHANCE_YOUR_CALM (rapid reset, SETTINGS and PING floods, CONTINUATION floods, header blocks
// of 1 MB).
import { describe, expect, it } from 'vitest';
import { H2Connection, type H2Handler } from './connection.js';
import { ErrorCode } from './errors.js';
import { Flag, FrameReader, FrameType, PREFACE, encodeFrame, encodeGoaway, encodeHeaders, encodeRstStream, encodeSettings, encodeWindowUpdate, parseFrame } from './frame.js';
import { HpackEncoder } from './hpack.js';

interface Out { type: number; flags: number; streamId: number; payload: Buffer }

/** A server connection and everything it wrote and reported. */
function server(opts: { now?: () => number; maxConcurrentStreams?: number; limits?: Record<string, number> } = {}) {
  const frames: Out[] = [];
  const events: string[] = [];
  const reader = new FrameReader((type, flags, streamId, payload) => frames.push({ type, flags, streamId, payload: Buffer.from(payload) }));
  let closed = false;
  const handler: H2Handler = {
    write: (d) => reader.push(d),
    onHeaders: (id, h, end, oversized) => events.push(`headers ${id} ${h.join(',')} end=${end} oversized=${oversized}`),
    onData: (id, d, end) => events.push(`data ${id} ${d.length} end=${end}`),
    onReset: (id, code, byPeer) => events.push(`reset ${id} ${code} ${byPeer}`),
    onClose: (err) => { closed = true; events.push(`close ${err?.code ?? 'ok'}`); },
  };
  const conn = new H2Connection(handler, { role: 'server', connectionWindow: 1 << 20, now: opts.now, maxConcurrentStreams: opts.maxConcurrentStreams, limits: opts.limits });
  conn.start();
  const enc = new HpackEncoder();
  const req = (id: number, end = true, extra: string[] = []): Buffer => encodeHeaders(id, enc.encode([':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'a', ...extra]), end);
  const goaway = (): number | undefined => { const g = frames.find((f) => f.type === FrameType.GOAWAY); return g?.payload.readUInt32BE(4); };
  const rst = (id: number): number | undefined => { const r = frames.find((f) => f.type === FrameType.RST_STREAM && f.streamId === id); return r?.payload.readUInt32BE(0); };
  return { conn, frames, events, req, goaway, rst, isClosed: () => closed, open: () => conn.receive(Buffer.concat([PREFACE, encodeSettings([])])) };
}

describe('frame parsing (RFC 9113 6)', () => {
  const code = (fn: () => unknown): number | undefined => { try { fn(); return undefined; } catch (e) { return (e as { code: number }).code; } };
  it('checks stream ids, sizes and values', () => {
    expect(code(() => parseFrame(FrameType.DATA, 0, 0, Buffer.alloc(1)))).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(code(() => parseFrame(FrameType.PING, 0, 0, Buffer.alloc(7)))).toBe(ErrorCode.FRAME_SIZE_ERROR);
    expect(code(() => parseFrame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6)))).toBe(ErrorCode.FRAME_SIZE_ERROR);
    expect(code(() => parseFrame(FrameType.SETTINGS, 0, 0, Buffer.from('000200000002', 'hex')))).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(code(() => parseFrame(FrameType.SETTINGS, 0, 0, Buffer.from('000480000000', 'hex')))).toBe(ErrorCode.FLOW_CONTROL_ERROR);
    expect(code(() => parseFrame(FrameType.SETTINGS, 0, 0, Buffer.from('000500000001', 'hex')))).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(code(() => parseFrame(FrameType.WINDOW_UPDATE, 0, 1, Buffer.alloc(4)))).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(code(() => parseFrame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3)))).toBe(ErrorCode.FRAME_SIZE_ERROR);
    expect(code(() => parseFrame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([5, 1, 2])))).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(code(() => parseFrame(FrameType.HEADERS, Flag.PRIORITY, 3, Buffer.from('0000000310', 'hex')))).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(parseFrame(0xfa, 0, 1, Buffer.alloc(3))).toBeUndefined(); // unknown types are ignored
  });
  it('strips padding and reports the padded length for flow control', () => {
    const f = parseFrame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, Buffer.from([2, 0x61, 0x62, 0, 0]));
    expect(f).toMatchObject({ data: Buffer.from('ab'), flowLength: 5, endStream: true });
  });
  it('a frame over SETTINGS_MAX_FRAME_SIZE is FRAME_SIZE_ERROR', () => {
    const r = new FrameReader(() => {});
    expect(() => r.push(Buffer.from('00400100000000000100', 'hex'))).toThrow(/FRAME_SIZE_ERROR/);
  });
  it('reassembles frames cut at every byte', () => {
    const got: number[] = [];
    const r = new FrameReader((t) => got.push(t));
    const bytes = Buffer.concat([encodeSettings([[3, 100]]), encodeWindowUpdate(0, 1000), encodeRstStream(1, 8)]);
    for (const b of bytes) r.push(Buffer.from([b]));
    expect(got).toEqual([FrameType.SETTINGS, FrameType.WINDOW_UPDATE, FrameType.RST_STREAM]);
  });
});

describe('connection refusals (server role)', () => {
  it('an invalid preface is GOAWAY PROTOCOL_ERROR', () => {
    const s = server();
    s.conn.receive(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(s.goaway()).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(s.isClosed()).toBe(true);
  });
  it('a first frame other than SETTINGS is PROTOCOL_ERROR', () => {
    const s = server();
    s.conn.receive(Buffer.concat([PREFACE, encodeWindowUpdate(0, 10)]));
    expect(s.goaway()).toBe(ErrorCode.PROTOCOL_ERROR);
  });
  it('answers SETTINGS with an ACK and PING with its data', () => {
    const s = server();
    s.open();
    s.conn.receive(encodeFrame(FrameType.PING, 0, 0, Buffer.from('12345678')));
    expect(s.frames.some((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK)).toBe(true);
    expect(s.frames.find((f) => f.type === FrameType.PING)?.payload.toString()).toBe('12345678');
  });
  it('delivers a request and ignores PRIORITY', () => {
    const s = server();
    s.open();
    s.conn.receive(Buffer.concat([encodeFrame(FrameType.PRIORITY, 0, 1, Buffer.from('0000000010', 'hex')), s.req(1)]));
    expect(s.events).toEqual(['headers 1 :method,GET,:scheme,http,:path,/,:authority,a end=true oversized=false']);
  });
  it('PUSH_PROMISE is PROTOCOL_ERROR (we send SETTINGS_ENABLE_PUSH 0)', () => {
    const s = server();
    s.open();
    s.conn.receive(encodeFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.from('0000000282', 'hex')));
    expect(s.goaway()).toBe(ErrorCode.PROTOCOL_ERROR);
  });
  it('rapid reset (HEADERS + RST_STREAM pairs) ends in GOAWAY ENHANCE_YOUR_CALM within the limit', () => {
    const s = server({ now: () => 0 });
    s.open();
    const burst: Buffer[] = [];
    for (let i = 0; i < 300; i++) burst.push(s.req(1 + 2 * i, false), encodeRstStream(1 + 2 * i, ErrorCode.CANCEL));
    s.conn.receive(Buffer.concat(burst));
    expect(s.goaway()).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(s.events.filter((e) => e.startsWith('headers')).length).toBe(101);
  });
  it('resets spread over time windows are tolerated', () => {
    let t = 0;
    const s = server({ now: () => t });
    s.open();
    for (let i = 0; i < 300; i++) { if (i % 50 === 0) t += 10_000; s.conn.receive(Buffer.concat([s.req(1 + 2 * i, false), encodeRstStream(1 + 2 * i, ErrorCode.CANCEL)])); }
    expect(s.goaway()).toBeUndefined();
  });
  it('a SETTINGS flood and a PING flood end in ENHANCE_YOUR_CALM', () => {
    const a = server({ now: () => 0 });
    a.open();
    a.conn.receive(Buffer.concat(Array.from({ length: 500 }, () => encodeSettings([[4, 65_535]]))));
    expect(a.goaway()).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    const b = server({ now: () => 0 });
    b.open();
    b.conn.receive(Buffer.concat(Array.from({ length: 500 }, () => encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8)))));
    expect(b.goaway()).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });
  it('a CONTINUATION flood (empty frames, no END_HEADERS) ends in ENHANCE_YOUR_CALM', () => {
    const s = server();
    s.open();
    const frames = [encodeFrame(FrameType.HEADERS, 0, 1, Buffer.from('82', 'hex'))];
    for (let i = 0; i < 10_000; i++) frames.push(encodeFrame(FrameType.CONTINUATION, 0, 1));
    s.conn.receive(Buffer.concat(frames));
    expect(s.goaway()).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(s.events.filter((e) => e.startsWith('headers'))).toEqual([]);
  });
  it('a 1 MB header block ends in ENHANCE_YOUR_CALM before it is decoded', () => {
    const s = server();
    s.open();
    const enc = new HpackEncoder(4096, false);
    const block = enc.encode([':method', 'GET', ':path', '/', 'x-big', 'a'.repeat(1 << 20)]);
    s.conn.receive(encodeHeaders(1, block, true));
    expect(s.goaway()).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });
  it('a header list over SETTINGS_MAX_HEADER_LIST_SIZE reaches the handler flagged oversized', () => {
    const s = server();
    s.open();
    s.conn.receive(s.req(1, true, ['x-big', 'a'.repeat(70_000)]));
    expect(s.events).toEqual(['headers 1  end=true oversized=true']);
  });
  it('CONTINUATION for another stream, or a frame inside a header block, is PROTOCOL_ERROR', () => {
    const s = server();
    s.open();
    s.conn.receive(Buffer.concat([encodeFrame(FrameType.HEADERS, 0, 1, Buffer.from('82', 'hex')), encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 3)]));
    expect(s.goaway()).toBe(ErrorCode.PROTOCOL_ERROR);
  });
  it('a window pushed over 2^31-1 is FLOW_CONTROL_ERROR (connection: GOAWAY; stream: RST_STREAM)', () => {
    const a = server();
    a.open();
    a.conn.receive(a.req(1, false));
    a.conn.receive(encodeWindowUpdate(1, 2 ** 31 - 1));
    expect(a.rst(1)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
    a.conn.receive(encodeWindowUpdate(0, 2 ** 31 - 1));
    expect(a.goaway()).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });
  it('DATA beyond the stream window is a stream error FLOW_CONTROL_ERROR; other streams go on', () => {
    const s = server();
    s.open();
    s.conn.receive(s.req(1, false));
    const big = Buffer.alloc(16_384);
    s.conn.receive(Buffer.concat(Array.from({ length: 5 }, () => encodeFrame(FrameType.DATA, 0, 1, big))));
    expect(s.rst(1)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
    expect(s.goaway()).toBeUndefined();
    s.conn.receive(s.req(3));
    expect(s.events.at(-1)).toMatch(/^headers 3 /);
  });
  it('frames on closed streams: DATA after END_STREAM is GOAWAY STREAM_CLOSED and the connection ends; HEADERS on an idle even stream is PROTOCOL_ERROR', () => {
    const s = server();
    s.open();
    s.conn.receive(s.req(1, true));
    s.conn.receive(encodeFrame(FrameType.DATA, 0, 1, Buffer.from('x')));
    expect(s.goaway()).toBe(ErrorCode.STREAM_CLOSED);
    expect(s.isClosed()).toBe(true);
    const t = server();
    t.open();
    t.conn.receive(t.req(2));
    expect(t.goaway()).toBe(ErrorCode.PROTOCOL_ERROR);
  });
  it('a stream error in the middle of a read resets that stream only; the frames after it in the same read are processed', () => {
    const s = server();
    s.open();
    const inc = Buffer.alloc(4);
    inc.writeUInt32BE(0x7fffffff);
    // One read: stream 1 opens, its window overflows (stream error), then stream 3 opens.
    s.conn.receive(Buffer.concat([s.req(1, false), encodeWindowUpdate(1, 0x7fffffff), encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, inc), s.req(3)]));
    expect(s.rst(1)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
    expect(s.goaway()).toBeUndefined();
    expect(s.events.at(-1)).toMatch(/^headers 3 /);
  });
  it('streams over SETTINGS_MAX_CONCURRENT_STREAMS are refused (REFUSED_STREAM)', () => {
    const s = server({ maxConcurrentStreams: 2 });
    s.open();
    s.conn.receive(Buffer.concat([s.req(1, false), s.req(3, false), s.req(5, false)]));
    expect(s.rst(5)).toBe(ErrorCode.REFUSED_STREAM);
    expect(s.rst(1)).toBeUndefined();
  });
  it('a client GOAWAY closes the connection once the streams it allowed finish', () => {
    const s = server();
    s.open();
    s.conn.receive(s.req(1, true));
    s.conn.receive(encodeGoaway(1, ErrorCode.NO_ERROR));
    expect(s.isClosed()).toBe(false);
    s.conn.respond(1, [':status', '200'], true);
    return Promise.resolve().then(() => expect(s.isClosed()).toBe(true));
  });
});

describe('batched output (one write per event-loop turn)', () => {
  it('the frames of a turn reach the transport in one write, in order; a connection error flushes at once', async () => {
    const writes: Buffer[] = [];
    const handler: H2Handler = { write: (d) => { writes.push(Buffer.from(d)); }, onHeaders: () => {}, onData: () => {}, onReset: () => {}, onClose: () => {} };
    const conn = new H2Connection(handler, { role: 'server', batch: true });
    conn.start();
    const enc = new HpackEncoder();
    const reqs = [1, 3, 5].map((id) => encodeHeaders(id, enc.encode([':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'a']), true));
    conn.receive(Buffer.concat([PREFACE, encodeSettings([]), ...reqs]));
    for (const id of [1, 3, 5]) { conn.respond(id, [':status', '200'], false); conn.sendData(id, Buffer.from(`body ${id}`), true); }
    expect(writes).toEqual([]); // nothing until the turn ends
    await new Promise((r) => process.nextTick(r));
    expect(writes.length).toBe(1);
    const frames: Array<[number, number, number]> = [];
    new FrameReader((t, f, id) => frames.push([t, id, f])).push(writes[0]!);
    const mine = frames.filter(([t]) => t === FrameType.HEADERS || t === FrameType.DATA);
    expect(mine).toEqual([
      [FrameType.HEADERS, 1, Flag.END_HEADERS], [FrameType.DATA, 1, Flag.END_STREAM],
      [FrameType.HEADERS, 3, Flag.END_HEADERS], [FrameType.DATA, 3, Flag.END_STREAM],
      [FrameType.HEADERS, 5, Flag.END_HEADERS], [FrameType.DATA, 5, Flag.END_STREAM],
    ]);
    conn.receive(encodeFrame(FrameType.PING, 0, 1, Buffer.alloc(8))); // PING on a stream: connection error
    expect(writes.length).toBe(2); // the GOAWAY left before onClose, not a turn later
    const last: number[] = [];
    new FrameReader((t) => last.push(t)).push(writes[1]!);
    expect(last).toEqual([FrameType.GOAWAY]);
  });
});

describe('header blocks encoded in place', () => {
  it('a block over the peer\'s max frame size leaves as HEADERS + CONTINUATION and decodes whole', () => {
    const got: string[][] = [];
    const frames: number[] = [];
    const peer: { srv?: H2Connection } = {};
    const reader = new FrameReader((t) => frames.push(t));
    let first = true;
    const cli = new H2Connection({
      write: (d) => { reader.push(first ? d.subarray(PREFACE.length) : d); first = false; peer.srv!.receive(d); },
      onHeaders: () => {}, onData: () => {}, onReset: () => {}, onClose: () => {},
    }, { role: 'client' });
    const srv = peer.srv = new H2Connection({
      write: (d) => cli.receive(d),
      onHeaders: (_id, h) => got.push(h), onData: () => {}, onReset: () => {}, onClose: () => {},
    }, { role: 'server', maxHeaderListSize: 1 << 20, limits: { maxHeaderBlock: 1 << 20 } });
    cli.start();
    srv.start();
    const big = 'x'.repeat(40_000);
    const list = [':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', '/', 'x-big', big, 'x-small', 'y'];
    cli.request(list, true);
    cli.request(list, true); // the second time from the dynamic table where it fits (x-small) or as literals
    expect(got).toEqual([list, list]);
    expect(frames.filter((t) => t === FrameType.CONTINUATION).length).toBeGreaterThanOrEqual(4);
  });
});

describe('output buffer reuse', () => {
  const run = async (consumed: boolean): Promise<Buffer[]> => {
    const views: Buffer[] = [];
    const conn = new H2Connection({ write: (d) => { views.push(d); return consumed; }, onHeaders: () => {}, onData: () => {}, onReset: () => {}, onClose: () => {} }, { role: 'server', batch: true });
    conn.start();
    await new Promise((r) => process.nextTick(r));
    conn.receive(Buffer.concat([PREFACE, encodeSettings([])]));
    await new Promise((r) => process.nextTick(r));
    conn.ping(Buffer.from('12345678'));
    await new Promise((r) => process.nextTick(r));
    return views;
  };
  it('a view the transport may still hold is never overwritten', async () => {
    const views = await run(false);
    const first = Buffer.from(views[0]!);
    expect(views.length).toBe(3);
    expect(views[0]!.equals(first)).toBe(true);
    expect(views[1]!.byteOffset).toBeGreaterThan(views[0]!.byteOffset);
  });
  it('once the transport took the bytes, the next turn writes from the start of the same buffer', async () => {
    const views = await run(true);
    expect(views[2]!.buffer).toBe(views[1]!.buffer);
    expect(views[2]!.byteOffset).toBe(views[1]!.byteOffset);
  });
});
