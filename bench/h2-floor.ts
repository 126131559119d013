/**
 * The floor of an HTTP/2 proxy on node:http2, for `npm run bench -- proxy` (node_h2_floor_cpu_us_per_req):
 * a node:http2 server whose every stream becomes one request on a single multiplexed
 * node:http2 client session, response head and body relayed, nothing else (no routing, no
 * limits, no telemetry). Whatever Bowline's h2 path costs above this is Bowline's; the rest is
 * node:http2's. Usage: node --import tsx bench/h2-floor.ts UPSTREAM_PORT, with the listening
 * socket as fd 3 (bench/ports.ts: the port comes from the kernel).
 */
import { connect, createServer, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';

const upstream = Number(process.argv[2]);
// The session is reopened when the upstream closed it (nginx ends idle HTTP/2 connections after
// a few minutes, and the floor waits idle while the HTTP/1.1 part of the bench runs).
const open = (): ClientHttp2Session => {
  const s = connect(`http://127.0.0.1:${upstream}`);
  s.on('error', (err) => { process.stderr.write(`h2-floor: upstream: ${err.message}\n`); });
  return s;
};
let up = open();
const server = createServer({ settings: { maxConcurrentStreams: 100 } });
server.on('stream', (down: ServerHttp2Stream, h: IncomingHttpHeaders) => {
  if (up.closed || up.destroyed) up = open();
  const req = up.request({ ':method': h[':method'], ':path': h[':path'], ':authority': h[':authority'] ?? 'localhost', ':scheme': 'http' }, { endStream: true });
  req.on('response', (rh) => {
    const out: OutgoingHttpHeaders = {};
    for (const k in rh) if (k.charCodeAt(0) !== 0x3a) out[k] = rh[k];
    out[':status'] = rh[':status'];
    down.respond(out);
  });
  req.on('data', (d: Buffer) => down.write(d));
  req.on('end', () => down.end());
  req.on('error', () => down.close());
  down.on('error', () => req.close());
});
server.listen({ fd: 3 });
process.on('SIGTERM', () => process.exit(0));
