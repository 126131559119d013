/**
 * Header lines written out in advance: records of `name: value\r\n` lines with fixed names and
 * fixed value lengths, side by side in one buffer. The names, `: ` and CRLF of every record are
 * written here once, and nothing else can write them: the buffer is private, and a user (the
 * ContextPool) gets one view per value slot (`slot`), which cannot reach past its slot (a typed
 * array drops writes out of its range). `text` turns records into a string and remembers it as
 * `current`; a head that takes its fields from `current` at a record's offset
 * (Headers.addLines: the names are `names`, the values slices of that text) holds fields whose
 * lines are that text, byte for byte -- by construction, not by comparing them per request.
 */
export class LineRecords {
  /** Bytes per record. */
  readonly size: number;
  /** Each line's value offset in a record. */
  readonly valueAt: readonly number[];
  /** The last string `text` made (compared by `holds`). */
  current = '';
  readonly #bytes: Buffer;
  /** One view per value slot, record by record (`count * names.length`). */
  readonly #slots: Uint8Array[] = [];

  constructor(
    /** The lines' field names, lowercase tokens, in order (at most 4: Headers' prepared fields). */
    readonly names: readonly string[],
    /** Each line's value length (fixed). */
    readonly valueLengths: readonly number[],
    /** Records in the buffer. */
    readonly count: number,
  ) {
    if (names.length < 1 || names.length > 4 || names.length !== valueLengths.length) throw new RangeError('LineRecords: 1 to 4 lines, one value length each');
    for (const n of names) if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(n)) throw new RangeError(`LineRecords: not a lowercase field name: ${JSON.stringify(n)}`);
    const at: number[] = [];
    let w = 0;
    for (let k = 0; k < names.length; k++) {
      w += names[k]!.length + 2;
      at.push(w);
      w += valueLengths[k]! + 2;
    }
    this.size = w;
    this.valueAt = at;
    if (w * count > 0xffff || count < 1) throw new RangeError('LineRecords: 1 record to 64 KiB of them');
    // Not from Buffer's shared pool: the records' memory is theirs alone.
    const b = (this.#bytes = Buffer.alloc(w * count));
    for (let r = 0; r < count; r++) {
      let p = r * w;
      for (let k = 0; k < names.length; k++) {
        p += b.write(`${names[k]}: `, p, 'latin1');
        this.#slots.push(b.subarray(p, p + valueLengths[k]!));
        p += valueLengths[k]!;
        p += b.write('\r\n', p, 'latin1');
      }
    }
  }

  /** The same slot as a DataView (two-byte writes; it throws on an offset outside the slot). */
  slotData(r: number, k: number): DataView {
    const v = this.slot(r, k);
    return new DataView(v.buffer, v.byteOffset, v.byteLength);
  }

  /** The value bytes of line `k` of record `r`: a view of exactly that slot (write the value here). */
  slot(r: number, k: number): Uint8Array {
    return this.#slots[r * this.names.length + k]!;
  }

  /** Records [first, first + n) as one latin1 string (a record at `k * size`); it becomes `current`. */
  text(first: number, n: number): string {
    const s = this.#bytes.toString('latin1', first * this.size, (first + n) * this.size);
    this.current = s;
    return s;
  }

  /** Whether `at` is a record's offset in `text`, and `text` is `current` (the same characters). */
  holds(text: string, at: number): boolean {
    return text === this.current && text !== '' && at >= 0 && at % this.size === 0 && at + this.size <= text.length;
  }
}
