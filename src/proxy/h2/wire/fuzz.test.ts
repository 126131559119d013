// The frame reader, the HPACK decoder and a whole server connection face untrusted bytes:
// random input is either accepted or refused with an H2Error (never another exception, never a
// hang); what our encoders write decodes back to the same thing; mutated valid traffic never
// makes receive() throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { H2Connection } from './connection.js';
import { ErrorCode, H2Error } from './errors.js';
import { FrameReader, PREFACE, encodeFrame, encodeHeaders, encodeSettings, parseFrame } from './frame.js';
import { HpackDecoder, HpackEncoder } from './hpack.js';
import { huffmanDecode, huffmanEncode, huffmanLength } from './huffman.js';

const latin1 = fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a).toString('latin1'));
const name = fc.stringMatching(/^[a-z0-9-]{1,20}$/);

describe('fuzzing the decoders', () => {
  it('frame reader + parser: random bytes give frames or an H2Error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 1, max: 50 }), (bytes, cut) => {
      const r = new FrameReader((t, f, s, p) => { parseFrame(t, f, s, p); });
      try {
        const b = Buffer.from(bytes);
        for (let i = 0; i < b.length; i += cut) r.push(b.subarray(i, i + cut));
      } catch (err) {
        expect(err).toBeInstanceOf(H2Error);
      }
    }), { numRuns: 2000 });
  });
  it('frame parser: every type with random flags, stream ids and payloads', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 40 }), (t, f, s, p) => {
      try { parseFrame(t, f, s, Buffer.from(p)); } catch (err) { expect(err).toBeInstanceOf(H2Error); }
    }), { numRuns: 3000 });
  });
  it('HPACK decoder: random blocks (several on one table) decode or throw an H2Error', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 5 }), (blocks) => {
      const d = new HpackDecoder(256);
      for (const b of blocks) {
        try { d.decode(Buffer.from(b)); } catch (err) { expect(err).toBeInstanceOf(H2Error); return; }
        expect(d.table.size).toBeLessThanOrEqual(256);
      }
    }), { numRuns: 3000 });
  });
  it('Huffman: encode then decode is the identity; random bytes decode or throw', () => {
    fc.assert(fc.property(latin1, (s) => {
      const out = Buffer.alloc(huffmanLength(s));
      huffmanEncode(s, out, 0);
      expect(huffmanDecode(out, 0, out.length)).toBe(s);
    }), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      try { huffmanDecode(Buffer.from(b), 0, b.length); } catch (err) { expect(err).toBeInstanceOf(H2Error); }
    }), { numRuns: 2000 });
  });
  it('HPACK: a sequence of header lists round-trips through our encoder and decoder, tables in step', () => {
    const list = fc.array(fc.tuple(fc.oneof(name, fc.constantFrom(':path', 'cookie', 'content-type', 'date', 'x-request-id')), latin1), { maxLength: 12 });
    fc.assert(fc.property(fc.array(list, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 4096 }), (lists, peerSize) => {
      const e = new HpackEncoder();
      const d = new HpackDecoder();
      lists.forEach((l, i) => {
        if (i === 2) e.setPeerLimit(peerSize);
        const flat = l.flatMap(([n, v]) => [n, v]);
        expect(d.decode(e.encode(flat)).headers).toEqual(flat);
        expect(d.table.size).toBe(e.table.size);
      });
    }), { numRuns: 500 });
  });
});

describe('fuzzing a server connection', () => {
  const enc = new HpackEncoder();
  const valid = Buffer.concat([
    PREFACE, encodeSettings([[4, 100_000]]),
    encodeHeaders(1, enc.encode([':method', 'POST', ':scheme', 'http', ':path', '/', ':authority', 'a', 'x', 'y']), false),
    encodeFrame(0, 0, 1, Buffer.from('hello')), encodeFrame(0, 1, 1, Buffer.from('!')),
    encodeHeaders(3, enc.encode([':method', 'GET', ':scheme', 'http', ':path', '/b', ':authority', 'a']), true),
  ]);
  it('mutated valid traffic ends, if at all, in a protocol error (never INTERNAL_ERROR from an unexpected exception); the output is well-formed frames', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: PREFACE.length, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: 1, max: 64 }), (muts, cut) => {
      const b = Buffer.from(valid);
      for (const [at, v] of muts) b[at] = v;
      let closed = false;
      const out = new FrameReader((t, f, s, p) => { parseFrame(t, f, s, p); });
      out.maxFrameSize = 1 << 24;
      const c = new H2Connection({
        write: (d) => out.push(d),
        onHeaders: (id, _h, end) => { if (end) c.respond(id, [':status', '200'], true); },
        onData: (id, d) => c.consumed(id, d.length),
        onReset: () => {},
        onClose: (err) => { closed = true; expect(err?.code, err?.message).not.toBe(ErrorCode.INTERNAL_ERROR); },
      }, { role: 'server', now: () => 0 });
      c.start();
      for (let i = 0; i < b.length && !closed; i += cut) c.receive(b.subarray(i, i + cut));
    }), { numRuns: 1500 });
  });
});
