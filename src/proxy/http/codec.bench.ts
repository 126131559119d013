/**
 * Micro-benchmark of the HTTP/1.1 codec's per-request work on the proxy's hot path: parse the
 * request head, write the upstream head, parse the upstream response head, write the response
 * head (no sockets, no pipeline). Two shapes: wrk's bare request against nginx's response (the
 * proxy benchmark's), and a browser-like request (12 fields, mixed-case names) against an
 * application's response. Run by hand: node --import tsx src/proxy/http/codec.bench.ts [--json]
 *
 * `--telemetry on|notrace|nometrics`: the telemetry hooks run around the codec as the proxy runs
 * them (src/telemetry/proxy-hooks.ts with the proxy benchmark's config, 1 % sampling: trace fields and
 * the peer-metadata field added to the upstream head, the response's peer metadata taken, the
 * request counted): telemetry's JavaScript per request without sockets, to set beside the
 * proxy's CPU per request in bench/telemetry-ab.ts. One mode per process (a process that ran
 * both would optimise for both); run it with node's proxy flags (src/proxy/node-flags.ts).
 */
import { endToEndFields, requestHead, responseHead } from './serialize.js';
import { parseRequestHead, type RequestHead } from './request-head.js';
import { parseResponseHead, type ResponseHead } from './response-head.js';
import { flagsText } from '../record.js';
import { createProxyTelemetry, type TelemetryConfig } from '../../telemetry/telemetry.js';
import { telemetryHooks, type ProxyRecordView, type TelemetryHooks } from '../../telemetry/proxy-hooks.js';

const SHAPES = {
  wrk: {
    req: 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n',
    res: 'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 07:20:00 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok',
  },
  browser: {
    req: 'GET /reviews/0?user=jason HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n'
      + 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n'
      + 'Cookie: session=0123456789abcdef; user=jason\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\nX-Request-Id: f0e1d2c3-b4a5-4697-8a7b-6c5d4e3f2a1b\r\n'
      + 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nX-Forwarded-Proto: http\r\nReferer: http://productpage:9080/productpage\r\n\r\n',
    res: 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 295\r\nDate: Wed, 02 Dec 2026 07:20:00 GMT\r\nServer: istio-envoy\r\nX-Powered-By: Servlet/3.1\r\nContent-Language: en-US\r\nCache-Control: no-store\r\nVary: Accept-Encoding\r\n\r\n',
  },
};

const mode = process.argv.includes('--telemetry') ? process.argv[process.argv.indexOf('--telemetry') + 1] ?? 'on' : 'off';
if (!['on', 'notrace', 'nometrics', 'off'].includes(mode)) throw new Error(`--telemetry on|notrace|nometrics|off, not ${mode}`);
/** bench/proxy.ts's proxy as telemetry sees it: an outbound listener, a mesh cluster with one endpoint, Istio's 1 % sampling. */
const CONFIG = {
  node: { id: 'bench', role: 'sidecar', workload: 'bench', namespace: 'default', serviceAccount: 'bench', labels: { app: 'bench' } },
  mesh: { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'ALLOW_ANY' },
  listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'reviews' } }] }],
  clusters: [{ name: 'reviews-v1', discovery: 'eds', protocol: 'http1' }],
  endpoints: [{ cluster: 'reviews-v1', endpoints: [{ address: '127.0.0.1', port: 80 }] }],
} as unknown as TelemetryConfig;
const hooks: TelemetryHooks | undefined = mode === 'off' ? undefined : telemetryHooks(
  createProxyTelemetry({ config: CONFIG, tracing: mode !== 'notrace', metrics: mode !== 'nometrics' }), { flagsText });
/** The exchange's record as telemetry reads it: one object refilled per request (the proxy's is its exchange, made anyway). */
let current: RequestHead | undefined;
const rec: ProxyRecordView = {
  startTime: 0, durationMs: 0.4, method: '', authority: '', path: '', status: 200, flags: 0, bytesIn: 0, bytesOut: 2,
  upstreamHost: '127.0.0.1:80', cluster: 'reviews-v1', routeName: 'hot', requestId: '', downstreamRemote: '127.0.0.1:40000',
  peerIdentity: '', upstreamPeerIdentity: '', listener: 'outbound', header: (n) => current!.headers.get(n), telemetry: undefined,
};
function record(h: RequestHead): ProxyRecordView {
  current = h;
  rec.method = h.method;
  rec.authority = h.authority;
  rec.path = h.path;
  rec.telemetry = undefined;
  return rec;
}

const out = Buffer.allocUnsafe(16 * 1024);

function once(req: Buffer, res: Buffer): number {
  const h = parseRequestHead(req, 0, req.length, 65536) as RequestHead;
  const x = hooks !== undefined ? record(h) : undefined;
  if (x !== undefined) hooks!.onRequestHeaders(x, h.headers);
  const up = requestHead(h.method, h.path, h.authority, endToEndFields(h.headers, h.connectionTokens), { kind: 'none' }, undefined);
  const r = parseResponseHead(res, 0, res.length, h.method, 65536) as ResponseHead;
  if (x !== undefined) hooks!.onResponseHeaders(x, r.headers);
  const down = responseHead(r.status, r.reason, endToEndFields(r.headers, r.connectionTokens), { kind: 'length', length: r.contentLength }, true, false);
  // Both heads written out as a socket write does (node's writeLatin1String: the cons string flattened, then copied).
  const n = out.write(up, 0, 'latin1') + out.write(down, 0, 'latin1');
  if (x !== undefined) hooks!.onRequestComplete(x);
  return n;
}

function measure(name: string, req: Buffer, res: Buffer, n: number): number {
  let sink = 0;
  for (let i = 0; i < 50_000; i++) sink += once(req, res);
  // CPU time, not wall time: on a shared machine the process is often waiting for a core.
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) sink += once(req, res);
  const t = process.cpuUsage(t0);
  const ns = ((t.user + t.system) * 1000) / n;
  if (sink < 0) console.log(sink);
  console.error(`${name.padEnd(10)} ${ns.toFixed(0)} ns/request`);
  return ns;
}

const N = 300_000;
const best: Record<string, number> = {};
for (let pass = 0; pass < 3; pass++) {
  for (const [name, s] of Object.entries(SHAPES)) {
    best[name] = Math.min(best[name] ?? Infinity, measure(name, Buffer.from(s.req, 'latin1'), Buffer.from(s.res, 'latin1'), N));
  }
}
const result = Object.fromEntries(Object.entries(best).map(([k, v]) => [`codec_ns_per_req_${k}${mode === 'off' ? '' : `_telemetry_${mode}`}`, Math.round(v)]));
if (process.argv.includes('--json')) console.log(JSON.stringify(result));
else console.log(result);
