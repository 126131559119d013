/**
 * Random span and trace ids, cheaply: random bytes are drawn from the OS in 4 KiB blocks and
 * sliced as hex, so an id costs a slice rather than a system call.
 */
import { randomFillSync, randomUUID } from 'node:crypto';

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
  private readonly pool = Buffer.allocUnsafe(POOL);
  private pos = POOL;

  private hex(bytes: number): string {
    if (this.pos + bytes > POOL) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    const s = this.pool.toString('hex', this.pos, this.pos + bytes);
    this.pos += bytes;
    return s;
  }

  spanId(): string {
    const s = this.hex(8);
    return s === '0000000000000000' ? this.spanId() : s;
  }

  traceId(): string {
    const s = this.hex(16);
    return s === '00000000000000000000000000000000' ? this.traceId() : s;
  }

  requestId(): string {
    return randomUUID();
  }
}
