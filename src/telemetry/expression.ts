/**
 * CEL expressions of Istio's Telemetry (metric tag values, access-log filters) evaluated on a
 * finished request: compiled once per config, bound per request to Envoy's attribute names for the
 * facts the proxy has (docs/telemetry.md "Expressions"). Only the attribute roots an expression
 * names are built, and request headers are read lazily. Evaluation never throws.
 */
import { createRequire } from 'node:module';
import type { RequestRecord, TcpRecord } from './record.js';

type Cel = typeof import('@bufbuild/cel');

/** A compiled expression: its value for a request or connection, or undefined when it cannot be evaluated. */
export type Expression = (r: RequestRecord | TcpRecord) => unknown;

let loaded: { cel: Cel; env: ReturnType<Cel['celEnv']> } | undefined;

/** @bufbuild/cel and its environment, loaded with the first expression: ~1 MB of module source and
 *  its heap that a proxy whose config has no Telemetry expressions never needs (docs/performance.md, Memory). */
function cel(): { cel: Cel; env: ReturnType<Cel['celEnv']> } {
  if (loaded === undefined) {
    const c = createRequire(import.meta.url)('@bufbuild/cel') as Cel;
    loaded = { cel: c, env: c.celEnv() };
  }
  return loaded;
}

/** Request headers as a CEL map, read on demand (a Map subclass: the evaluator accepts only maps). */
class HeaderMap extends Map<string, string> {
  constructor(private readonly h: { header(name: string): string | undefined } | undefined) {
    super();
  }
  override get(k: string): string | undefined {
    return typeof k === 'string' ? this.h?.header(k.toLowerCase()) : undefined;
  }
  override has(k: string): boolean {
    return this.get(k) !== undefined;
  }
}

/** `ip:port` (or `[v6]:port`) -> CEL address and port. */
function endpoint(hostPort: string | undefined): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (!hostPort) return m;
  const i = hostPort.lastIndexOf(':');
  const port = i > 0 ? Number(hostPort.slice(i + 1)) : NaN;
  m.set('address', (i > 0 && Number.isInteger(port) ? hostPort.slice(0, i) : hostPort).replace(/^\[|\]$/g, ''));
  if (Number.isInteger(port)) m.set('port', BigInt(port));
  return m;
}

const isRequest = (r: RequestRecord | TcpRecord): r is RequestRecord => 'status' in r;

/** One attribute root for `r`. */
function root(name: string, r: RequestRecord | TcpRecord): Map<string, unknown> | undefined {
  const req = isRequest(r) ? r : undefined;
  switch (name) {
    case 'request': {
      if (!req) return undefined;
      const q = req.path.indexOf('?');
      const m = new Map<string, unknown>([
        ['path', req.path], ['url_path', q < 0 ? req.path : req.path.slice(0, q)], ['query', q < 0 ? '' : req.path.slice(q + 1)],
        ['host', req.authority], ['method', req.method], ['protocol', req.protocol], ['headers', new HeaderMap(req.requestHeaders)],
        ['size', BigInt(req.bytesReceived)], ['total_size', BigInt(req.bytesReceived)],
      ]);
      if (req.requestId !== undefined) m.set('id', req.requestId);
      if (req.userAgent !== undefined) m.set('useragent', req.userAgent);
      const referer = req.requestHeaders?.header('referer');
      if (referer !== undefined) m.set('referer', referer);
      return m;
    }
    case 'response': {
      if (!req) return undefined;
      const m = new Map<string, unknown>([['code', BigInt(req.status)], ['size', BigInt(req.bytesSent)], ['total_size', BigInt(req.bytesSent)]]);
      if (req.grpcStatus !== undefined && req.grpcStatus !== '') m.set('grpc_status', BigInt(Number(req.grpcStatus) || 0));
      return m;
    }
    case 'source': return endpoint(req?.downstreamRemoteAddress);
    case 'destination': return endpoint(req?.downstreamLocalAddress);
    case 'upstream': return endpoint(r.upstreamHost);
    case 'connection': {
      const m = new Map<string, unknown>([['mtls', r.mtls === true]]);
      if (r.peerPrincipal !== undefined) m.set('uri_san_peer_certificate', r.peerPrincipal);
      return m;
    }
    case 'xds': {
      const m = new Map<string, unknown>();
      if (r.cluster !== undefined) m.set('cluster_name', r.cluster);
      if (req?.route !== undefined) m.set('route_name', req.route);
      return m;
    }
    default: return undefined;
  }
}

/** The identifiers an expression reads (its attribute roots). */
function identifiers(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const n of node) identifiers(n, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.case === 'identExpr') out.add((o.value as { name: string }).name);
    for (const v of Object.values(o)) if (v && typeof v === 'object') identifiers(v, out);
  }
  return out;
}

/** Compiles `src` (already checked by proxy-config validation; a parse error here compiles to "never evaluates"). */
export function compileExpression(src: string): Expression {
  const { cel: { parse, plan, isCelError }, env } = cel();
  let parsed;
  try {
    parsed = parse(src);
  } catch {
    return () => undefined;
  }
  const roots = [...identifiers(parsed.expr, new Set())];
  const run = plan(env, parsed);
  return (r) => {
    try {
      const bindings: Record<string, Map<string, unknown>> = {};
      for (const n of roots) {
        const v = root(n, r);
        if (v) bindings[n] = v;
      }
      const out = run(bindings as never);
      return isCelError(out) ? undefined : out;
    } catch {
      return undefined;
    }
  };
}

/** A CEL value as a label value: Istio's `unknown` when it could not be evaluated. */
export function labelValue(v: unknown): string {
  if (v === undefined || v === null) return 'unknown';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (loaded !== undefined && loaded.cel.isCelUint(v)) return String(v.value); // a CEL value comes only from a compiled expression
  return 'unknown';
}
