/**
 * The protocols part of `npm run bench -- proxy`: HTTP/2 and TCP through one Bowline proxy,
 * against haproxy doing the same job (h2 in and out; TCP mode).
 *   h2:  h2load (nghttp2-client, the same connections x streams for every target) -> proxy
 *        (h2c) -> nginx h2c `return 200` upstream; the proxy's CPU microseconds per request
 *        from /proc over a fixed request count. Targets: Bowline in its default configuration
 *        (telemetry on), Bowline with --telemetry off, haproxy (proto h2 both sides), and the
 *        floor of node:http2 itself (bench/h2-floor.ts: a relay with no features).
 *   tcp: this process writes N MB through the proxy to a sink that discards; Gbit/s moved.
 * Every port comes from the kernel (bench/ports.ts). prepareProtocols() starts the processes
 * (so their start-up overlaps the HTTP/1.1 part); run() measures and stops them.
 * Fields: h2_cpu_us_per_req, h2_cpu_us_per_req_telemetry_off, haproxy_h2_cpu_us_per_req,
 * h2_vs_haproxy_cpu_ratio,
 * node_h2_floor_cpu_us_per_req, h2_rps, haproxy_h2_rps, tcp_hop_gbps, haproxy_tcp_gbps (null when
 * a tool is missing; the reason goes to stderr).
 */
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuUs } from './cpu.js';
import { holdSocket, listenerPort, spawnWithSocket } from './ports.js';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The fields this module adds to the proxy benchmark's JSON. */
export interface ProtocolBenchResult {
  /** Bowline, default configuration (telemetry on). */
  h2_cpu_us_per_req: number | null;
  h2_cpu_us_per_req_telemetry_off: number | null;
  haproxy_h2_cpu_us_per_req: number | null;
  /** h2_cpu_us_per_req / haproxy_h2_cpu_us_per_req (issue 18 target: <= 2.5). */
  h2_vs_haproxy_cpu_ratio: number | null;
  /** A bare node:http2 relay (bench/h2-floor.ts): what any proxy on node:http2 costs at least. */
  node_h2_floor_cpu_us_per_req: number | null;
  h2_rps: number | null;
  haproxy_h2_rps: number | null;
  tcp_hop_gbps: number | null;
  haproxy_tcp_gbps: number | null;
}

export function which(bin: string): string | undefined {
  for (const d of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) if (existsSync(join(d, bin))) return join(d, bin);
  return undefined;
}


export async function waitPort(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => { const s = connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function proxyConfig(listenPort: number, upstreamPort: number, kind: 'h2' | 'tcp'): unknown {
  const chain = kind === 'h2'
    ? { name: 'http', http: { routeConfig: 'rt' } }
    : { name: 'tcp', tcp: { routes: [{ destinations: [{ cluster: 'up', weight: 1 }] }] } };
  return {
    version: 'bench', node: { id: 'bench', role: 'sidecar', workload: 'bench', namespace: 'default', serviceAccount: 'bench', labels: { app: 'bench' } },
    mesh: { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [{ name: 'l', address: '127.0.0.1', port: listenPort, direction: 'outbound', filterChains: [chain] }],
    routes: [{ name: 'rt', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ route: { destinations: [{ cluster: 'up', weight: 1 }] } }] }] }],
    clusters: [{ name: 'up', discovery: 'eds', protocol: kind === 'h2' ? 'http2' : 'tcp' }],
    endpoints: [{ cluster: 'up', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] }],
    secrets: [],
  };
}

/** haproxy doing the bench's job: h2 in and out (`http-reuse always`), or TCP mode; listens on fd 3. */
export function haproxyConfig(kind: 'h2' | 'tcp', up: number): string {
  const mode = kind === 'h2'
    ? `defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend f\n  bind fd@3 proto h2\n  default_backend b\nbackend b\n  http-reuse always\n  server s1 127.0.0.1:${up} proto h2\n`
    : `defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend f\n  bind fd@3\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${up}\n`;
  return `global\n  nbthread 1\n  maxconn 4096\n${mode}`;
}

/** The h2c upstream: one nginx worker answering `return 200 "ok"` on the inherited socket (NGINX=3;). */
export function nginxH2Config(dir: string, up: number): string {
  return `master_process on; daemon off; worker_processes 1; pid ${dir}/nginx-h2.pid; error_log ${dir}/nginx-h2.err;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${up} http2; http2_max_requests 10000000; keepalive_requests 10000000; location / { return 200 "ok"; } } }\n`;
}

/** h2load's shape for every target: connections x concurrent streams per connection, one thread. */
export const H2LOAD = { connections: 4, streams: 10 } as const;

/** h2load's requests and its req/s, or NaN. */
export function h2load(port: number, n: number): { done: number; rps: number } {
  const r = spawnSync('h2load', ['-n', String(n), '-c', String(H2LOAD.connections), '-m', String(H2LOAD.streams), '-t', '1', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: 120_000 });
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(r.stdout ?? '');
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(r.stdout ?? '');
  return { done: done ? Number(done[2]) : NaN, rps: rps ? Number(rps[1]) : NaN };
}

/** Moves `mb` MiB through `port` to the sink; Gbit/s. */
export async function pushBytes(port: number, mb: number, sink: { received: number }): Promise<number> {
  const before = sink.received;
  const total = mb * 1024 * 1024;
  const block = Buffer.alloc(256 * 1024, 0x78);
  const s = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r, j) => { s.once('connect', () => r()); s.once('error', j); });
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += block.length) {
    if (!s.write(block)) await new Promise((r) => s.once('drain', r));
  }
  while (sink.received - before < total) await new Promise((r) => setTimeout(r, 2));
  const secs = (performance.now() - t0) / 1000;
  s.destroy();
  return (total * 8) / secs / 1e9;
}

/** The started processes of the protocols part; run() measures and stops them (never rejects: errors go to `log`). */
export interface PreparedProtocols { run(): Promise<ProtocolBenchResult> }

type H2Target = 'bowline' | 'bowline-telemetry-off' | 'haproxy' | 'node-floor';

/** Starts the h2 upstream, the h2 targets and the TCP sink and targets; measurement waits for run(). */
export async function prepareProtocols(o: { quick: boolean }, log: (s: string) => void): Promise<PreparedProtocols> {
  const out: ProtocolBenchResult = { h2_cpu_us_per_req: null, h2_cpu_us_per_req_telemetry_off: null, haproxy_h2_cpu_us_per_req: null, h2_vs_haproxy_cpu_ratio: null, node_h2_floor_cpu_us_per_req: null, h2_rps: null, haproxy_h2_rps: null, tcp_hop_gbps: null, haproxy_tcp_gbps: null };
  const dir = mkdtempSync(join(tmpdir(), 'bowline-bench-proto-'));
  const kids: ChildProcess[] = [];
  const killAll = (): void => { for (const c of kids) if (c.exitCode === null) c.kill('SIGKILL'); };
  process.once('exit', killAll); // a failing bench leaves nothing running
  const start = (cmd: string, args: string[]): ChildProcess => { const c = spawn(cmd, args, { stdio: 'ignore' }); kids.push(c); return c; };
  const sink = { received: 0 };
  const sinkServer: Server = createServer((s) => { s.on('data', (d: Buffer) => { sink.received += d.length; }); s.on('error', () => {}); });
  const round = (v: number): number | null => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null);
  const bowline = async (kind: 'h2' | 'tcp', up: number, telemetry: 'on' | 'off'): Promise<{ port: number; pid: number }> => {
    const f = join(dir, `bowline-${kind}-${telemetry}.json`);
    const pf = join(dir, `bowline-${kind}-${telemetry}.ports.json`);
    writeFileSync(f, JSON.stringify(proxyConfig(0, up, kind)));
    const c = start(process.execPath, [...PROXY_NODE_FLAGS, join(root, 'bin/bowline'), 'proxy', '--config', f, '--admin-port', '0', '--metrics-port', '0', '--ports-file', pf, '--telemetry', telemetry]);
    return { port: await listenerPort(pf, 'l', c), pid: c.pid! };
  };
  const haproxy = async (kind: 'h2' | 'tcp', up: number): Promise<{ port: number; pid: number }> => {
    const held = await holdSocket();
    const f = join(dir, `haproxy-${kind}.cfg`);
    writeFileSync(f, haproxyConfig(kind, up));
    const c = spawnWithSocket(which('haproxy')!, ['-f', f, '-db'], held);
    kids.push(c);
    await waitPort(held.port);
    return { port: held.port, pid: c.pid! };
  };
  const h2targets: Array<[H2Target, { port: number; pid: number }]> = [];
  const tcpTargets: { bowline?: { port: number; pid: number }; haproxy?: { port: number; pid: number } } = {};
  let sinkPort = 0;
  let failed: unknown;
  try {
    await new Promise<void>((r) => sinkServer.listen(0, '127.0.0.1', r));
    sinkPort = (sinkServer.address() as { port: number }).port;
    const tcp = Promise.all([bowline('tcp', sinkPort, 'on'), which('haproxy') ? haproxy('tcp', sinkPort) : undefined]);
    if (!which('h2load') || !which('nginx')) {
      log('bench: h2 run skipped (needs h2load from nghttp2-client and nginx-light: apt-get install -y nghttp2-client nginx-light)');
    } else {
      const held = await holdSocket();
      const up = held.port;
      const conf = join(dir, 'nginx-h2.conf');
      writeFileSync(conf, nginxH2Config(dir, up));
      kids.push(spawnWithSocket(which('nginx')!, ['-p', dir, '-c', conf], held, { ...process.env, NGINX: '3;' }));
      await waitPort(up);
      const floorHeld = await holdSocket();
      const floor = spawnWithSocket(process.execPath, ['--import', 'tsx', join(root, 'bench/h2-floor.ts'), String(up)], floorHeld);
      kids.push(floor);
      const [on, off, hap] = await Promise.all([bowline('h2', up, 'on'), bowline('h2', up, 'off'), which('haproxy') ? haproxy('h2', up) : undefined]);
      h2targets.push(['bowline', on], ['bowline-telemetry-off', off]);
      if (hap) h2targets.push(['haproxy', hap]);
      await waitPort(floorHeld.port);
      h2targets.push(['node-floor', { port: floorHeld.port, pid: floor.pid! }]);
    }
    [tcpTargets.bowline, tcpTargets.haproxy] = await tcp;
  } catch (err) {
    failed = err;
  }
  const run = async (): Promise<ProtocolBenchResult> => {
    try {
      if (failed) throw failed;
      const n = o.quick ? 2000 : 100_000;
      for (const [name, t] of h2targets) {
        log(`bench: h2 through ${name}`);
        h2load(t.port, o.quick ? 500 : 5000); // warm-up
        const c0 = cpuUs(t.pid);
        const r = h2load(t.port, n);
        const cpu = round((cpuUs(t.pid) - c0) / r.done);
        if (name === 'bowline') { out.h2_cpu_us_per_req = cpu; out.h2_rps = round(r.rps); }
        else if (name === 'bowline-telemetry-off') out.h2_cpu_us_per_req_telemetry_off = cpu;
        else if (name === 'haproxy') { out.haproxy_h2_cpu_us_per_req = cpu; out.haproxy_h2_rps = round(r.rps); }
        else out.node_h2_floor_cpu_us_per_req = cpu;
      }
      if (out.h2_cpu_us_per_req !== null && out.haproxy_h2_cpu_us_per_req) out.h2_vs_haproxy_cpu_ratio = round(out.h2_cpu_us_per_req / out.haproxy_h2_cpu_us_per_req);
      const mb = o.quick ? 128 : 1024;
      if (tcpTargets.bowline) {
        log('bench: tcp through bowline');
        await pushBytes(tcpTargets.bowline.port, 32, sink);
        out.tcp_hop_gbps = round(await pushBytes(tcpTargets.bowline.port, mb, sink));
      }
      if (tcpTargets.haproxy) {
        log('bench: tcp through haproxy');
        await pushBytes(tcpTargets.haproxy.port, 32, sink);
        out.haproxy_tcp_gbps = round(await pushBytes(tcpTargets.haproxy.port, mb, sink));
      } else {
        log('bench: haproxy not installed (apt-get install -y haproxy): haproxy_* fields are null');
      }
    } catch (err) {
      log(`bench: protocols run failed: ${String(err)}`);
    } finally {
      sinkServer.close();
      for (const c of kids) c.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      killAll();
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  };
  return { run };
}
