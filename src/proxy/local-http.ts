/**
 * Listening for the proxy's own small HTTP servers (admin, health): a bound server whose close
 * also ends its keep-alive connections, so a proxy that shuts down never waits on an idle client.
 */
import type { Server } from 'node:http';

/** A listening local HTTP server: the port the kernel gave it and a close that ends its connections. */
export interface LocalHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on `address:port` (port 0: the kernel picks); rejects with the listen error (EADDRINUSE...). */
export function listenLocalHttp(server: Server, port: number, address: string): Promise<LocalHttpServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
