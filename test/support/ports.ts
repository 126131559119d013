import { connect, createServer, type Socket } from 'node:net';

/**
 * A free loopback TCP port, for the rare case a port must be known before its server starts
 * (e.g. a child process's flag). Prefer listening on port 0 and reading the address back.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A loopback port where every connect is refused, held so that no other process can listen on it meanwhile. */
export interface RefusedPort {
  port: number;
  /** Frees the port. */
  close(): Promise<void>;
}

/**
 * A port that refuses connections for as long as it is held: the local port of a connected client
 * socket (bound by the kernel, not listening). Closing a server and naming its port instead races
 * every other bind on the machine.
 */
export async function refusedPort(host = '127.0.0.1'): Promise<RefusedPort> {
  const accepted: Socket[] = [];
  const server = createServer((s) => void accepted.push(s));
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, host, () => resolve()); });
  const client = connect((server.address() as { port: number }).port, host);
  await new Promise<void>((resolve, reject) => { client.once('error', reject); client.once('connect', () => resolve()); });
  return {
    port: client.localPort!,
    async close() {
      client.destroy();
      for (const s of accepted) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
