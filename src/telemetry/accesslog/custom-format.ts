/**
 * Access log lines in the format the mesh config chose (`accessLogFormat`, parsed by the control
 * plane into parts): each part compiled once per config into a function of the finished request.
 * Values follow Envoy's conventions: `-` for an absent value in text, null in JSON (numbers stay
 * numbers when a JSON field is exactly one numeric operator).
 */
import { hostname } from 'node:os';
import type { AccessLogPart } from '../../proxy-config/index.js';
import type { RequestRecord } from '../record.js';
import type { LogIdentities } from './format.js';

type Value = string | number | undefined;
type Getter = (r: RequestRecord, id: LogIdentities) => Value;

const HOST = hostname();
const withoutPort = (a: string | undefined): string | undefined => (a === undefined ? undefined : a.startsWith('[') ? a.slice(0, a.indexOf(']') + 1) : a.replace(/:\d+$/, ''));

/** The request's value of a header for %REQ(...)%; pseudo-headers come from the record. */
function requestHeader(r: RequestRecord, name: string): string | undefined {
  switch (name) {
    case ':path': return r.path;
    case ':method': return r.method;
    case ':authority': case 'host': return r.authority;
    case 'user-agent': return r.userAgent ?? r.requestHeaders?.header(name);
    case 'x-forwarded-for': return r.xForwardedFor ?? r.requestHeaders?.header(name);
    case 'x-request-id': return r.requestId ?? r.requestHeaders?.header(name);
    default: return r.requestHeaders?.header(name);
  }
}

const SIMPLE: Record<string, Getter> = {
  START_TIME: (r) => new Date(r.startTime).toISOString(),
  PROTOCOL: (r) => r.protocol,
  RESPONSE_CODE: (r) => r.status,
  RESPONSE_FLAGS: (r) => r.responseFlags || '-',
  BYTES_RECEIVED: (r) => r.bytesReceived,
  BYTES_SENT: (r) => r.bytesSent,
  DURATION: (r) => Math.round(r.durationMs),
  UPSTREAM_HOST: (r) => r.upstreamHost,
  UPSTREAM_CLUSTER: (r) => r.cluster,
  ROUTE_NAME: (r) => r.route,
  DOWNSTREAM_REMOTE_ADDRESS: (r) => r.downstreamRemoteAddress,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (r) => withoutPort(r.downstreamRemoteAddress),
  DOWNSTREAM_PEER_URI_SAN: (r) => r.peerPrincipal,
  TRACE_ID: (r) => r.trace?.traceId,
  HOSTNAME: () => HOST,
};

function getter(p: Exclude<AccessLogPart, string>): Getter {
  let g: Getter;
  if (p.op === 'REQ') {
    const h = p.header!;
    const alt = p.altHeader;
    g = alt === undefined ? (r) => requestHeader(r, h) : (r) => requestHeader(r, h) ?? requestHeader(r, alt);
  } else if (p.op === 'RESP') {
    g = (r) => (r.upstreamServiceTimeMs === undefined ? undefined : Math.round(r.upstreamServiceTimeMs));
  } else {
    g = SIMPLE[p.op] ?? (() => undefined);
  }
  const max = p.maxLength;
  if (max === undefined) return g;
  return (r, id) => { const v = g(r, id); return typeof v === 'string' ? v.slice(0, max) : v; };
}

const text = (v: Value): string => (v === undefined || v === '' ? '-' : String(v));

/** Compiles parts into a function writing one text value (line or JSON field). */
function compileText(parts: readonly AccessLogPart[]): (r: RequestRecord, id: LogIdentities) => string {
  const fns = parts.map((p): ((r: RequestRecord, id: LogIdentities) => string) => (typeof p === 'string' ? () => p : ((g) => (r, id) => text(g(r, id)))(getter(p))));
  return (r, id) => { let s = ''; for (const f of fns) s += f(r, id); return s; };
}

/** A compiled format: one access-log line per finished request. */
export type CompiledFormat = (r: RequestRecord, id: LogIdentities) => string;

/** Compiles a TEXT format. */
export function compileTextFormat(parts: readonly AccessLogPart[]): CompiledFormat {
  return compileText(parts);
}

/** Compiles a JSON format: one field per key; a field that is exactly one operator keeps its type (number or null). */
export function compileJsonFormat(fields: ReadonlyArray<{ key: string; parts: readonly AccessLogPart[] }>): CompiledFormat {
  const fns = fields.map(({ key, parts }): [string, (r: RequestRecord, id: LogIdentities) => Value | null] => {
    if (parts.length === 1 && typeof parts[0] !== 'string') {
      const g = getter(parts[0]!);
      return [key, (r, id) => { const v = g(r, id); return v === undefined || v === '' ? null : v; }];
    }
    return [key, compileText(parts)];
  });
  return (r, id) => {
    const o: Record<string, Value | null> = {};
    for (const [k, f] of fns) o[k] = f(r, id);
    return JSON.stringify(o);
  };
}
