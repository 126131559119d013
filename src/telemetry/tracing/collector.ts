/**
 * A minimal in-memory trace collector speaking Zipkin v2 (`POST /api/v2/spans`) and OTLP/HTTP
 * JSON (`POST /v1/traces`). Every body is checked against the format's schema; invalid bodies
 * get 400 and are recorded as errors. Used by tests and for local debugging of a mesh.
 */
import http from 'node:http';

/** A span as received, normalised across both formats. */
export interface CollectedSpan {
  format: 'zipkin' | 'otlp';
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: string;
  service: string;
  tags: Record<string, string>;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const KINDS = ['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkEndpoint(e: unknown, where: string): string[] {
  if (e === undefined) return [];
  if (!isObj(e)) return [`${where}: not an object`];
  const errs: string[] = [];
  if (e['serviceName'] !== undefined && typeof e['serviceName'] !== 'string') errs.push(`${where}.serviceName: not a string`);
  if (e['ipv4'] !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(String(e['ipv4']))) errs.push(`${where}.ipv4: not an IPv4 address`);
  if (e['ipv6'] !== undefined && typeof e['ipv6'] !== 'string') errs.push(`${where}.ipv6: not a string`);
  if (e['port'] !== undefined && !(Number.isInteger(e['port']) && (e['port'] as number) > 0 && (e['port'] as number) < 65536)) errs.push(`${where}.port: not a port`);
  return errs;
}

/** Checks a body against the Zipkin v2 span list schema (zipkin2-api.yaml); returns violations. */
export function validateZipkinV2(body: unknown): string[] {
  if (!Array.isArray(body)) return ['body: not an array of spans'];
  const errs: string[] = [];
  body.forEach((s, i) => {
    const at = `[${i}]`;
    if (!isObj(s)) return void errs.push(`${at}: not an object`);
    if (typeof s['traceId'] !== 'string' || !(HEX16.test(s['traceId']) || HEX32.test(s['traceId']))) errs.push(`${at}.traceId: must be 16 or 32 lowercase hex`);
    if (typeof s['id'] !== 'string' || !HEX16.test(s['id'])) errs.push(`${at}.id: must be 16 lowercase hex`);
    if (s['parentId'] !== undefined && (typeof s['parentId'] !== 'string' || !HEX16.test(s['parentId']))) errs.push(`${at}.parentId: must be 16 lowercase hex`);
    if (s['name'] !== undefined && typeof s['name'] !== 'string') errs.push(`${at}.name: not a string`);
    if (s['kind'] !== undefined && !KINDS.includes(String(s['kind']))) errs.push(`${at}.kind: not one of ${KINDS.join(', ')}`);
    if (s['timestamp'] !== undefined && !(Number.isInteger(s['timestamp']) && (s['timestamp'] as number) > 0)) errs.push(`${at}.timestamp: not positive integer microseconds`);
    if (s['duration'] !== undefined && !(Number.isInteger(s['duration']) && (s['duration'] as number) >= 1)) errs.push(`${at}.duration: not an integer >= 1`);
    errs.push(...checkEndpoint(s['localEndpoint'], `${at}.localEndpoint`), ...checkEndpoint(s['remoteEndpoint'], `${at}.remoteEndpoint`));
    if (s['tags'] !== undefined) {
      if (!isObj(s['tags'])) errs.push(`${at}.tags: not an object`);
      else for (const [k, v] of Object.entries(s['tags'])) if (typeof v !== 'string') errs.push(`${at}.tags.${k}: not a string`);
    }
    if (s['annotations'] !== undefined && !Array.isArray(s['annotations'])) errs.push(`${at}.annotations: not an array`);
    for (const b of ['debug', 'shared']) if (s[b] !== undefined && typeof s[b] !== 'boolean') errs.push(`${at}.${b}: not a boolean`);
  });
  return errs;
}

/** Checks an OTLP/HTTP JSON ExportTraceServiceRequest; returns violations. */
export function validateOtlp(body: unknown): string[] {
  if (!isObj(body) || !Array.isArray(body['resourceSpans'])) return ['body.resourceSpans: missing or not an array'];
  const errs: string[] = [];
  body['resourceSpans'].forEach((rs: unknown, i: number) => {
    if (!isObj(rs) || !Array.isArray(rs['scopeSpans'])) return void errs.push(`resourceSpans[${i}].scopeSpans: missing`);
    rs['scopeSpans'].forEach((ss: unknown, j: number) => {
      if (!isObj(ss) || !Array.isArray(ss['spans'])) return void errs.push(`resourceSpans[${i}].scopeSpans[${j}].spans: missing`);
      ss['spans'].forEach((s: unknown, k: number) => {
        const at = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        if (!isObj(s)) return void errs.push(`${at}: not an object`);
        if (typeof s['traceId'] !== 'string' || !HEX32.test(s['traceId'])) errs.push(`${at}.traceId: must be 32 lowercase hex`);
        if (typeof s['spanId'] !== 'string' || !HEX16.test(s['spanId'])) errs.push(`${at}.spanId: must be 16 lowercase hex`);
        if (s['parentSpanId'] !== undefined && s['parentSpanId'] !== '' && !HEX16.test(String(s['parentSpanId']))) errs.push(`${at}.parentSpanId: must be 16 lowercase hex`);
        if (typeof s['name'] !== 'string') errs.push(`${at}.name: missing`);
        if (!Number.isInteger(s['kind']) || (s['kind'] as number) < 0 || (s['kind'] as number) > 5) errs.push(`${at}.kind: not a SpanKind number`);
        for (const t of ['startTimeUnixNano', 'endTimeUnixNano']) if (!/^\d+$/.test(String(s[t]))) errs.push(`${at}.${t}: not an integer string`);
        if (BigInt(String(s['endTimeUnixNano'] ?? 0)) < BigInt(String(s['startTimeUnixNano'] ?? 0))) errs.push(`${at}: ends before it starts`);
        if (s['attributes'] !== undefined && !Array.isArray(s['attributes'])) errs.push(`${at}.attributes: not an array`);
      });
    });
  });
  return errs;
}

function attrMap(a: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(a)) for (const x of a) if (isObj(x) && isObj(x['value'])) out[String(x['key'])] = String(x['value']['stringValue'] ?? JSON.stringify(x['value']));
  return out;
}

/** A running collector. */
export interface Collector {
  url: string;
  spans: CollectedSpan[];
  /** Schema violations seen (should stay empty). */
  errors: string[];
  close(): Promise<void>;
}

/** Starts a collector on loopback (port 0 by default). */
export async function startCollector(port = 0): Promise<Collector> {
  const spans: CollectedSpan[] = [];
  const errors: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        errors.push(`${req.url}: body is not JSON`);
        res.writeHead(400).end();
        return;
      }
      if (req.method === 'POST' && req.url === '/api/v2/spans') {
        const errs = validateZipkinV2(body);
        if (errs.length) {
          errors.push(...errs);
          res.writeHead(400).end(errs.join('\n'));
          return;
        }
        for (const s of body as Array<Record<string, any>>) {
          spans.push({ format: 'zipkin', traceId: s['traceId'], id: s['id'], parentId: s['parentId'], name: s['name'] ?? '', kind: s['kind'] ?? '', service: s['localEndpoint']?.serviceName ?? '', tags: s['tags'] ?? {} });
        }
        res.writeHead(202).end();
      } else if (req.method === 'POST' && req.url === '/v1/traces') {
        const errs = validateOtlp(body);
        if (errs.length) {
          errors.push(...errs);
          res.writeHead(400).end(errs.join('\n'));
          return;
        }
        for (const rs of (body as any).resourceSpans) {
          const service = attrMap(rs.resource?.attributes)['service.name'] ?? '';
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              spans.push({ format: 'otlp', traceId: s.traceId, id: s.spanId, parentId: s.parentSpanId || undefined, name: s.name, kind: s.kind === 2 ? 'SERVER' : s.kind === 3 ? 'CLIENT' : String(s.kind), service, tags: attrMap(s.attributes) });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const p = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${p}`,
    spans,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
