/** OTLP/HTTP JSON encoding of spans (POST /v1/traces), grouped by local service into resourceSpans. */
import { traceId128 } from './context.js';
import type { SpanData } from './span.js';

/** OTLP span kinds: SERVER = 2, CLIENT = 3. */
const KIND = { SERVER: 2, CLIENT: 3 } as const;

function attrs(rec: Record<string, string>): Array<{ key: string; value: { stringValue: string } }> {
  return Object.keys(rec).map((key) => ({ key, value: { stringValue: rec[key]! } }));
}

/** Microseconds to a nanosecond decimal string (OTLP JSON carries 64-bit integers as strings). */
function nanos(us: number): string {
  return `${Math.floor(us)}000`;
}

/** Encodes spans as an OTLP ExportTraceServiceRequest in JSON. */
export function encodeOtlp(spans: readonly SpanData[]): string {
  const byService = new Map<string, SpanData[]>();
  for (const s of spans) {
    const list = byService.get(s.localService);
    if (list) list.push(s);
    else byService.set(s.localService, [s]);
  }
  const resourceSpans = [...byService].map(([service, list]) => ({
    resource: { attributes: attrs({ 'service.name': service }) },
    scopeSpans: [
      {
        scope: { name: 'bowline-proxy' },
        spans: list.map((s) => {
          const tags: Record<string, string> = { ...s.tags };
          if (s.remoteAddress) tags['net.peer.address'] = s.remoteAddress;
          const o: Record<string, unknown> = {
            traceId: traceId128(s.traceId),
            spanId: s.id,
            name: s.name,
            kind: KIND[s.kind],
            startTimeUnixNano: nanos(s.timestampUs),
            endTimeUnixNano: nanos(s.timestampUs + Math.max(1, s.durationUs)),
            attributes: attrs(tags),
            status: s.error ? { code: 2 } : { code: 0 },
          };
          if (s.parentId !== undefined) o['parentSpanId'] = s.parentId;
          return o;
        }),
      },
    ],
  }));
  return JSON.stringify({ resourceSpans });
}
