/**
 * External authorization over HTTP (AuthorizationPolicy action CUSTOM with a MeshConfig
 * `envoyExtAuthzHttp` provider), as Envoy's ext_authz filter with an HTTP service does it:
 *  - the check request has the client request's method, the provider's `pathPrefix` + the path,
 *    Host = the provider's service, `content-length: 0` and no body, plus the request headers the
 *    provider names (`includeRequestHeaders`) and its fixed `includeAdditionalHeaders`;
 *  - 200 allows: the response headers named by `headersToUpstreamOnAllow` are set on the request
 *    sent upstream;
 *  - any other status below 500 denies: the client gets that status, the body and the headers
 *    `headersToDownstreamOnDeny` names (all of them but hop-by-hop ones when absent);
 *  - a 5xx, a connect failure, a reset or the timeout is an error: the request is refused with
 *    `statusOnError` (default 403) unless the provider says `failOpen` (fail closed otherwise).
 * The check goes to an endpoint of the provider's cluster, with that cluster's upstream TLS.
 * A `protocol: 'grpc'` provider is asked over gRPC instead (ext-authz-grpc.ts).
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import type { ExtAuthzHttp } from '../../proxy-config/types.js';
import type { ClusterManager } from '../cluster/index.js';
import { connectUpstreamTls } from '../tls/upstream.js';
import type { ProxyStats } from '../stats.js';
import type * as ExtAuthzGrpc from './ext-authz-grpc.js';
import type { GrpcSessions } from './ext-authz-grpc.js';

let httpModule: typeof Http | undefined;

/** The gRPC client (ext-authz-grpc.ts: our HTTP/2 codec and protobufjs), loaded with the first gRPC check: a proxy without a gRPC provider never holds it. */
let grpcLoading: Promise<typeof ExtAuthzGrpc> | undefined;

/** The stable code logged when a check cannot be made (docs/errors.md). */
export const EXT_AUTHZ_ERROR_CODE = 'BOWLINE_E_EXT_AUTHZ_UNAVAILABLE';
/** Largest check response body kept (the rest is dropped). */
const MAX_BODY = 64 * 1024;
/** Never forwarded from a check response to the client: they describe the check's own message. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host', 'date', 'server']);

/** What one check decided. */
export type ExtAuthzOutcome =
  | { kind: 'allow'; upstreamHeaders: Array<[string, string]>; appendHeaders?: Array<[string, string]>; removeHeaders?: string[]; reason: string }
  | { kind: 'deny'; status: number; body: string; headers: Array<[string, string]>; reason: string }
  | { kind: 'error'; reason: string };

/** What the check needs from the client request. */
export interface CheckInput {
  method: string;
  path: string;
  /** A request header's values by lowercase name, in order; `names` lists every header name present. */
  names: readonly string[];
  values: readonly string[];
  /** For the gRPC service's attribute context: the Host, scheme, protocol, the client's `ip:port`, the listener's port and the client's verified SPIFFE id ('' when none). */
  host?: string;
  scheme?: string;
  protocol?: string;
  source?: string;
  destinationPort?: number;
  peerIdentity?: string;
}

/** A header-name pattern list compiled to a test: exact lowercase names, `prefix*`, `*suffix`. */
export function headerPatterns(list: readonly string[] | undefined): ((name: string) => boolean) | undefined {
  if (list === undefined) return undefined;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  for (const p of list) {
    const l = p.toLowerCase();
    if (l.endsWith('*')) prefixes.push(l.slice(0, -1));
    else if (l.startsWith('*')) suffixes.push(l.slice(1));
    else exact.add(l);
  }
  return (n) => exact.has(n) || prefixes.some((p) => n.startsWith(p)) || suffixes.some((s) => n.endsWith(s));
}

/** The provider with its patterns compiled once per config. */
export interface CompiledExtAuthz {
  readonly config: ExtAuthzHttp;
  readonly includeRequest: (name: string) => boolean;
  readonly toUpstream: ((name: string) => boolean) | undefined;
  readonly toDownstreamOnDeny: ((name: string) => boolean) | undefined;
  /** The gRPC service's HTTP/2 sessions (protocol grpc only; made with the first check). */
  readonly grpc?: { sessions?: GrpcSessions };
}

/** Compiles a provider's header patterns. */
export function compileExtAuthz(config: ExtAuthzHttp): CompiledExtAuthz {
  return {
    config,
    includeRequest: headerPatterns(config.includeRequestHeaders) ?? (() => false),
    toUpstream: headerPatterns(config.headersToUpstreamOnAllow),
    toDownstreamOnDeny: headerPatterns(config.headersToDownstreamOnDeny),
    ...(config.protocol === 'grpc' ? { grpc: {} } : {}),
  };
}

/** The headers of a check request (Host, content-length 0, the included request headers, the fixed ones). */
export function checkHeaders(p: CompiledExtAuthz, input: CheckInput): Array<[string, string]> {
  const out: Array<[string, string]> = [['host', p.config.authority]];
  for (let i = 0; i < input.names.length; i++) {
    const n = input.names[i]!;
    if (n === 'host' || n === 'content-length' || HOP_BY_HOP.has(n)) continue;
    if (p.includeRequest(n)) out.push([n, input.values[i]!]);
  }
  for (const [k, v] of Object.entries(p.config.includeAdditionalHeaders ?? {})) out.push([k, v]);
  out.push(['content-length', '0']);
  return out;
}

function pairs(raw: string[], keep: (name: string) => boolean): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(n) && keep(n)) out.push([n, raw[i + 1]!]);
  }
  return out;
}

/** Sends one check to an endpoint of the provider's cluster; never rejects. A TLS failure caused by the provider's certificate is named in the reason and counted in `stats` (upstreamTls*), as for any upstream. */
export function checkExternal(clusters: ClusterManager, p: CompiledExtAuthz, input: CheckInput, stats?: ProxyStats): Promise<ExtAuthzOutcome> {
  const grpc = p.grpc;
  if (grpc) return (grpcLoading ??= import('./ext-authz-grpc.js')).then((m) => m.checkGrpc(clusters, p, (grpc.sessions ??= new m.GrpcSessions()), input, undefined, stats), (err: unknown): ExtAuthzOutcome => ({ kind: 'error', reason: `gRPC client not loaded: ${String(err)}` }));
  const c = p.config;
  const picked = clusters.pick(c.cluster);
  if (picked === undefined) return Promise.resolve({ kind: 'error', reason: `no healthy endpoint in ${c.cluster} for provider ${c.name}` });
  const ep = picked.endpoint;
  const tls = clusters.get(c.cluster)?.tls;
  const path = (c.pathPrefix ?? '') + input.path;
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: ExtAuthzOutcome, status?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clusters.report(ep, o.kind === 'error' ? (status !== undefined ? { status } : { connectFailure: true }) : { status: o.kind === 'allow' ? 200 : (status ?? 403) });
      resolve(o);
    };
    // node:http is required by the first HTTP check only (a proxy without ext_authz never loads it).
    const req = (httpModule ??= createRequire(import.meta.url)('node:http') as typeof Http).request({
      method: input.method,
      path: path.startsWith('/') ? path : `/${path}`,
      headers: checkHeaders(p, input).flat(),
      setHost: false,
      createConnection: () => (tls !== undefined ? connectUpstreamTls(tls, ep.address, ep.port, ep.config.identity, undefined, undefined, stats) : connect({ host: ep.address, port: ep.port })),
    }, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => { if (size < MAX_BODY) { chunks.push(d); size += d.length; } });
      res.on('error', () => done({ kind: 'error', reason: `provider ${c.name} reset the check response` }));
      res.on('end', () => {
        if (status >= 500 || status < 200) return done({ kind: 'error', reason: `provider ${c.name} answered ${status}` }, status);
        if (status === 200) return done({ kind: 'allow', upstreamHeaders: p.toUpstream ? pairs(res.rawHeaders, p.toUpstream) : [], reason: `allowed by provider ${c.name}` });
        const body = Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8');
        done({ kind: 'deny', status, body, headers: pairs(res.rawHeaders, p.toDownstreamOnDeny ?? (() => true)), reason: `denied by provider ${c.name} (${status})` }, status);
      });
    });
    const timer = setTimeout(() => { done({ kind: 'error', reason: `provider ${c.name} did not answer within ${c.timeoutMs} ms` }); req.destroy(); }, c.timeoutMs);
    req.on('error', (err) => done({ kind: 'error', reason: `provider ${c.name} at ${ep.key} cannot be reached: ${err.message}` }));
    req.end();
  });
}
