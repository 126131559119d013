import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/** One logged operation: put, delete, or a lease renewal (keepalive; no new revision). */
export type LogOp =
  | { t: 'p'; k: string; v: string; r: number; c: number; ttl?: number; exp?: number }
  | { t: 'd'; k: string; r: number }
  | { t: 'k'; k: string; exp: number };

const HEADER = 8; // uint32 payload length, uint32 crc32 of the payload

/** Encodes one record: length, checksum, JSON payload. */
export function encodeRecord(op: LogOp): Buffer {
  const payload = Buffer.from(JSON.stringify(op), 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + payload.length);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  payload.copy(buf, HEADER);
  return buf;
}

/**
 * Reads every intact record of a log file. A torn or corrupt tail (a crash mid-write) ends the
 * log: the file is truncated to the last intact record so later appends follow good data.
 */
export function readLog(path: string): { ops: LogOp[]; truncatedBytes: number } {
  if (!existsSync(path)) return { ops: [], truncatedBytes: 0 };
  const data = readFileSync(path);
  const ops: LogOp[] = [];
  let off = 0;
  while (off + HEADER <= data.length) {
    const len = data.readUInt32LE(off);
    const sum = data.readUInt32LE(off + 4);
    if (off + HEADER + len > data.length) break;
    const payload = data.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== sum) break;
    try {
      ops.push(JSON.parse(payload.toString('utf8')) as LogOp);
    } catch {
      break;
    }
    off += HEADER + len;
  }
  const truncatedBytes = data.length - off;
  if (truncatedBytes > 0) {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  return { ops, truncatedBytes };
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

  /** Empties the log (after a snapshot made its records redundant). Call only from `afterFlush`. */
  async reset(): Promise<void> {
    await this.fh.truncate(0);
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
