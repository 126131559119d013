/**
 * A process whose wall clock is off, for tests of clock skew: libfaketime (Debian `faketime`, which
 * scripts/test.sh installs) preloaded with an offset. Only the wall clock moves: the monotonic clock,
 * which node's timers run on, stays real.
 */
import { existsSync, readdirSync } from 'node:fs';

/** The preloadable libfaketime of this machine; throws (the test fails, it does not skip) when it is not installed. */
export function libfaketime(): string {
  for (const dir of ['/usr/lib', ...readdirSync('/usr/lib').filter((d) => d.includes('-linux-')).map((d) => `/usr/lib/${d}`)]) {
    const lib = `${dir}/faketime/libfaketime.so.1`;
    if (existsSync(lib)) return lib;
  }
  throw new Error('libfaketime is not installed (Debian package faketime; scripts/test.sh installs it)');
}

/** The environment that runs a child with its wall clock `offset` away (libfaketime's syntax: `+48h`, `-13h`, `+90m`). */
export function skewedClockEnv(offset: string): NodeJS.ProcessEnv {
  return { LD_PRELOAD: libfaketime(), FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1' };
}
