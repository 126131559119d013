import { createServer } from 'node:net';

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
