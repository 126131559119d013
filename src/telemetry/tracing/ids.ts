/**
 * Random span and trace ids, cheaply: random bytes are drawn in 3-4 KiB blocks (random.ts: trace and
 * span ids from `fillIdBytes`, a generator seeded from /dev/urandom per block; request ids, UUIDs, from
 * /dev/urandom itself) and turned into one hex string per block, so an id costs a substring rather
 * than a system call or a native conversion.
 */
import { LineRecords } from './line-records.js';
import { fillIdBytes, fillRandom } from './random.js';

const POOL = 4096;

/** A source of ids; tests inject a deterministic one. */
export interface IdSource {
  /** 16 lowercase hex digits, never all zeros. */
  spanId(): string;
  /** 32 lowercase hex digits, never all zeros. */
  traceId(): string;
  /** An x-request-id (UUID v4). */
  requestId(): string;
}

/** The default id source (crypto random). */
export class RandomIds implements IdSource {
  private readonly pool = Buffer.allocUnsafeSlow(POOL);
  private hexPool = '';
  private pos = POOL * 2;

  /** `bytes` random bytes as hex; all-zero draws (invalid ids) are skipped by looking at the bytes, not the string. */
  private hex(bytes: number): string {
    const n = bytes * 2;
    for (;;) {
      if (this.pos + n > this.hexPool.length) {
        fillIdBytes(this.pool);
        this.hexPool = this.pool.toString('hex');
        this.pos = 0;
      }
      const at = this.pos;
      this.pos += n;
      // Comparing the substring with a string of zeros would call into the runtime (it is a sliced string).
      const p = this.pool;
      const b = at >> 1;
      let any = 0;
      for (let i = 0; i < bytes && any === 0; i++) any = p[b + i]!;
      if (any !== 0) return this.hexPool.substring(at, at + n);
    }
  }

  spanId(): string {
    return this.hex(8);
  }

  traceId(): string {
    return this.hex(16);
  }

  requestId(): string {
    return newRequestId();
  }
}

/**
 * One pooled context, written out as the four lines a new trace adds to a head:
 * `traceparent: 00-TRACE-SPAN-0F\r\nx-b3-traceid: TRACE\r\nx-b3-spanid: SPAN\r\nx-b3-sampled: F\r\n`
 * (F = 0 or 1). The offsets below are from a record's start.
 */
export const CONTEXT_LINES = 166;
/** The `traceparent` value (55 characters). */
export const TRACEPARENT_AT = 13;
/** The trace id (32 hex), the `x-b3-traceid` value. */
export const TRACE_ID_AT = 84;
/** The span id (16 hex), the `x-b3-spanid` value. */
export const SPAN_ID_AT = 131;
/** The sampling decision, `0` or `1` (the `x-b3-sampled` value). */
export const SAMPLED_AT = 163;
const RECORD = CONTEXT_LINES;
/** Records written per random draw. */
const RECORDS = 128;
/** Records per string: a string outliving a scavenge gets copied, and after two promoted (this many requests). */
const SEGMENT = 16;
const HEX = '0123456789abcdef';
/** A byte's two lowercase hex digits, as character codes (tables instead of shifts and charCodeAt per digit). */
const HEX_HI = new Uint8Array(256);
const HEX_LO = new Uint8Array(256);
for (let v = 0; v < 256; v++) { HEX_HI[v] = HEX.charCodeAt(v >> 4); HEX_LO[v] = HEX.charCodeAt(v & 15); }
/** A byte's two hex digits as one big-endian 16-bit value (first digit in the high byte): one two-byte store per byte. */
const HEX2 = new Uint16Array(256);
for (let v = 0; v < 256; v++) HEX2[v] = (HEX.charCodeAt(v >> 4) << 8) | HEX.charCodeAt(v & 15);

/**
 * New trace contexts for heads that carry none, already written out: each record is the four
 * header lines of a new trace (CONTEXT_LINES: `traceparent` = `00-TRACEID-SPANID-0F`, F the
 * sampling decision `sampleByTraceId` makes for that trace id at `samplingPercent`, and the
 * same ids and decision as B3 fields), so a new trace costs substrings of one flat string -- no
 * line concatenated per request and flattened again when the head is written (the head takes the
 * record as one slice, Headers.addLines), no decision loop. Random bytes are drawn and
 * written out once per RECORDS traces; the strings are made SEGMENT records at a time, small
 * enough to die young (one string for all RECORDS lived through scavenges and was promoted:
 * ~30 bytes of old space per request). Ids are never all zeros (a zero draw gets its last byte set to 1).
 * The records' fixed text (names, `: `, CRLF: LineRecords'; `00-`, `-`, `-0` in traceparent) is
 * written once, when the pool is made (writing whole records with a loop per literal was ~0.5 us
 * per trace at saturation, 1.8 % of the proxy's CPU in a --cpu-prof); a draw writes only the ids'
 * hex digits and the decisions (98 of a record's 166 bytes), two digits per store through a
 * byte-to-two-digits table and per-slot DataViews (50 stores a record instead of 98 byte stores:
 * ~215 -> ~165 ns per trace, draw included, in a loop over next()).
 */
export class ContextPool {
  /** The current segment's records; a record starts at an offset `next()` returned. */
  text = '';
  /** The records: their names, `: ` and CRLF are LineRecords'; the pool writes the values through its slots. */
  readonly lines = new LineRecords(['traceparent', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled'], [55, 32, 16, 1], RECORDS);
  private at = SEGMENT * RECORD;
  /** Next segment to slice from `out` (RECORDS / SEGMENT: draw again). */
  private segment = RECORDS / SEGMENT;
  /** Not from Buffer's shared pool: aligned for fillIdBytes, and the draw's memory is the pool's alone. */
  private readonly random = Buffer.allocUnsafeSlow(RECORDS * 24);
  /** Each record's traceparent, x-b3-traceid and x-b3-spanid slots as DataViews (RECORDS * 3). */
  private readonly data: DataView[] = [];

  constructor(private readonly samplingPercent: number) {
    for (let i = 0; i < RECORDS; i++) for (let k = 0; k < 3; k++) this.data.push(this.lines.slotData(i, k));
    // The traceparent value's fixed characters: `00-`, the dash between the ids, `-0` before the flag digit.
    for (let i = 0; i < RECORDS; i++) {
      const tp = this.lines.slot(i, 0);
      tp[0] = 48; tp[1] = 48; tp[2] = 45;
      tp[TP_SPAN - 1] = 45;
      tp[TP_SPAN + 16] = 45; tp[TP_SPAN + 17] = 48;
    }
  }

  /** The offset in `text` of an unused record (moving to the next segment when all are used). */
  next(): number {
    if (this.at >= SEGMENT * RECORD) {
      if (this.segment >= RECORDS / SEGMENT) this.refill();
      this.text = this.lines.text(this.segment++ * SEGMENT, SEGMENT);
      this.at = 0;
    }
    const at = this.at;
    this.at += RECORD;
    return at;
  }

  private refill(): void {
    const r = fillIdBytes(this.random);
    const lines = this.lines;
    const p = this.samplingPercent;
    for (let i = 0; i < RECORDS; i++) {
      const b = i * 24;
      if (isZero(r, b, 16)) r[b + 15] = 1;
      if (isZero(r, b + 16, 8)) r[b + 23] = 1;
      // sampleByTraceId: the trace id's last 8 hex digits (its last 4 bytes) as a fraction of 2^32.
      const x = r.readUInt32BE(b + 12);
      const flag = p >= 100 || (p > 0 && (x / 4294967296) * 100 < p) ? 49 : 48;
      const tp = this.data[i * 3]!, tid = this.data[i * 3 + 1]!, sid = this.data[i * 3 + 2]!;
      // Trace id: in traceparent and x-b3-traceid; span id: in traceparent and x-b3-spanid (two digits per store).
      for (let k = 0; k < 16; k++) {
        const d = HEX2[r[b + k]!]!;
        tp.setUint16(TP_TRACE + 2 * k, d);
        tid.setUint16(2 * k, d);
      }
      for (let k = 0; k < 8; k++) {
        const d = HEX2[r[b + 16 + k]!]!;
        tp.setUint16(TP_SPAN + 2 * k, d);
        sid.setUint16(2 * k, d);
      }
      tp.setUint8(TP_FLAG, flag);
      lines.slot(i, 3)[0] = flag;
    }
    this.segment = 0;
  }
}

/** Offsets inside the `traceparent` value (`00-TRACE-SPAN-0F`) of the trace id, the span id and the flag digit. */
const TP_TRACE = 3;
const TP_SPAN = TP_TRACE + 33;
const TP_FLAG = TP_SPAN + 18;

function isZero(r: Buffer, from: number, n: number): boolean {
  for (let i = from; i < from + n; i++) if (r[i] !== 0) return false;
  return true;
}

/** Characters of one pooled UUID (8-4-4-4-12 hex digits). */
const UUID = 36;

/**
 * Random UUIDs (v4, RFC 9562 4.4) for `x-request-id`, written out 128 at a time from one random
 * draw and made into strings 16 at a time (SEGMENT, small enough to die young), so an id is one
 * substring. node's `randomUUID` builds each id from ~20 concatenated two-digit strings: ~0.5 KB
 * of young generation per request (sampling heap profiler of a proxy at 1000 rps), where this
 * costs a slice and a sixteenth of a segment string.
 */
export class UuidPool {
  private text = '';
  private at = SEGMENT * UUID;
  private segment = RECORDS / SEGMENT;
  private readonly random = Buffer.allocUnsafe(RECORDS * 16);
  private readonly out = Buffer.allocUnsafe(RECORDS * UUID);

  constructor() {
    // The dashes are written once; a draw writes only the 32 hex digits of each id.
    for (let i = 0; i < RECORDS; i++) for (const d of [8, 13, 18, 23]) this.out[i * UUID + d] = 45;
  }

  next(): string {
    if (this.at >= SEGMENT * UUID) {
      if (this.segment >= RECORDS / SEGMENT) this.refill();
      const from = this.segment++ * SEGMENT * UUID;
      this.text = this.out.toString('latin1', from, from + SEGMENT * UUID);
      this.at = 0;
    }
    const at = this.at;
    this.at += UUID;
    return this.text.substring(at, at + UUID);
  }

  private refill(): void {
    const r = fillRandom(this.random);
    const o = this.out;
    for (let i = 0; i < RECORDS; i++) {
      const b = i * 16;
      r[b + 6] = (r[b + 6]! & 0x0f) | 0x40; // version 4
      r[b + 8] = (r[b + 8]! & 0x3f) | 0x80; // variant 10
      let w = i * UUID;
      for (let k = 0; k < 16; k++) {
        if (k === 4 || k === 6 || k === 8 || k === 10) w++; // the dash already there
        const v = r[b + k]!;
        o[w++] = HEX_HI[v]!;
        o[w++] = HEX_LO[v]!;
      }
    }
    this.segment = 0;
  }
}

const requestIds = new UuidPool();

/** A fresh random `x-request-id` (UUID v4, lowercase). */
export function newRequestId(): string {
  return requestIds.next();
}
