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
import { STATIC_FULL, STATIC_NAME, STATIC_TABLE } from './hpack-static.js';

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

/** A dynamic table: newest entry first in index order (index 62 = newest). */
export class DynamicTable {
  private names: string[] = [];
  private values: string[] = [];
  /** Current size in RFC 7541 octets. */
  size = 0;

  constructor(public maxSize: number) {}

  /** Number of entries. */
  get length(): number { return this.names.length; }

  /** The entry at dynamic position `i` (0 = newest). */
  get(i: number): [string, string] {
    const at = this.names.length - 1 - i;
    return [this.names[at]!, this.values[at]!];
  }

  /** Adds an entry, evicting the oldest as needed; an entry larger than the table empties it (RFC 7541 4.4). */
  add(name: string, value: string): void {
    const sz = 32 + name.length + value.length;
    this.evictTo(this.maxSize - sz);
    if (sz <= this.maxSize) { this.names.push(name); this.values.push(value); this.size += sz; }
  }

  /** Sets the maximum size, evicting as needed. */
  resize(max: number): void {
    this.maxSize = max;
    this.evictTo(max);
  }

  /** Dynamic position (0 = newest) of a full match, or of a name match (`nameOnly`), or -1. */
  find(name: string, value: string): { at: number; full: boolean } {
    let nameAt = -1;
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] !== name) continue;
      if (this.values[i] === value) return { at: this.names.length - 1 - i, full: true };
      if (nameAt < 0) nameAt = this.names.length - 1 - i;
    }
    return { at: nameAt, full: false };
  }

  private evictTo(limit: number): void {
    let drop = 0;
    while (this.size > Math.max(0, limit) && drop < this.names.length) {
      this.size -= 32 + this.names[drop]!.length + this.values[drop]!.length;
      drop++;
    }
    if (drop > 0) { this.names.splice(0, drop); this.values.splice(0, drop); }
  }
}

/** The result of decoding one header block. */
export interface DecodedBlock {
  /** [name, value, ...]; empty when `oversized`. */
  headers: string[];
  /** The header list was over `maxHeaderListSize` (the block was still decoded to keep the table in step). */
  oversized: boolean;
}

/** Decodes header blocks of one connection direction. */
export class HpackDecoder {
  readonly table: DynamicTable;
  /** The SETTINGS_HEADER_TABLE_SIZE we advertised: the ceiling for the peer's size updates. */
  private limit: number;

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
    let pos = 0;
    let fieldsSeen = false;
    const end = buf.length;
    const int = (n: number): number => {
      if (pos >= end) throw new HpackError('truncated integer');
      const max = (1 << n) - 1;
      let v = buf[pos++]! & max;
      if (v < max) return v;
      let m = 1;
      for (let k = 0; ; k++) {
        if (pos >= end) throw new HpackError('truncated integer');
        if (k >= 4) throw new HpackError('integer too large');
        const b = buf[pos++]!;
        v += (b & 0x7f) * m;
        m *= 128;
        if ((b & 0x80) === 0) break;
      }
      if (v > 0x7fffffff) throw new HpackError('integer too large');
      return v;
    };
    const str = (): string => {
      if (pos >= end) throw new HpackError('truncated string');
      const huff = (buf[pos]! & 0x80) !== 0;
      const len = int(7);
      if (len > end - pos) throw new HpackError('string longer than the block');
      const s = huff ? huffmanDecode(buf, pos, pos + len) : buf.toString('latin1', pos, pos + len);
      pos += len;
      return s;
    };
    const entry = (index: number): [string, string] => {
      if (index === 0) throw new HpackError('index 0');
      if (index <= STATIC_LEN) return STATIC_TABLE[index - 1] as [string, string];
      const d = index - STATIC_LEN - 1;
      if (d >= this.table.length) throw new HpackError(`index ${index} beyond the dynamic table (${this.table.length} entries)`);
      return this.table.get(d);
    };
    const emit = (name: string, value: string): void => {
      fieldsSeen = true;
      listSize += 32 + name.length + value.length;
      if (listSize > this.maxHeaderListSize) { oversized = true; headers.length = 0; }
      if (!oversized) headers.push(name, value);
    };
    while (pos < end) {
      const b = buf[pos]!;
      if (b & 0x80) { // indexed field
        const [n, v] = entry(int(7));
        emit(n, v);
      } else if (b & 0x40) { // literal with incremental indexing
        const idx = int(6);
        const name = idx === 0 ? str() : entry(idx)[0];
        const value = str();
        this.table.add(name, value);
        emit(name, value);
      } else if (b & 0x20) { // dynamic table size update
        if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
        const size = int(5);
        if (size > this.limit) throw new HpackError(`dynamic table size update to ${size} over the advertised ${this.limit}`);
        this.table.resize(size);
      } else { // literal without indexing (0000) or never indexed (0001)
        const idx = int(4);
        const name = idx === 0 ? str() : entry(idx)[0];
        emit(name, str());
      }
    }
    return { headers, oversized };
  }
}

/** Names whose values are never indexed (RFC 7541 7.1.3: credentials that must not leak through table probing). */
const NEVER_INDEX = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** Fields larger than this are not added to the dynamic table (they would evict many small ones). */
const MAX_INDEXED_ENTRY = 512;
/** Names whose values change per request: indexing them only churns the table. */
const DONT_INDEX = new Set([':path', 'content-length', 'date', 'etag', 'if-modified-since', 'if-none-match', 'last-modified', 'location', 'x-request-id', 'traceparent', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'grpc-timeout']);

/** Encodes header blocks of one connection direction. */
export class HpackEncoder {
  readonly table: DynamicTable;
  private pendingUpdate: number | undefined;
  private bytes: number[] = [];

  constructor(maxTableSize = 4096, private readonly huffman = true) {
    this.table = new DynamicTable(maxTableSize);
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: use at most `max`, announced at the start of the next block. */
  setPeerLimit(max: number): void {
    const size = Math.min(max, 4096);
    if (size !== this.table.maxSize) { this.table.resize(size); this.pendingUpdate = size; }
  }

  /** Encodes [name, value, ...] (names lower-case) into one header block. */
  encode(headers: readonly string[]): Buffer {
    const out = this.bytes;
    out.length = 0;
    if (this.pendingUpdate !== undefined) { encodeInteger(out, this.pendingUpdate, 5, 0x20); this.pendingUpdate = undefined; }
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      const full = STATIC_FULL.get(name + '\0' + value);
      if (full !== undefined) { encodeInteger(out, full, 7, 0x80); continue; }
      const dyn = this.table.length > 0 ? this.table.find(name, value) : { at: -1, full: false };
      if (dyn.full) { encodeInteger(out, STATIC_LEN + 1 + dyn.at, 7, 0x80); continue; }
      const nameIdx = STATIC_NAME.get(name) ?? (dyn.at >= 0 ? STATIC_LEN + 1 + dyn.at : 0);
      if (NEVER_INDEX.has(name)) {
        encodeInteger(out, nameIdx, 4, 0x10);
      } else if (!DONT_INDEX.has(name) && 32 + name.length + value.length <= Math.min(MAX_INDEXED_ENTRY, this.table.maxSize)) {
        encodeInteger(out, nameIdx, 6, 0x40);
        if (nameIdx === 0) this.str(name);
        this.str(value);
        this.table.add(name, value);
        continue;
      } else {
        encodeInteger(out, nameIdx, 4, 0x00);
      }
      if (nameIdx === 0) this.str(name);
      this.str(value);
    }
    return Buffer.from(out);
  }

  private str(s: string): void {
    const out = this.bytes;
    const hl = this.huffman ? huffmanLength(s) : Infinity;
    if (hl < s.length) {
      encodeInteger(out, hl, 7, 0x80);
      const tmp = Buffer.allocUnsafe(hl);
      huffmanEncode(s, tmp, 0);
      for (let i = 0; i < hl; i++) out.push(tmp[i]!);
    } else {
      encodeInteger(out, s.length, 7, 0);
      for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
    }
  }
}
