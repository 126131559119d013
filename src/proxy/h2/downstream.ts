/** Placeholder replaced below. */
import type { Socket } from 'node:net';
import type { ListenerSlot, ProxyContext } from '../context.js';
import type { CompiledChain } from '../detect/chains.js';
/** Serves HTTP/2 on a socket. */
export function serveHttp2(socket: Socket, _slot: ListenerSlot, _chain: CompiledChain, _ctx: ProxyContext, _secure: boolean, _peer: string, _onGone: (c: { socket: Socket; drain(): void }) => void): { socket: Socket; drain(): void } {
  socket.destroy();
  return { socket, drain() {} };
}
