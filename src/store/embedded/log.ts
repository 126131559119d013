import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { StoreError } from '../store.js';

/** One logged operation: put, delete, or a lease renewal (keepalive; no new revision). */
export type LogOp =
  | { t: 'p'; k: string; v: string; r: number; c: number; ttl?: number; exp?: number }
  | { t: 'd'; k: string; r: number }
  | { t: 'k'; k: string; exp: number };

const HEADER = 8; // uint32 payload length, uint32 crc32 of the payload

/** Encodes one record: length, checksum, JSON payload. */
export function encodeRecord(op: LogRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(op), 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + payload.length);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  payload.copy(buf, HEADER);
  return buf;
}

/** One logged operation or the marker a log starts with after a snapshot (`s`: the snapshot at revision `r` precedes this log). */
export type LogRecord = LogOp | { t: 's'; r: number };

/** Where and why a log stops being readable. */
export interface LogDamage {
  /** Byte offset of the first unreadable record. */
  offset: number;
  /** `torn`: an incomplete last record (a crash mid-append; never acknowledged); `corrupt`: a damaged record that was complete. */
  kind: 'torn' | 'corrupt';
  /** What is wrong, for the message. */
  detail: string;
  /** Intact records found after the damage (lost if the log is cut there). */
  validAfter: number;
}

/** What a scan of a log file found. */
export interface LogScan {
  records: LogRecord[];
  /** Byte offset just after the last intact record before any damage. */
  goodEnd: number;
  damage?: LogDamage;
}

function parseAt(data: Buffer, off: number): { rec: LogRecord; next: number } | undefined {
  if (off + HEADER > data.length) return undefined;
  const len = data.readUInt32LE(off);
  if (off + HEADER + len > data.length) return undefined;
  const payload = data.subarray(off + HEADER, off + HEADER + len);
  if (crc32(payload) !== data.readUInt32LE(off + 4)) return undefined;
  try {
    const rec = JSON.parse(payload.toString('utf8')) as LogRecord;
    return rec && typeof rec === 'object' && typeof rec.t === 'string' ? { rec, next: off + HEADER + len } : undefined;
  } catch {
    return undefined;
  }
}

/** Intact records that can be found after `from` (a resynchronising scan: every offset is tried). */
function countValidAfter(data: Buffer, from: number): number {
  let n = 0;
  let off = from;
  while (off + HEADER < data.length) {
    const r = parseAt(data, off);
    if (r && r.next > off + HEADER + 1) {
      n++;
      off = r.next;
    } else off++;
  }
  return n;
}

/**
 * Reads a log file's records and says where it is damaged, if anywhere. A torn tail (the file ends
 * inside a record, or in zeros, with no intact record after it) is what a crash mid-append leaves:
 * that record was never acknowledged. Anything else, a complete record whose checksum or JSON is
 * wrong, or any damage followed by intact records, is corruption of acknowledged data.
 */
export function scanLog(data: Buffer): LogScan {
  const records: LogRecord[] = [];
  let off = 0;
  while (off < data.length) {
    const r = parseAt(data, off);
    if (!r) break;
    records.push(r.rec);
    off = r.next;
  }
  if (off >= data.length) return { records, goodEnd: off };
  const validAfter = countValidAfter(data, off + 1);
  const rest = data.subarray(off);
  const len = rest.length >= HEADER ? rest.readUInt32LE(0) : -1;
  let kind: LogDamage['kind'] = 'corrupt';
  let detail: string;
  if (rest.length < HEADER) {
    kind = 'torn';
    detail = `${rest.length} bytes, less than a record header`;
  } else if (HEADER + len > rest.length) {
    // Ends inside the record: torn, unless the bytes that are there check out with a damaged length (then it was complete).
    const whole = rest.subarray(HEADER);
    kind = crc32(whole) === rest.readUInt32LE(4) ? 'corrupt' : 'torn';
    detail = kind === 'torn' ? `the record promises ${len} bytes, ${rest.length - HEADER} follow` : 'the record\'s length field is damaged';
  } else if (rest.subarray(HEADER).every((b) => b === 0)) {
    kind = 'torn';
    detail = 'the rest of the file is zeros (space allocated, never written)';
  } else {
    detail = crc32(rest.subarray(HEADER, HEADER + len)) !== rest.readUInt32LE(4) ? 'checksum mismatch' : 'the record is not JSON';
  }
  if (validAfter > 0) kind = 'corrupt';
  return { records, goodEnd: off, damage: { offset: off, kind, detail, validAfter } };
}

/** How to recover from a damaged store (the refusal's last sentence). */
export function recoveryHint(dir: string): string {
  const home = dir.replace(/\/store\/?$/, '');
  return `inspect it with \`bowline store check --home ${home}\`; restore a backup with \`bowline store restore FILE --home ${home}\`, or cut the store back to its last intact record with \`bowline store repair --to-last-good --home ${home}\` (keeps a copy of the damaged files)`;
}

/**
 * Reads every record of a log file. A torn tail (a crash mid-append) is cut off, and `onTorn` is
 * told; corruption of acknowledged records throws StoreError Corrupt naming the file, the offset
 * and how to recover, and changes nothing.
 */
export function readLog(path: string, onTorn: (msg: string) => void = () => {}): { ops: LogOp[]; marker?: number; truncatedBytes: number } {
  if (!existsSync(path)) return { ops: [], truncatedBytes: 0 };
  const data = readFileSync(path);
  const scan = scanLog(data);
  const d = scan.damage;
  if (d?.kind === 'corrupt') {
    throw new StoreError('Corrupt', `store log ${path} is damaged at byte ${d.offset} (${d.detail}); ${d.validAfter} intact record(s) follow it, so acknowledged writes would be lost: refusing to start. ${recoveryHint(dirname(path))}`);
  }
  const truncatedBytes = data.length - scan.goodEnd;
  if (truncatedBytes > 0) {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, scan.goodEnd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    onTorn(`store log ${path}: cut a torn last record at byte ${scan.goodEnd} (${truncatedBytes} bytes: ${d?.detail}); it was never acknowledged`);
  }
  const first = scan.records[0];
  const marker = first?.t === 's' ? first.r : undefined;
  return { ops: scan.records.filter((r): r is LogOp => r.t !== 's'), ...(marker !== undefined ? { marker } : {}), truncatedBytes };
}

interface Pending {
  buf: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * An append-only log with group commit: records appended while an fsync is in flight are
 * written and synced together by the next one. `append` resolves only after the record is on disk.
 */
export class AppendLog {
  private pending: Pending[] = [];
  private flushing = false;
  private failed: Error | undefined;
  /** Records appended since the log was last reset (drives snapshots). */
  records = 0;
  /** fsyncs done (for metrics and tests). */
  syncs = 0;

  private constructor(private fh: FileHandle, readonly path: string, private readonly afterFlush: () => Promise<void>) {}

  /** Opens (creating) the log for appending; `afterFlush` runs between group commits, with no write in flight. */
  static async open(path: string, afterFlush: () => Promise<void> = async () => {}): Promise<AppendLog> {
    const fh = await open(path, 'a');
    return new AppendLog(fh, path, afterFlush);
  }

  /** Appends one record; resolves once it is durable. */
  append(op: LogOp): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.push({ buf: encodeRecord(op), resolve, reject });
      this.records++;
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /**
   * Empties the log (after a snapshot made its records redundant), leaving one marker record that
   * names the snapshot's revision: a later start that finds the marker but not that snapshot refuses
   * instead of starting empty. Call only from `afterFlush`.
   */
  async reset(snapshotRevision: number): Promise<void> {
    await this.fh.truncate(0);
    await this.fh.write(encodeRecord({ t: 's', r: snapshotRevision }));
    await this.fh.sync();
    this.records = 0;
  }

  /** Resolves once every appended record is on disk. */
  async drain(): Promise<void> {
    while (this.flushing) await new Promise((r) => setImmediate(r));
  }

  /** Waits for pending records, then closes the file. */
  async close(): Promise<void> {
    await this.drain();
    await this.fh.close();
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.fh.write(batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((p) => p.buf)));
        await this.fh.datasync();
        this.syncs++;
      } catch (err) {
        this.failed = new Error(`store log write failed: ${String(err)}`);
        for (const p of batch) p.reject(this.failed);
        continue;
      }
      for (const p of batch) p.resolve();
      if (this.pending.length === 0) {
        try {
          await this.afterFlush();
        } catch (err) {
          process.emitWarning(`store snapshot failed: ${String(err)}`);
        }
      }
    }
    this.flushing = false;
  }
}
