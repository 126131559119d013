// Ports for the demo: checking the user's port is free, and picking free loopback ports.
import net from 'node:net';
import type { ChildProcess } from 'node:child_process';

/** Resolves to undefined when `port` can be bound on `host`, else to the error code (EADDRINUSE, EACCES). */
export function portProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/**
 * A listening socket on a kernel-chosen loopback port, made to be handed to the process that will
 * own the port (`child.send({type: 'listen'}, server)`: the sample apps' `--socket-from-parent`).
 * The port is held from the moment it is chosen, so no other process can take it in between
 * (picking a free port, closing it and binding it later races every other bind on the machine).
 * Connections reaching it before the hand-over are closed.
 */
export async function bindForChild(host = '127.0.0.1'): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, host, () => resolve()); });
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A port held by this process until its real owner is about to bind it. */
export interface HeldPort {
  /** Stops listening, so the real owner can bind the port (call right before starting it). */
  release(): Promise<void>;
  /**
   * Once `child` asks (`{type: 'send-sockets'}`), sends it the listening socket over IPC (`{type: 'listen'}`,
   * then `{type: 'listen-end'}`: `bowline proxy --sockets-from-parent`) and stops listening here; the
   * port is never free in between. Until then connections here are closed (the child's would hang).
   */
  handTo(child: ChildProcess): Promise<void>;
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
      const release = (): Promise<void> => (released ??= new Promise<void>((r) => srv.close(() => r())));
      resolve({
        release,
        async handTo(child) {
          try {
            await handOver(child, srv);
          } finally {
            await release();
          }
        },
      });
    });
  });
}

/**
 * The hand-over of a listening socket to a child over IPC: once the child asks
 * (`{type: 'send-sockets'}`), `{type: 'listen'}` with the socket, then `{type: 'listen-end'}`.
 * Until the child asks, connections stay with `server` (closed there: the child's would hang).
 * The caller closes `server` afterwards.
 */
export async function handOver(child: ChildProcess, server: net.Server): Promise<void> {
  const send = (msg: object, handle?: net.Server): Promise<void> =>
    new Promise((res, rej) => child.send(msg, handle, (err) => (err ? rej(err) : res())));
  await asked(child);
  await send({ type: 'listen' }, server);
  await send({ type: 'listen-end' });
}

/** Resolves when `child` asks for its sockets; rejects when it exits first. */
function asked(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }): void => { if (m?.type === 'send-sockets') done(); };
    const onExit = (): void => done(new Error('the process exited before asking for its sockets'));
    const done = (err?: Error): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err); else resolve();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
