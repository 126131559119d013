/**
 * HPACK (RFC 7541): integer and string primitives, the dynamic table with size accounting
 * (32 + name + value octets per entry) and eviction, a decoder (indexed, literal with / without /
 * never indexed, dynamic table size updates at the start of a block, bounded by the size we
 * advertised) and an encoder (static and dynamic table matches, incremental indexing of
 * repeated fields up to a size, never-indexed for credentials, Huffman when shorter, a size
 * update when the peer's SETTINGS_HEADER_TABLE_SIZE changes). Header lists are flat arrays
 * [name0, value0, name1, value1, ...] of latin1 strings (one char per octet, so sizes are exact).
 */
import { HpackError } from './errors.js';
import { huffmanDecode, huffmanEncode, huffmanLength } from './huffman.js';
import { STATIC_NAME, STATIC_TABLE } from './hpack-static.js';

const STATIC_LEN = STATIC_TABLE.length;

/** Appends an HPACK integer (RFC 7541 5.1) with an `n`-bit prefix and `first`'s high bits to `out`. */
export function encodeInteger(out: number[], value: number, n: number, first: number): void {
  const max = (1 << n) - 1;
  if (value < max) { out.push(first | value); return; }
  out.push(first | max);
  value -= max;
  while (value >= 128) { out.push((value % 128) + 128); value = Math.floor(value / 128); }
  out.push(value);
}

/**
 * A dynamic table: a ring of entries by insertion number (the newest has index 62). Adding
 * and evicting move no other entry. The encoder's table also keeps lookups by name and by
 * name + value (`lookups`), so finding a match costs two map reads, not a scan.
 */
export class DynamicTable {
  private names: string[] = new Array<string>(16);
  private values: string[] = new Array<string>(16);
  private mask = 15;
  /** Entries ever added: the newest has insertion number `added - 1`, the oldest `added - length`. */
  private added = 0;
  private count = 0;
  /** name -> value -> insertion number of the newest such entry (encoder only). */
  private readonly full: Map<string, Map<string, number>> | undefined;
  /** name -> insertion number of the newest entry with that name (encoder only). */
  private readonly named: Map<string, number> | undefined;
  /** Current size in RFC 7541 octets. */
  size = 0;

  constructor(public maxSize: number, lookups = false) {
    if (lookups) { this.full = new Map(); this.named = new Map(); }
  }

  /** Number of entries. */
  get length(): number { return this.count; }

  /** The name of the entry at dynamic position `i` (0 = newest; i < length). */
  nameAt(i: number): string { return this.names[(this.added - 1 - i) & this.mask]!; }

  /** The value of the entry at dynamic position `i`. */
  valueAt(i: number): string { return this.values[(this.added - 1 - i) & this.mask]!; }

  /** The entry at dynamic position `i` (0 = newest). */
  get(i: number): [string, string] { return [this.nameAt(i), this.valueAt(i)]; }

  /** Adds an entry, evicting the oldest as needed; an entry larger than the table empties it (RFC 7541 4.4). Its insertion number, or -1. */
  add(name: string, value: string): number {
    const sz = 32 + name.length + value.length;
    this.evictTo(this.maxSize - sz);
    if (sz > this.maxSize) return -1;
    if (this.count > this.mask) this.grow();
    const seq = this.added++;
    const at = seq & this.mask;
    this.names[at] = name;
    this.values[at] = value;
    this.count++;
    this.size += sz;
    if (this.full !== undefined) {
      let byValue = this.full.get(name);
      if (byValue === undefined) this.full.set(name, (byValue = new Map()));
      byValue.set(value, seq);
      this.named!.set(name, seq);
    }
    return seq;
  }

  /** Sets the maximum size, evicting as needed. */
  resize(max: number): void {
    this.maxSize = max;
    this.evictTo(max);
  }

  /** Dynamic position (0 = newest) of the newest entry `name: value`, or -1 (tables with lookups). */
  findFull(name: string, value: string): number {
    const seq = this.full?.get(name)?.get(value);
    return seq === undefined ? -1 : this.added - 1 - seq;
  }

  /** Insertion number of the newest entry `name: value`, or -1 (tables with lookups). */
  findFullSeq(name: string, value: string): number {
    return this.full?.get(name)?.get(value) ?? -1;
  }

  /** Dynamic position of the entry with insertion number `seq`, or -1 once it was evicted. */
  positionOf(seq: number): number {
    return seq >= this.added - this.count ? this.added - 1 - seq : -1;
  }

  /** Dynamic position of the newest entry named `name`, or -1 (tables with lookups). */
  findName(name: string): number {
    const seq = this.named?.get(name);
    return seq === undefined ? -1 : this.added - 1 - seq;
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const names = new Array<string>(cap);
    const values = new Array<string>(cap);
    for (let seq = this.added - this.count; seq < this.added; seq++) {
      names[seq & (cap - 1)] = this.names[seq & this.mask]!;
      values[seq & (cap - 1)] = this.values[seq & this.mask]!;
    }
    this.names = names;
    this.values = values;
    this.mask = cap - 1;
  }

  private evictTo(limit: number): void {
    const floor = Math.max(0, limit);
    while (this.size > floor && this.count > 0) {
      const seq = this.added - this.count;
      const at = seq & this.mask;
      const name = this.names[at]!;
      const value = this.values[at]!;
      this.size -= 32 + name.length + value.length;
      this.count--;
      this.names[at] = '';
      this.values[at] = '';
      if (this.full !== undefined) {
        // Eviction goes oldest first: if the lookup names this entry, no other entry matches any more.
        const byValue = this.full.get(name)!;
        if (byValue.get(value) === seq) { byValue.delete(value); if (byValue.size === 0) this.full.delete(name); }
        if (this.named!.get(name) === seq) this.named!.delete(name);
      }
    }
  }
}

/** The result of decoding one header block. */
export interface DecodedBlock {
  /** [name, value, ...]; empty when `oversized`. */
  headers: string[];
  /** The header list was over `maxHeaderListSize` (the block was still decoded to keep the table in step). */
  oversized: boolean;
}

/**
 * Strings of literals a peer sends again and again (a server's `date`, a client's authority
 * before it is indexed, Huffman-coded or not): direct-mapped memos of the coded octets ->
 * decoded string, as http/string-cache.ts does for HTTP/1.1 heads. A hit compares every octet,
 * so a peer can only cause a miss, never change another string.
 */
const LIT_SLOTS = 512;
const LIT_MAX = 64;
const litRaw: string[] = new Array<string>(LIT_SLOTS * 2).fill('');
const litOut: string[] = new Array<string>(LIT_SLOTS * 2).fill('');

function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);
}

/** The literal in `buf[start, end)` (Huffman-coded when `huff`) as a string. */
function literal(buf: Buffer, start: number, end: number, huff: boolean): string {
  const n = end - start;
  if (n === 0) return '';
  if (n > LIT_MAX) return huff ? huffmanDecode(buf, start, end) : latin1(buf, start, end);
  const i = (((n * 31 + buf[start]! * 7 + buf[end - 1]! * 3 + buf[start + (n >> 1)]!) & (LIT_SLOTS - 1)) << 1) | (huff ? 1 : 0);
  const raw = litRaw[i]!;
  if (raw.length === n) {
    let k = 0;
    while (k < n && buf[start + k] === raw.charCodeAt(k)) k++;
    if (k === n) return litOut[i]!;
  }
  const s = huff ? huffmanDecode(buf, start, end) : latin1(buf, start, end);
  litRaw[i] = huff ? latin1(buf, start, end) : s;
  litOut[i] = s;
  return s;
}

/** Decodes header blocks of one connection direction. */
export class HpackDecoder {
  readonly table: DynamicTable;
  /** The SETTINGS_HEADER_TABLE_SIZE we advertised: the ceiling for the peer's size updates. */
  private limit: number;
  /** Decoding state of the block at hand. */
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;

  constructor(maxTableSize = 4096, public maxHeaderListSize = 65_536) {
    this.table = new DynamicTable(maxTableSize);
    this.limit = maxTableSize;
  }

  /** Changes the advertised table size (after the peer acknowledged our SETTINGS). */
  setLimit(max: number): void {
    this.limit = max;
    if (this.table.maxSize > max) this.table.resize(max);
  }

  /** Decodes one complete header block. Throws HpackError (connection error COMPRESSION_ERROR). */
  decode(buf: Buffer): DecodedBlock {
    const headers: string[] = [];
    let listSize = 0;
    let oversized = false;
    let fieldsSeen = false;
    this.buf = buf;
    this.pos = 0;
    const end = this.end = buf.length;
    const table = this.table;
    try {
      while (this.pos < end) {
        const b = buf[this.pos]!;
        let name: string;
        let value: string;
        if (b & 0x80) { // indexed field
          const index = this.int(7);
          if (index === 0) throw new HpackError('index 0');
          if (index <= STATIC_LEN) { const e = STATIC_TABLE[index - 1]!; name = e[0]; value = e[1]; } else {
            const d = this.dynamic(index);
            name = table.nameAt(d);
            value = table.valueAt(d);
          }
        } else if (b & 0x40) { // literal with incremental indexing
          const idx = this.int(6);
          name = idx === 0 ? this.str() : this.nameOf(idx);
          value = this.str();
          table.add(name, value);
        } else if (b & 0x20) { // dynamic table size update
          if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
          const size = this.int(5);
          if (size > this.limit) throw new HpackError(`dynamic table size update to ${size} over the advertised ${this.limit}`);
          table.resize(size);
          continue;
        } else { // literal without indexing (0000) or never indexed (0001)
          const idx = this.int(4);
          name = idx === 0 ? this.str() : this.nameOf(idx);
          value = this.str();
        }
        fieldsSeen = true;
        listSize += 32 + name.length + value.length;
        if (listSize > this.maxHeaderListSize) { oversized = true; headers.length = 0; }
        if (!oversized) headers.push(name, value);
      }
    } finally {
      this.buf = EMPTY;
    }
    return { headers, oversized };
  }

  private int(n: number): number {
    const buf = this.buf;
    const end = this.end;
    if (this.pos >= end) throw new HpackError('truncated integer');
    const max = (1 << n) - 1;
    let v = buf[this.pos++]! & max;
    if (v < max) return v;
    let m = 1;
    for (let k = 0; ; k++) {
      if (this.pos >= end) throw new HpackError('truncated integer');
      if (k >= 4) throw new HpackError('integer too large');
      const b = buf[this.pos++]!;
      v += (b & 0x7f) * m;
      m *= 128;
      if ((b & 0x80) === 0) break;
    }
    if (v > 0x7fffffff) throw new HpackError('integer too large');
    return v;
  }

  private str(): string {
    if (this.pos >= this.end) throw new HpackError('truncated string');
    const huff = (this.buf[this.pos]! & 0x80) !== 0;
    const len = this.int(7);
    const start = this.pos;
    if (len > this.end - start) throw new HpackError('string longer than the block');
    this.pos = start + len;
    return literal(this.buf, start, start + len, huff);
  }

  /** Dynamic position of table index `index` (> 61). */
  private dynamic(index: number): number {
    const d = index - STATIC_LEN - 1;
    if (d >= this.table.length) throw new HpackError(`index ${index} beyond the dynamic table (${this.table.length} entries)`);
    return d;
  }

  private nameOf(index: number): string {
    if (index <= STATIC_LEN) return STATIC_TABLE[index - 1]![0];
    return this.table.nameAt(this.dynamic(index));
  }
}

const EMPTY = Buffer.alloc(0);

/** Names whose values are never indexed (RFC 7541 7.1.3: credentials that must not leak through table probing). */
const NEVER_INDEX = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** Fields larger than this are not added to the dynamic table (they would evict many small ones). */
const MAX_INDEXED_ENTRY = 512;
/** Names whose values change per request: indexing them only churns the table. */
const DONT_INDEX = new Set([':path', 'content-length', 'date', 'etag', 'if-modified-since', 'if-none-match', 'last-modified', 'location', 'x-request-id', 'traceparent', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'grpc-timeout']);

/** What the encoder does with a name that has no full match: 0 index it, 1 literal without indexing, 2 never indexed. */
const MODE_INDEX = 0;
const MODE_PLAIN = 1;
const MODE_NEVER = 2;

/** What the encoder knows of a name: static full matches by value, the static name index (0: none), the indexing mode. */
interface NameInfo { values: Map<string, number> | undefined; index: number; mode: number }
/** Names seen (bounded: names come from traffic; beyond the bound they are worked out each time). */
const NAME_INFO = new Map<string, NameInfo>();
const NAME_INFO_MAX = 1024;

function nameInfo(name: string): NameInfo {
  let info = NAME_INFO.get(name);
  if (info !== undefined) return info;
  info = { values: STATIC_BY_NAME.get(name), index: STATIC_NAME.get(name) ?? 0, mode: NEVER_INDEX.has(name) ? MODE_NEVER : DONT_INDEX.has(name) ? MODE_PLAIN : MODE_INDEX };
  if (NAME_INFO.size < NAME_INFO_MAX) NAME_INFO.set(name, info);
  return info;
}

/** Static (name -> value -> index) for full matches without building a key string. */
const STATIC_BY_NAME = new Map<string, Map<string, number>>();
for (let i = 0; i < STATIC_TABLE.length; i++) {
  const [n, v] = STATIC_TABLE[i]!;
  let m = STATIC_BY_NAME.get(n);
  if (m === undefined) STATIC_BY_NAME.set(n, (m = new Map()));
  if (!m.has(v)) m.set(v, i + 1);
}

/**
 * Encodes header blocks of one connection direction into one reused buffer. Fields matching
 * the static or dynamic table are one index; others are literals with an indexed name where
 * there is one. Repeated fields are indexed (so they are sent once); per-request values
 * (DONT_INDEX) are literals without indexing, credentials never indexed. Huffman coding, when
 * shorter, is used for what goes into the table (sent once); per-request literals are sent as
 * they are (what haproxy does too: coding them costs more CPU than it saves on the wire).
 */
export class HpackEncoder {
  readonly table: DynamicTable;
  private pendingUpdate: number | undefined;
  private out: Buffer = Buffer.allocUnsafe(4096);
  private pos = 0;
  /**
   * The previous block's fields by position, and how each was sent when it was one index: the
   * static index (> 0), or -(insertion number + 1) of a dynamic entry. Requests and responses
   * on a connection repeat most fields as the same strings, so a field equal to the one at its
   * position last time is one comparison of string references, not a map lookup.
   */
  private memoNames: string[] = [];
  private memoValues: string[] = [];
  private memoRefs: number[] = [];
  private memoInfo: NameInfo[] = [];

  constructor(maxTableSize = 4096, private readonly huffman = true) {
    this.table = new DynamicTable(maxTableSize, true);
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: use at most `max`, announced at the start of the next block. */
  setPeerLimit(max: number): void {
    const size = Math.min(max, 4096);
    if (size !== this.table.maxSize) { this.table.resize(size); this.pendingUpdate = size; }
  }

  /** Encodes [name, value, ...] (names lower-case) into one header block (a new Buffer). */
  encode(headers: readonly string[]): Buffer {
    this.room(maxBlockLength(headers));
    const n = this.encodeAt(headers, this.out, 0);
    const b = Buffer.allocUnsafe(n);
    this.out.copy(b, 0, 0, n);
    return b;
  }

  /**
   * Encodes into `target` from `at`, which must have maxBlockLength(headers) octets of room;
   * returns the end of the block.
   */
  encodeAt(headers: readonly string[], target: Buffer, at: number): number {
    const own = this.out;
    this.out = target;
    this.pos = at;
    try {
      this.fields(headers);
      return this.pos;
    } finally {
      this.out = own;
    }
  }

  private fields(headers: readonly string[]): void {
    if (this.pendingUpdate !== undefined) { this.int(this.pendingUpdate, 5, 0x20); this.pendingUpdate = undefined; }
    const table = this.table;
    const memoNames = this.memoNames;
    const memoValues = this.memoValues;
    const memoRefs = this.memoRefs;
    const memoInfo = this.memoInfo;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      const m = i >> 1;
      let info: NameInfo;
      if (memoNames[m] === name) {
        info = memoInfo[m]!;
        // A per-request field (never indexed, no static values): its value is new each time, not worth comparing.
        if ((info.mode === MODE_INDEX || info.values !== undefined) && memoValues[m] === value) {
          const ref = memoRefs[m]!;
          if (ref > 0) { this.int(ref, 7, 0x80); continue; }
          if (ref < 0) {
            const at = table.positionOf(-ref - 1);
            if (at >= 0) { this.int(STATIC_LEN + 1 + at, 7, 0x80); continue; }
          }
        }
      } else {
        info = nameInfo(name);
        memoNames[m] = name;
        memoInfo[m] = info;
      }
      memoValues[m] = value;
      memoRefs[m] = 0;
      const st = info.values;
      if (st !== undefined) {
        const full = st.get(value);
        if (full !== undefined) { memoRefs[m] = full; this.int(full, 7, 0x80); continue; }
      }
      let nameIdx = info.index;
      // Names we never index are never in the dynamic table: no lookup (their values are mostly new strings, costly to hash).
      if (info.mode === MODE_INDEX && table.length > 0) {
        const seq = table.findFullSeq(name, value);
        if (seq >= 0) { memoRefs[m] = -(seq + 1); this.int(STATIC_LEN + 1 + table.positionOf(seq), 7, 0x80); continue; }
      }
      if (nameIdx === 0 && table.length > 0) { const nat = table.findName(name); if (nat >= 0) nameIdx = STATIC_LEN + 1 + nat; }
      const mode = info.mode === MODE_INDEX && 32 + name.length + value.length > Math.min(MAX_INDEXED_ENTRY, table.maxSize) ? MODE_PLAIN : info.mode;
      if (mode === MODE_INDEX) {
        this.int(nameIdx, 6, 0x40);
        if (nameIdx === 0) this.str(name, this.huffman);
        this.str(value, this.huffman);
        const seq = table.add(name, value);
        if (seq >= 0) memoRefs[m] = -(seq + 1);
        continue;
      }
      this.int(nameIdx, 4, mode === MODE_NEVER ? 0x10 : 0x00);
      if (nameIdx === 0) this.str(name, false);
      this.str(value, false);
    }
  }

  /** Makes the own buffer at least `n` octets. */
  private room(n: number): void {
    if (n > this.out.length) this.out = Buffer.allocUnsafe(Math.max(this.out.length * 2, n));
  }

  private int(value: number, n: number, first: number): void {
    const out = this.out;
    const max = (1 << n) - 1;
    if (value < max) { out[this.pos++] = first | value; return; }
    out[this.pos++] = first | max;
    value -= max;
    while (value >= 128) { out[this.pos++] = (value % 128) + 128; value = Math.floor(value / 128); }
    out[this.pos++] = value;
  }

  private str(s: string, huffman: boolean): void {
    const hl = huffman ? huffmanLength(s) : Infinity;
    if (hl < s.length) {
      this.int(hl, 7, 0x80);
      this.pos = huffmanEncode(s, this.out, this.pos);
    } else {
      const len = s.length;
      this.int(len, 7, 0);
      const out = this.out;
      if (len > 48) { this.pos += (out as unknown as { latin1Write(s: string, at: number, n: number): number }).latin1Write(s, this.pos, len); return; }
      // Short strings: a loop here is cheaper than the call into C++.
      let p = this.pos;
      for (let i = 0; i < len; i++) out[p++] = s.charCodeAt(i) & 0xff;
      this.pos = p;
    }
  }
}

/**
 * The most octets a block of `headers` can take: per field an index or two string lengths
 * (at most 6 octets each for the sizes here) and the strings themselves (Huffman only when
 * shorter), plus a table size update.
 */
export function maxBlockLength(headers: readonly string[]): number {
  let n = 6;
  for (let i = 0; i < headers.length; i++) n += headers[i]!.length + 6;
  return n + 6 * (headers.length >> 1);
}
