/**
 * HTTP/2's server side of one proxy (ProxyContext.h2): h2/server.ts, loaded with the proxy's
 * first HTTP/2 connection, so a proxy seeing only HTTP/1.1 never loads it (docs/performance.md,
 * Memory). Only a type is imported from h2/ here.
 */
import type { Socket } from 'node:net';
import type { ProxyContext } from '../context.js';
import type { H2ServerSide } from '../h2/server.js';
import { reportInternalError } from '../internal-error.js';
import { loadH2Upstream } from '../upstream/registry.js';

/** Loads a proxy's HTTP/2 server side once, on first use. */
export class H2Loader {
  /** The server side, once loaded. */
  loaded: H2ServerSide | undefined;
  private loading: Promise<void> | undefined;

  /** Runs `then` once the server side is loaded; the socket waits paused meanwhile (its bytes stay buffered). */
  whenLoaded(socket: Socket, ctx: ProxyContext, then: () => void): void {
    socket.pause();
    // The HTTP/2 upstream client comes with the server: requests over HTTP/2 may go upstream over HTTP/2 (upstream/registry.ts).
    this.loading ??= Promise.all([import('../h2/server.js'), loadH2Upstream()]).then(([m]) => { this.loaded = new m.H2ServerSide(ctx); });
    this.loading.then(() => { if (!socket.destroyed) then(); }, (err: unknown) => { reportInternalError(ctx, 'loading HTTP/2', err); socket.destroy(); });
  }
}
