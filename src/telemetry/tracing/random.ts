/**
 * Random bytes for ids (trace, span and request ids): read from the kernel's CSPRNG
 * (`/dev/urandom`, the same source node:crypto's OpenSSL seeds from) into the caller's buffer.
 * Not node:crypto's randomFillSync: loading node:crypto (all of lib/internal/crypto) and
 * initialising OpenSSL's generator costs a proxy ~0.8 MB of resident memory
 * (docs/performance.md, Memory), and the callers draw 2-7 KB at a time, one read per draw.
 * Where /dev/urandom cannot be opened (not Linux/macOS, a chroot without /dev), node:crypto is
 * loaded and used instead.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

let fd = -1;
let fallback: ((b: Buffer) => Buffer) | undefined;

/** Fills `buf` with cryptographically secure random bytes and returns it. Throws only when no source works. */
export function fillRandom(buf: Buffer): Buffer {
  if (fallback === undefined && fd < 0) {
    try { fd = openSync('/dev/urandom', 'r'); } catch {
      const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
      fallback = (b) => crypto.randomFillSync(b);
    }
  }
  if (fallback !== undefined) return fallback(buf);
  let at = 0;
  while (at < buf.length) {
    const n = readSync(fd, buf, at, buf.length - at, null);
    if (n <= 0) throw new Error('/dev/urandom returned no bytes');
    at += n;
  }
  return buf;
}

/** Closes the descriptor (tests). The next fillRandom opens it again. */
export function closeRandom(): void {
  if (fd >= 0) { closeSync(fd); fd = -1; }
}
