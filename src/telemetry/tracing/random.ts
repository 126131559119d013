/**
 * Random bytes for ids. `fillRandom` (request ids: UUIDs, RFC 9562 asks for a CSPRNG) reads the
 * kernel's CSPRNG (`/dev/urandom`, the same source node:crypto's OpenSSL seeds from) into the
 * caller's buffer; `fillIdBytes` (trace and span ids) expands 16 fresh bytes from it per draw with
 * xoshiro128** (Blackman and Vigna), as Envoy draws its trace and span ids from a seeded
 * mt19937_64 rather than its CSPRNG: the kernel generator costs ~2 ns a byte here, ~50 ns a trace.
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

/** A draw's seed and generator state (overwritten by the next draw). */
const seed = Buffer.alloc(16);
const state = new Uint32Array(seed.buffer, seed.byteOffset, 4);

/**
 * xoshiro128** (Blackman and Vigna, 2018): fills `out` with the generator's next outputs from
 * `s` (four 32-bit words, not all zero) and leaves `s` at the state after them.
 */
export function xoshiro128ss(s: Uint32Array, out: Uint32Array): void {
  let a = s[0]!, b = s[1]!, c = s[2]!, d = s[3]!;
  for (let i = 0; i < out.length; i++) {
    const m = Math.imul(b, 5);
    out[i] = Math.imul((m << 7) | (m >>> 25), 9);
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = (d << 11) | (d >>> 21);
  }
  s[0] = a; s[1] = b; s[2] = c; s[3] = d;
}

/**
 * Fills `buf` (4-byte aligned, a multiple of 4 bytes long) with bytes for trace and span ids and
 * returns it: unique and unpredictable enough for ids that are not secrets (any client may send
 * its own trace context). Each draw seeds xoshiro128** (period 2^128 - 1, equidistributed 32-bit
 * outputs) with 16 fresh bytes from the kernel's CSPRNG (fillRandom), so no draw follows from an
 * earlier one: ~0.4 ns a byte against ~2 for /dev/urandom alone (docs/performance.md).
 */
export function fillIdBytes(buf: Buffer): Buffer {
  if ((buf.length & 3) !== 0 || (buf.byteOffset & 3) !== 0) throw new RangeError('fillIdBytes: a 4-byte aligned buffer, a multiple of 4 bytes long');
  fillRandom(seed);
  if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1; // the one state xoshiro cannot leave
  xoshiro128ss(state, new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2));
  return buf;
}

/** Closes the descriptor (tests). The next fillRandom opens it again. */
export function closeRandom(): void {
  if (fd >= 0) { closeSync(fd); fd = -1; }
}
