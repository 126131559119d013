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

  /** `bytes` random bytes as hex; all-zero draws (invalid ids) are skipped by looking at the bytes, not the string. */
  private hex(bytes: number): string {
    const n = bytes * 2;
    for (;;) {
      if (this.pos + n > this.hexPool.length) {
        randomFillSync(this.pool);
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
    return randomUUID();
  }
}
