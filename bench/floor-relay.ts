/**
 * `node --import tsx bench/floor-relay.ts UPSTREAM_PORT`, listening on its file descriptor 3 (bench/ports.ts
 * spawnWithSocket): what node itself costs a proxy, as a reference for bench/hop-tail.ts `--target floor-hop`.
 * Each downstream connection gets its own upstream connection to 127.0.0.1:UPSTREAM_PORT and the bytes are
 * piped both ways (node's streams, no parsing, no pool): the least a node process does to relay a request.
 */
import { connect, createServer } from 'node:net';

const upstream = Number(process.argv[2]);
if (!(upstream > 0 && upstream < 65536)) throw new Error('usage: floor-relay.ts UPSTREAM_PORT (listens on fd 3)');

createServer({ noDelay: true }, (down) => {
  const up = connect({ host: '127.0.0.1', port: upstream, noDelay: true });
  down.pipe(up);
  up.pipe(down);
  down.on('error', () => up.destroy());
  up.on('error', () => down.destroy());
  down.on('close', () => up.destroy());
  up.on('close', () => down.destroy());
}).listen({ fd: 3 });
