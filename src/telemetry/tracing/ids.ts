/**
 * Random span and trace ids, cheaply: random bytes are drawn from the OS in 4 KiB blocks and
 * turned into one hex string per block, so an id costs a substring rather than a system call
 * or a native conversion.
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
  private hexPool = '';
  private pos = POOL * 2;

  private hex(bytes: number): string {
    const n = bytes * 2;
    if (this.pos + n > this.hexPool.length) {
      randomFillSync(this.pool);
      this.hexPool = this.pool.toString('hex');
      this.pos = 0;
    }
    const s = this.hexPool.substring(this.pos, this.pos + n);
    this.pos += n;
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
