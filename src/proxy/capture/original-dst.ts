/**
 * The original destination of a connection redirected by capture (iptables/nftables REDIRECT to
 * the outbound listener): SO_ORIGINAL_DST, read through the package's small N-API addon
 * (native/original-dst, built by node-gyp at `npm install`: scripts/build-native.mjs). Node has no
 * API for it. When the addon is missing, capture cannot work and says why; explicit HTTP_PROXY
 * mode needs none of this.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Where the built addon lives, from dist/proxy/capture or src/proxy/capture alike. */
export const ADDON_PATH = fileURLToPath(new URL('../../../native/original-dst/build/Release/original_dst.node', import.meta.url));

/** Reads a connection's original destination; undefined when it was not redirected. */
export type OriginalDstLookup = (socket: Socket) => { address: string; port: number } | undefined;

interface Addon {
  originalDst(fd: number, ipv6: boolean): [string, number] | null;
}

/** Loads the addon: the lookup, or what is missing (for a clear refusal). */
export function loadOriginalDst(path = ADDON_PATH): { lookup: OriginalDstLookup } | { missing: string } {
  if (process.platform !== 'linux') return { missing: `transparent capture needs Linux (this is ${process.platform})` };
  if (!existsSync(path)) {
    return { missing: `the SO_ORIGINAL_DST addon is not built (${path} is missing): run \`npm rebuild bowline\` or \`node scripts/build-native.mjs\` in the package with a C compiler, make and Node's headers (Debian: build-essential) installed` };
  }
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    return { missing: `the SO_ORIGINAL_DST addon ${path} cannot be loaded: ${(err as Error).message}` };
  }
  return {
    lookup(socket) {
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) return undefined;
      const local = socket.localAddress ?? '';
      const r = addon.originalDst(fd, local.includes(':') && !local.startsWith('::ffff:'));
      return r === null ? undefined : { address: r[0], port: r[1] };
    },
  };
}
