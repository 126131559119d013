// Ports for the demo: checking the user's port is free, and picking free loopback ports.
import net from 'node:net';

/** Resolves to undefined when `port` can be bound on `host`, else to the error code (EADDRINUSE, EACCES). */
export function portProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/** `n` distinct free loopback ports, all held open while picking so none repeats. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(0, host, () => resolve()); });
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** A port held by this process until its real owner is about to bind it. */
export interface HeldPort {
  /** Stops listening, so the real owner can bind the port (call right before starting it). */
  release(): Promise<void>;
}

/**
 * Listens on `port` (refusing every connection) so that no kernel-chosen port of the processes
 * the demo starts meanwhile can be it. Rejects with the error code (EADDRINUSE, EACCES).
 */
export function holdPort(port: number, host = '127.0.0.1'): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => s.destroy());
    srv.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)));
    srv.listen({ port, host, exclusive: true }, () => {
      let released: Promise<void> | undefined;
      resolve({ release: () => (released ??= new Promise<void>((r) => srv.close(() => r()))) });
    });
  });
}
