/**
 * External authorization over gRPC (AuthorizationPolicy CUSTOM with a MeshConfig
 * `envoyExtAuthzGrpc` provider), as Envoy's ext_authz filter with a gRPC service does it: one
 * unary call `envoy.service.auth.v3.Authorization/Check` per request, over HTTP/2 on our own
 * codec (h2/wire-session.ts) to an endpoint of the provider's cluster, with that cluster's TLS.
 *  - the CheckRequest carries the source and destination addresses, the peer's principal and the
 *    HTTP request: id, method, every header (pseudo-headers included, several values joined by
 *    `,`), path with its query, host, scheme, size (-1 when unknown) and protocol;
 *  - status code 0 allows: ok_response headers are set on the request sent upstream (or added,
 *    with `append`), headers_to_remove removed;
 *  - any other code denies: the client gets denied_response's status (403 when absent), its
 *    headers and body;
 *  - a transport failure, a non-200 or non-gRPC answer, a grpc-status other than OK, a malformed
 *    message or the timeout is an error: fail closed (`statusOnError`, default 403) unless
 *    `failOpen`.
 * One HTTP/2 session per provider endpoint is kept while checks use it and closed when idle.
 */
import { connect } from 'node:net';
import type { ClusterManager } from '../cluster/index.js';
import { WireSession } from '../h2/wire-session.js';
import type { Headers } from '../http/head.js';
import { clientRefusedAfterHandshake, connectUpstreamTls, offersClientCertificate } from '../tls/upstream.js';
import type { ProxyStats } from '../stats.js';
import { type CheckAttributes, decodeCheckResponse, encodeCheckRequest } from './ext-authz-grpc-wire.js';
import type { CheckInput, CompiledExtAuthz, ExtAuthzOutcome } from './ext-authz.js';

/** The Check method's path. */
const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
/** Largest CheckResponse accepted. */
const MAX_MESSAGE = 1 << 20;
/** An idle session is closed after this long. */
const IDLE_MS = 30_000;

/** Open sessions of one compiled provider, by endpoint. */
export class GrpcSessions {
  private readonly sessions = new Map<string, { session: WireSession; idle?: NodeJS.Timeout }>();

  /** A usable session to `key`, made with `make` when there is none. */
  get(key: string, make: () => WireSession): WireSession {
    const s = this.sessions.get(key);
    if (s && s.session.usable) {
      if (s.idle) clearTimeout(s.idle);
      s.idle = undefined;
      return s.session;
    }
    const session = make();
    this.sessions.set(key, { session });
    return session;
  }

  /** Closes `key`'s session if no check uses it after IDLE_MS. */
  idle(key: string): void {
    const s = this.sessions.get(key);
    if (!s || s.session.active > 0) return;
    if (s.idle) clearTimeout(s.idle);
    s.idle = setTimeout(() => { if (s.session.active === 0) { s.session.destroy(); this.sessions.delete(key); } }, IDLE_MS);
    s.idle.unref();
  }

  /** Closes every session (the provider is replaced). */
  close(): void {
    for (const s of this.sessions.values()) { if (s.idle) clearTimeout(s.idle); s.session.destroy(); }
    this.sessions.clear();
  }
}

/** `ip:port` / `[v6]:port` -> address and port. */
function split(hostPort: string | undefined): { address: string; port?: number } | undefined {
  if (!hostPort) return undefined;
  const i = hostPort.lastIndexOf(':');
  const port = Number(hostPort.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) return { address: hostPort };
  return { address: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** The request's attributes as Envoy sends them. */
export function checkAttributes(input: CheckInput, now: number): CheckAttributes {
  const headers = new Map<string, string>();
  headers.set(':authority', input.host ?? '');
  headers.set(':method', input.method);
  headers.set(':path', input.path);
  headers.set(':scheme', input.scheme ?? 'http');
  for (let i = 0; i < input.names.length; i++) {
    const n = input.names[i]!;
    if (n === 'host') continue;
    const prev = headers.get(n);
    headers.set(n, prev === undefined ? input.values[i]! : `${prev},${input.values[i]!}`);
  }
  const length = Number(headers.get('content-length'));
  const src = split(input.source);
  return {
    ...(src ? { source: { ...src, ...(input.peerIdentity ? { principal: input.peerIdentity } : {}) } } : {}),
    ...(input.destinationPort ? { destination: { address: '', port: input.destinationPort } } : {}),
    time: now,
    http: {
      ...(headers.has('x-request-id') ? { id: headers.get('x-request-id') } : {}),
      method: input.method, headers: [...headers], path: input.path, host: input.host ?? '', scheme: input.scheme ?? 'http',
      size: Number.isInteger(length) && length >= 0 && headers.has('content-length') ? length : -1, protocol: input.protocol ?? 'HTTP/1.1',
    },
  };
}

/** A 5-byte gRPC length prefix and the message. */
function frame(msg: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  b.set(msg, 5);
  return b;
}

/** Sends one Check to an endpoint of the provider's cluster; never rejects. */
export function checkGrpc(clusters: ClusterManager, p: CompiledExtAuthz, sessions: GrpcSessions, input: CheckInput, now = Date.now(), stats?: ProxyStats): Promise<ExtAuthzOutcome> {
  const c = p.config;
  const picked = clusters.pick(c.cluster);
  if (picked === undefined) return Promise.resolve({ kind: 'error', reason: `no healthy endpoint in ${c.cluster} for provider ${c.name}` });
  const ep = picked.endpoint;
  const tls = clusters.get(c.cluster)?.tls;
  const session = sessions.get(ep.key, () => new WireSession(
    tls !== undefined ? connectUpstreamTls(tls, ep.address, ep.port, ep.config.identity, ['h2'], undefined, stats) : connect({ host: ep.address, port: ep.port }),
    tls !== undefined, () => undefined, () => undefined, () => undefined, undefined,
    () => (offersClientCertificate(tls) ? clientRefusedAfterHandshake(stats) : undefined),
  ));
  return new Promise((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    const done = (o: ExtAuthzOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clusters.report(ep, o.kind === 'error' ? (status ? { status } : { connectFailure: true }) : { status: 200 });
      session.active--;
      sessions.idle(ep.key);
      resolve(o);
    };
    const fromHeaders = (h: Headers): void => {
      const s = h.get('grpc-status');
      if (s !== undefined) grpcStatus = s;
      const m = h.get('grpc-message');
      if (m !== undefined) grpcMessage = decodeURIComponent(m);
    };
    session.active++;
    const call = session.open({
      ':method': 'POST', ':scheme': tls !== undefined ? 'https' : 'http', ':path': CHECK_PATH, ':authority': c.authority,
      'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${c.timeoutMs}m`, 'user-agent': 'bowline-ext-authz',
    }, false, {
      onResponse: (st, h) => { status = st; fromHeaders(h); },
      onData: (d) => { if (size <= MAX_MESSAGE + 5) { chunks.push(d); size += d.length; } return true; },
      onTrailers: (h) => fromHeaders(h),
      onEnd: () => done(outcome(p, status, grpcStatus, grpcMessage, Buffer.concat(chunks))),
      onFailure: (_kind, message) => done({ kind: 'error', reason: `provider ${c.name} at ${ep.key}: ${message}` }),
    }, () => undefined);
    const timer = setTimeout(() => { call.abort(); done({ kind: 'error', reason: `provider ${c.name} did not answer within ${c.timeoutMs} ms` }); }, c.timeoutMs);
    call.write(frame(encodeCheckRequest(checkAttributes(input, now))));
    call.end();
  });
}

/** The outcome of a finished call. */
function outcome(p: CompiledExtAuthz, status: number, grpcStatus: string | undefined, grpcMessage: string, body: Buffer): ExtAuthzOutcome {
  const name = p.config.name;
  if (status !== 200) return { kind: 'error', reason: `provider ${name} answered HTTP ${status}` };
  if (grpcStatus !== '0') return { kind: 'error', reason: `provider ${name} failed the call: grpc-status ${grpcStatus ?? 'missing'}${grpcMessage ? ` (${grpcMessage})` : ''}` };
  if (body.length < 5 || body[0] !== 0) return { kind: 'error', reason: `provider ${name} sent no uncompressed CheckResponse` };
  const len = body.readUInt32BE(1);
  if (len > MAX_MESSAGE || body.length < 5 + len) return { kind: 'error', reason: `provider ${name} sent a truncated or oversized CheckResponse` };
  let r;
  try {
    r = decodeCheckResponse(body.subarray(5, 5 + len));
  } catch (err) {
    return { kind: 'error', reason: `provider ${name} sent a malformed CheckResponse: ${(err as Error).message}` };
  }
  if (r.code === 0) {
    const headers = r.ok?.headers ?? [];
    return {
      kind: 'allow',
      upstreamHeaders: headers.filter((h) => !h.append).map((h) => [h.key, h.value] as [string, string]),
      ...(headers.some((h) => h.append) ? { appendHeaders: headers.filter((h) => h.append).map((h) => [h.key, h.value] as [string, string]) } : {}),
      ...(r.ok?.remove.length ? { removeHeaders: r.ok.remove } : {}),
      reason: `allowed by provider ${name}`,
    };
  }
  const d = r.denied;
  const st = d && d.status >= 200 && d.status <= 599 ? d.status : 403;
  return { kind: 'deny', status: st, body: d?.body ?? '', headers: (d?.headers ?? []).map((h) => [h.key, h.value] as [string, string]), reason: `denied by provider ${name} (code ${r.code}${r.message ? `: ${r.message}` : ''})` };
}
