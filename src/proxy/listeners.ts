/**
 * The proxy's listening sockets: one raw `net` server per configured HTTP listener. On a
 * config change, listeners that keep their address and port keep their socket and get the new
 * compiled settings (atomically: a request reads its listener's settings once, at its start);
 * new ones are bound; removed or moved ones stop accepting and drain their connections, and a
 * listener whose filter chains changed drains those accepted under the old ones, each drain with
 * the drain time as its deadline (drain.ts). A socket bound
 * before the config arrived (`reservePort`: `--bind-port P=0`, `--outbound-port auto`) is adopted by
 * the listener with its address and port, so that port is never free for another process to take.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Listener, ProxyConfig } from '../proxy-config/types.js';
import type { HttpListenerRuntime, ListenerSlot, ProxyContext } from './context.js';
import { Downstream } from './http/downstream.js';
import { compileRouteConfig, type CompiledRouteConfig } from './router/index.js';
import { compileListenerChains, compileProtocols, needsDispatch, type CompiledProtocols } from './detect/chains.js';
import { dispatchConnection } from './detect/dispatch.js';
import { ConnectionSet, type DrainOptions } from './drain.js';

/** Default request head limit (60 KiB) and downstream idle timeout (1 h). */
const DEFAULT_MAX_HEAD = 60 * 1024;
const DEFAULT_IDLE_MS = 3_600_000;
/** Default time allowed for a request head to arrive once it started (10 s). */
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

interface Bound {
  server: Server;
  slot: ListenerSlot;
  /** `address:port` as configured (port 0 stays 0: an ephemeral listener keeps its port across updates). */
  key: string;
  port: number;
  conns: ConnectionSet;
  /** The filter chains the socket's connections were accepted under (JSON), to drain them when the chains change. */
  chains: string;
  /** Taken from the reserved sockets (given back, not closed, when the config that adopted it is refused). */
  adopted?: boolean;
}

/**
 * Binds `address` on a kernel-chosen port before any config names it (connections are dropped
 * until a listener adopts the socket). Pass the result to `ListenerSet` keyed `address:port`.
 */
export function reservePort(address: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as { port: number }).port });
    });
  });
}

/** Compiled route tables of the running config by content (JSON of node and table), reused by the next compile. */
export type RouteTableCache = Map<string, CompiledRouteConfig>;

/** Compiles the HTTP listeners of a config (reusing unchanged tables from `tableCache`); throws when a route table cannot be compiled.
 *  `protocols`: the config's secrets and upstream TLS, when the caller compiled them already (the proxy hands the upstream TLS to its clusters). */
export function compileListeners(
  cfg: ProxyConfig, random?: () => number, log: (line: string) => void = (line) => process.stderr.write(line + '\n'), tableCache?: RouteTableCache,
  protocols: CompiledProtocols = compileProtocols(cfg, log),
): Map<string, { listener: Listener; runtime: HttpListenerRuntime }> {
  const tables = new Map<string, CompiledRouteConfig>();
  const kept: RouteTableCache = new Map();
  const node = tableCache ? JSON.stringify(cfg.node) : '';
  for (const rc of cfg.routes) {
    // Keyed by content: a table whose inputs did not change keeps its weighted pickers' positions across pushes.
    const key = tableCache ? `${node}\n${JSON.stringify(rc)}` : '';
    const table = tableCache?.get(key) ?? compileRouteConfig(rc, cfg.node, random ? { random } : {});
    if (tableCache) kept.set(key, table);
    tables.set(rc.name, table);
  }
  if (tableCache) {
    tableCache.clear();
    for (const [k, t] of kept) tableCache.set(k, t);
  }
  const out = new Map<string, { listener: Listener; runtime: HttpListenerRuntime }>();
  for (const l of cfg.listeners) {
    const chain = l.filterChains.find((c) => c.http !== undefined);
    const hcm = chain?.http ?? { routeConfig: '' };
    const runtime: HttpListenerRuntime = {
      name: l.name,
      direction: l.direction,
      logicalPort: l.logicalPort ?? l.port,
      routes: tables.get(hcm.routeConfig),
      maxRequestHeadersBytes: hcm.maxRequestHeadersBytes ?? DEFAULT_MAX_HEAD,
      acceptAbsoluteForm: hcm.acceptAbsoluteForm === true,
      generateRequestId: hcm.generateRequestId !== false,
      idleTimeoutMs: hcm.idleTimeoutMs ?? DEFAULT_IDLE_MS,
      requestHeadersTimeoutMs: hcm.requestHeadersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      pathNormalization: cfg.mesh.pathNormalization ?? 'BASE',
      scheme: 'http',
      version: cfg.version ?? '',
    };
    // TLS, HTTP/2, TCP and detecting listeners go through detect/dispatch.ts.
    if (needsDispatch(l, protocols.withoutIdentity.get(l.name) ?? [])) runtime.chains = compileListenerChains(l, cfg, tables, runtime, protocols);
    out.set(l.name, { listener: l, runtime });
  }
  return out;
}

/** The set of bound listeners of one proxy. */
export class ListenerSet {
  private bound = new Map<string, Bound>();
  /** Listeners that stopped accepting (removed, moved) while their connections drain. */
  private readonly retired = new Set<Bound>();

  /** `reserved`: sockets bound ahead (`reservePort`) by `address:port`, adopted by the listener configured there. */
  constructor(private readonly ctx: ProxyContext, private readonly reserved = new Map<string, Server>()) {}

  /** Bound ports by listener name. */
  ports(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, b] of this.bound) out[name] = b.port;
    return out;
  }

  /** Brings the bound listeners in line with `compiled`, draining for `drainMs` the connections of listeners that go,
   *  move or change filter chains; rejects if a new socket cannot be bound. */
  async apply(compiled: Map<string, { listener: Listener; runtime: HttpListenerRuntime }>, drainMs: number): Promise<void> {
    const added: Array<[string, Bound]> = [];
    try {
      for (const [name, { listener, runtime }] of compiled) {
        const key = listener.address + ':' + listener.port;
        const old = this.bound.get(name);
        if (old !== undefined && old.key === key) continue;
        added.push([name, await this.bind(listener, runtime, key)]);
      }
    } catch (err) {
      for (const [, b] of added) this.release(b);
      throw err;
    }
    // Commit: new settings for kept listeners, swap in new sockets, retire the rest.
    for (const [name, { runtime }] of compiled) {
      const b = this.bound.get(name);
      if (b === undefined) continue;
      b.slot.current = runtime.logicalPort === 0 ? { ...runtime, logicalPort: b.port } : runtime;
      // As Envoy: connections accepted under filter chains that changed (e.g. PERMISSIVE -> STRICT) drain.
      const chains = JSON.stringify(compiled.get(name)!.listener.filterChains);
      if (chains !== b.chains) {
        b.chains = chains;
        b.conns.drain(this.drainOptions(drainMs));
      }
    }
    for (const [name, b] of added) {
      const old = this.bound.get(name);
      if (old !== undefined) this.retire(old, drainMs);
      this.bound.set(name, b);
    }
    for (const [name, b] of [...this.bound]) {
      if (!compiled.has(name)) { this.retire(b, drainMs); this.bound.delete(name); }
    }
  }

  /** Stops accepting everywhere and drains every connection for `durationMs`; resolves once all closed (the deadline closes what is left). */
  drain(durationMs: number): Promise<void> {
    const opts = this.drainOptions(durationMs);
    const all = [...this.bound.values(), ...this.retired];
    return Promise.all(all.map((b) => { b.server.close(); return b.conns.drain(opts).done; })).then(() => {});
  }

  /** Destroys every remaining connection (end of a drain). */
  destroyAll(): void {
    for (const b of [...this.bound.values(), ...this.retired]) {
      b.server.close();
      for (const d of b.conns) d.socket.destroy();
    }
    this.bound.clear();
    this.retired.clear();
  }

  private drainOptions(durationMs: number): DrainOptions {
    return { durationMs, timers: this.ctx.timers, stats: this.ctx.stats };
  }

  /** Undoes a bind of a refused config: closes the socket, or returns an adopted one to the reserved set. */
  private release(b: Bound): void {
    if (!b.adopted) { b.server.close(); return; }
    b.server.removeAllListeners('connection');
    b.server.on('connection', (s) => s.destroy());
    this.reserved.set(b.key, b.server);
  }

  /** Stops accepting on `b` and drains its connections; it is forgotten once they all closed. */
  private retire(b: Bound, drainMs: number): void {
    b.server.close();
    this.retired.add(b);
    void b.conns.drain(this.drainOptions(drainMs)).done.then(() => { if (b.conns.size === 0) this.retired.delete(b); });
  }

  private bind(l: Listener, runtime: HttpListenerRuntime, key: string): Promise<Bound> {
    const slot: ListenerSlot = { current: runtime, dispatch: {} };
    const conns = new ConnectionSet();
    const onConnection = (socket: Socket): void => {
      if (slot.current.chains !== undefined) return dispatchConnection(socket, slot, this.ctx, conns);
      const d = new Downstream(socket, slot, this.ctx, (gone) => conns.delete(gone));
      conns.add(d);
      if (this.ctx.draining) d.drain();
    };
    const reserved = this.reserved.get(key);
    if (reserved !== undefined) {
      this.reserved.delete(key);
      reserved.removeAllListeners('connection');
      reserved.on('connection', (socket: Socket) => { socket.setNoDelay(true); onConnection(socket); });
      reserved.on('error', (err) => this.ctx.log('listener:' + l.name, `listener ${l.name} error: ${err.message}`));
      return Promise.resolve({ server: reserved, slot, key, port: l.port, conns, chains: JSON.stringify(l.filterChains), adopted: true });
    }
    const server = createServer({ noDelay: true }, onConnection);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(l.port, l.address, () => {
        server.off('error', reject);
        server.on('error', (err) => this.ctx.log('listener:' + l.name, `listener ${l.name} error: ${err.message}`));
        const port = (server.address() as { port: number }).port;
        if (l.logicalPort === undefined && l.port === 0) slot.current = { ...runtime, logicalPort: port };
        resolve({ server, slot, key, port, conns, chains: JSON.stringify(l.filterChains) });
      });
    });
  }
}
