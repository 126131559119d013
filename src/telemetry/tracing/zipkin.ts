/** Zipkin v2 JSON encoding (POST /api/v2/spans; Jaeger's Zipkin endpoint accepts it too). */
import type { SpanData } from './span.js';

/** One span in Zipkin v2 JSON shape. */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: 'CLIENT' | 'SERVER';
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  remoteEndpoint?: { ipv4?: string; ipv6?: string; port?: number };
  tags: Record<string, string>;
}

/** Splits `ip:port` / `[v6]:port` / `ip` into a Zipkin endpoint. */
export function zipkinEndpoint(addr: string): ZipkinSpan['remoteEndpoint'] {
  let host = addr;
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr);
  if (v6) {
    host = v6[1]!;
    port = v6[2] ? Number(v6[2]) : undefined;
  } else {
    const i = addr.lastIndexOf(':');
    if (i > 0 && addr.indexOf(':') === i) {
      host = addr.slice(0, i);
      port = Number(addr.slice(i + 1));
    }
  }
  const ep: NonNullable<ZipkinSpan['remoteEndpoint']> = host.includes(':') ? { ipv6: host } : { ipv4: host };
  if (port !== undefined && Number.isInteger(port) && port > 0 && port < 65536) ep.port = port;
  return ep;
}

/** Encodes spans as a Zipkin v2 JSON array. */
export function encodeZipkin(spans: readonly SpanData[]): string {
  const out: ZipkinSpan[] = spans.map((s) => {
    const z: ZipkinSpan = {
      traceId: s.traceId,
      id: s.id,
      name: s.name,
      kind: s.kind,
      timestamp: s.timestampUs,
      duration: Math.max(1, s.durationUs),
      localEndpoint: { serviceName: s.localService },
      tags: s.error ? { ...s.tags, error: 'true' } : s.tags,
    };
    if (s.parentId !== undefined) z.parentId = s.parentId;
    if (s.remoteAddress) z.remoteEndpoint = zipkinEndpoint(s.remoteAddress);
    return z;
  });
  return JSON.stringify(out);
}
