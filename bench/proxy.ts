/**
 * `npm run bench -- proxy [--quick] [--json]`: the data plane measured against the references.
 * An upstream (nginx `return 200`, else a small raw Node server) and, for each path -- direct,
 * one Bowline proxy with a 10-rule route table (the hot rule matches a header), a Bowline sidecar
 * pair (outbound proxy with that table -> inbound sidecar proxy; plaintext, and with mTLS:
 * bench/mtls-hop.ts), nginx and haproxy as proxies, two haproxies chained -- CPU per request while
 * wrk saturates a pool of 50 connections (and the throughput it reached), then latency at a
 * fixed 1000 rps with the open-loop generator (loadgen.ts), CPU us per request from the
 * processes' threads' run time (bench/cpu.ts) and RSS from /proc/PID/status, then memory per idle keep-alive connection
 * (idle-conns.ts). Bowline runs as its own process from dist/. Every port comes from the
 * kernel (bench/ports.ts).
 */
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { idleConnKb } from './idle-conns.js';
import { openLoop, quantile } from './loadgen.js';
import { benchVirtualHost, hopConfigs, pairedCpu, warmPool, type PairedResult } from './mtls-hop.js';
import { cpuUs } from './cpu.js';
import { childPid, haproxyConfig, holdSocket, listenerPort, spawnWithSocket, type HeldSocket } from './ports.js';
import { H2LOAD } from './proxy-protocols.js';
import { iqr, median, telemetryRounds, TELEMETRY_FULL, TELEMETRY_QUICK, type TelemetryRounds } from './telemetry-rounds.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const RATE = 1000;
/** How long after the last 1000 rps run RSS after load is read (full mode): every proxy then had at least this much quiet. */
const IDLE_MS = 20_000;
/**
 * Each 1000 rps run's first seconds, not in its measured numbers (full mode): in the rotation every target's run
 * follows ~40 s in which the other targets ran, and a node process's first seconds of load after such a quiet
 * period are slower than the rest (among what they pay: V8 gives the young generation's spare semi-space back at
 * each of its first ten scavenges, code the idle GC dropped is optimised again; not all of it is explained, and
 * sparing the faults alone did not help: docs/performance.md "The hop after quiet: its first seconds"): per-second p99 of a Bowline hop 1.11 / 0.93 /
 * 0.65 / 0.57 / 0.48 / 0.45 ms over a run's six seconds after 40 s of quiet, haproxy's flat from its first. The
 * targets are at 1000 rps, so the measured seconds start once a run has settled; the settling seconds' p99 stays
 * a field of its own (`hop_added_p99_after_quiet_ms`, `p99AfterQuietRuns`).
 */
const SETTLE_MS = 3000;
const HOT = 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n';

interface Opts { quick: boolean; json: boolean }
interface Target { name: string; port: number; pids: number[] }
interface Row {
  name: string; rps: number; satCpuUsPerReq: number; p50: number; p90: number; p99: number; p999: number; cpuUsPerReq: number; rssMb: number; errors: number;
  /** CPU us per request of each 1000 rps round, in round order. */ cpuRuns: number[];
  /** p99 ms of each 1000 rps round (its measured seconds, after the settling ones: see SETTLE_MS). */ p99Runs: number[];
  /** p99 ms of each round's first SETTLE_MS at 1000 rps, right after the target's ~40 s without load (full mode; empty with --quick). */ p99AfterQuietRuns: number[];
  /** CPU us per request of each saturation round. */ satCpuRuns: number[];
}

function which(bin: string): string | undefined {
  for (const d of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) if (existsSync(join(d, bin))) return join(d, bin);
  return undefined;
}


function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function waitPort(port: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => { const s = connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const children: ChildProcess[] = [];
/** Starts `cmd`; with `held`, that listening socket becomes the child's fd 3 (bench/ports.ts). */
function run(cmd: string, args: string[], held?: HeldSocket, env?: NodeJS.ProcessEnv): ChildProcess {
  const c = held ? spawnWithSocket(cmd, args, held, env) : spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d) => { err += d; if (err.length > 4000) err = err.slice(-4000); });
  c.on('exit', (code) => { if (code && code !== 0 && !stopping) process.stderr.write(`bench: ${cmd} exited ${code}: ${err}\n`); });
  children.push(c);
  return c;
}
let stopping = false;

/** nginx with one worker listening on `held` (inherited as fd 3: `master_process on` is what makes nginx accept it). */
function nginx(dir: string, held: HeldSocket, body: string): ChildProcess {
  const port = held.port;
  const f = join(dir, `nginx-${port}.conf`);
  writeFileSync(f, `master_process on; daemon off; worker_processes 1; pid ${dir}/nginx-${port}.pid; error_log ${dir}/nginx-${port}.err;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  ${body.replace(/PORT/g, String(port))} }\n`);
  return run(which('nginx')!, ['-p', dir, '-c', f], held, { ...process.env, NGINX: '3;' });
}

/** haproxy (one thread) in HTTP mode listening on `held` (fd 3), forwarding to 127.0.0.1:`upstream`. */
function haproxy(dir: string, held: HeldSocket, upstream: number): ChildProcess {
  const f = join(dir, `haproxy-${held.port}.cfg`);
  writeFileSync(f, haproxyConfig(upstream));
  return run(which('haproxy')!, ['-f', f, '-db'], held);
}

/** One proxy with the bench's 10-rule route table (bench/mtls-hop.ts benchRoutes): nine rules that do not match the benchmark traffic, the hot one last with a header match (bench/telemetry-ab.ts uses it too). */
export function bowlineConfig(listenPort: number, upstreamPort: number): unknown {
  const ep = [{ address: '127.0.0.1', port: upstreamPort }];
  return {
    version: 'bench', node: { id: 'bench', role: 'sidecar', workload: 'bench', namespace: 'default', serviceAccount: 'bench', labels: { app: 'bench' } },
    mesh: { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [{ name: 'outbound', address: '127.0.0.1', port: listenPort, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'reviews' } }] }],
    routes: [{ name: 'reviews', virtualHosts: [benchVirtualHost('reviews-v1', 'reviews-v2')] }],
    clusters: [{ name: 'reviews-v1', discovery: 'eds', protocol: 'http1' }, { name: 'reviews-v2', discovery: 'eds', protocol: 'http1' }],
    endpoints: [{ cluster: 'reviews-v1', endpoints: ep }, { cluster: 'reviews-v2', endpoints: ep }],
    secrets: [],
  };
}

/** Starts `bowline proxy` (telemetry on, Istio's default 1 % sampling, unless `extra` says `--telemetry off`); its listener binds port 0. */
async function startBowline(dir: string, upstreamPort: number, name: string, extra: string[] = []): Promise<Target> {
  const cfg = join(dir, `${name}.json`);
  writeFileSync(cfg, JSON.stringify(bowlineConfig(0, upstreamPort)));
  const c = bowlineProc(dir, name, cfg, extra);
  return { name, port: await listenerPort(join(dir, `${name}.ports.json`), 'outbound', c), pids: [c.pid!] };
}

function bowlineProc(dir: string, name: string, cfg: string, extra: string[] = []): ChildProcess {
  return run(process.execPath, [...PROXY_NODE_FLAGS, join(root, 'bin/bowline'), 'proxy', '--config', cfg, '--admin-port', '0', '--metrics-port', '0', '--ports-file', join(dir, `${name}.ports.json`), ...extra]);
}

/**
 * A sidecar pair (bench/mtls-hop.ts): an outbound proxy with the bench's route table toward an
 * inbound sidecar proxy, plaintext (`hop`) or mTLS between them (`mtls-hop`); the client talks
 * plaintext to the outer one. Pids: outer, inner.
 */
async function startHop(dir: string, upstreamPort: number, mtls: boolean): Promise<Target> {
  const name = mtls ? 'mtls-hop' : 'hop';
  const { outer, inner } = await hopConfigs(upstreamPort, mtls);
  writeFileSync(join(dir, `${name}-inner.json`), JSON.stringify(inner));
  const ci = bowlineProc(dir, `${name}-inner`, join(dir, `${name}-inner.json`));
  const innerPort = await listenerPort(join(dir, `${name}-inner.ports.json`), 'inbound|9080', ci);
  writeFileSync(join(dir, `${name}-outer.json`), JSON.stringify(outer(innerPort)));
  const co = bowlineProc(dir, `${name}-outer`, join(dir, `${name}-outer.json`));
  const outerPort = await listenerPort(join(dir, `${name}-outer.ports.json`), 'outbound', co);
  return { name, port: outerPort, pids: [co.pid!, ci.pid!] };
}

/** wrk's shape at saturation: one thread, a pool of 50 keep-alive connections. */
const WRK_CONNS = 50;

/** wrk over `secs`: its requests/s, and the targets' CPU us per request meanwhile (NaN without pids). */
export function wrk(port: number, secs: number, pids: number[]): { rps: number; cpu: number } {
  const c0 = pids.reduce((a, p) => a + cpuUs(p), 0);
  const r = spawnSync('wrk', ['-t1', `-c${WRK_CONNS}`, `-d${secs}s`, '-H', 'Host: reviews.default.svc.cluster.local', '-H', 'x-bench: hot', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: (secs + 30) * 1000 });
  const c1 = pids.reduce((a, p) => a + cpuUs(p), 0);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? '');
  const n = /(\d+) requests in/.exec(r.stdout ?? '');
  return { rps: rps ? Number(rps[1]) : NaN, cpu: pids.length && n && Number(n[1]) > 0 ? (c1 - c0) / Number(n[1]) : NaN };
}

type Run = { p50: number; p90: number; p99: number; p999: number; cpu: number; errors: number; p99Settling: number };

/**
 * Targets whose numbers are taken as a ratio or difference of each other (the target fields), kept next to
 * each other in every round: Bowline against haproxy and telemetry on against off (CPU), the two hops against
 * direct (added p99). Measured back to back, a pair shares the machine's state of those seconds; before
 * session 10 the plain rotation put up to six other targets' runs (~20 s) between the two halves of a pair in
 * some rounds, and a slow phase of the host then landed on one half only.
 */
const PAIRED: readonly (readonly string[])[] = [['haproxy', 'bowline', 'bowline-telemetry-off'], ['direct', 'hop', 'haproxy-hop']];

/**
 * The order of round `i`: groups (PAIRED, every other target alone) in the targets' order, rotated by `i`, and
 * the members of each group rotated by `i` too, so no target is always first or last, in the round or in its group.
 */
export function roundOrder<T extends { name: string }>(targets: readonly T[], i: number): T[] {
  const groups: T[][] = [];
  const placed = new Set<T>();
  for (const t of targets) {
    if (placed.has(t)) continue;
    const names = PAIRED.find((g) => g.includes(t.name));
    const group = names === undefined ? [t] : targets.filter((x) => names.includes(x.name));
    for (const x of group) placed.add(x);
    groups.push(group);
  }
  const rot = <X>(xs: readonly X[]): X[] => xs.map((_, k) => xs[(k + i) % xs.length]!);
  return rot(groups).flatMap(rot);
}

/**
 * Saturation (wrk) rounds, then `reps` rounds at 1000 rps; in every round each target gets one run in
 * turn, in roundOrder (pairs back to back, the first rotating from round to round): targets are compared side by side, so a burst of
 * other work on the machine lands on all of them (and on none always first or last) instead of
 * biasing the ratios (telemetry on/off, Bowline/haproxy). Each row keeps its per-round numbers, so a
 * ratio can be taken round by round (roundRatio) as well as of the medians.
 */
async function measureAll(targets: Target[], o: Opts, reps: number, satReps: number, log: (s: string) => void): Promise<Row[]> {
  const wrkSecs = o.quick ? 1 : 3;
  const durMs = o.quick ? 1000 : 6000;
  const sats = new Map<Target, { rps: number; cpu: number }[]>(targets.map((t) => [t, []]));
  const runs = new Map<Target, Run[]>(targets.map((t) => [t, []]));
  const rotated = (i: number): Target[] => roundOrder(targets, i);
  for (const t of targets) {
    // A proxy opens upstream connections on demand: with one per wrk connection already open, saturation measures no
    // connects (50 mTLS handshakes took most of a quick run's second on a busy machine: 4-60 rps through mtls-hop).
    if (t.pids.length > 0 && which('wrk')) await warmPool(t.port, WRK_CONNS, HOT);
    // And a second of load first, not measured: a Bowline process's first saturated second runs its code before
    // V8 optimised it (in one of two runs without this, the first of three 3 s rounds measured 1.5-2.2x the next two for
    // every Bowline target, while haproxy's and nginx's first rounds were no higher than their others).
    if (!o.quick && t.pids.length > 0 && which('wrk')) wrk(t.port, 1, t.pids);
  }
  for (let i = 0; i < satReps; i++) {
    log(`bench: saturation round ${i + 1}/${satReps} (wrk ${WRK_CONNS} connections, ${wrkSecs} s each): ${rotated(i).map((t) => t.name).join(', ')}`);
    for (const t of rotated(i)) sats.get(t)!.push(which('wrk') ? wrk(t.port, wrkSecs, t.pids) : { rps: NaN, cpu: NaN });
  }
  if (!o.quick) for (const t of targets) await openLoop(t.port, RATE, 300, HOT); // warm-up for the open loop (wrk already warmed the quick run)
  const settleMs = o.quick ? 0 : SETTLE_MS;
  for (let i = 0; i < reps; i++) {
    log(`bench: round ${i + 1}/${reps} at ${RATE} rps (${settleMs ? `${settleMs / 1000} s settling, then ` : ''}${durMs / 1000} s measured): ${rotated(i).map((t) => t.name).join(', ')}${i === reps - 1 && !o.quick ? `; then ${IDLE_MS / 1000} s idle before RSS is read` : ''}`);
    for (const t of rotated(i)) {
      const cpuNow = (): number => t.pids.reduce((a, p) => a + cpuUs(p), 0);
      // One loop on the same connections: the settling seconds, then the measured ones; CPU is read when the first measured request is sent.
      let c0 = settleMs === 0 ? cpuNow() : NaN;
      const r = await openLoop(t.port, RATE, settleMs + durMs, HOT, 8, settleMs === 0 ? undefined : { atMs: settleMs, run: () => { c0 = cpuNow(); } });
      const c1 = cpuNow();
      const l = r.latencies.filter((_, k) => r.dueAtMs[k]! >= settleMs);
      const settling = r.latencies.filter((_, k) => r.dueAtMs[k]! < settleMs);
      runs.get(t)!.push({ p50: quantile(l, 0.5), p90: quantile(l, 0.9), p99: quantile(l, 0.99), p999: quantile(l, 0.999), cpu: t.pids.length ? (c1 - c0) / Math.max(1, l.length) : NaN, errors: r.errors, p99Settling: quantile(settling, 0.99) });
    }
  }
  // RSS after load is read once every proxy has been quiet for IDLE_MS since its own last run: the rounds' rotating
  // order ends some proxies' load seconds before the last run ends, and a proxy gives its young generation back
  // in the idle GCs of the 5-10 s after its load (src/proxy/idle-gc.ts).
  if (!o.quick) await new Promise((r) => setTimeout(r, IDLE_MS));
  return targets.map((t) => {
    const rs = runs.get(t)!;
    const ss = sats.get(t)!;
    const med = (k: keyof Run): number => quantile(rs.map((x) => x[k]), 0.5);
    return {
      name: t.name, rps: quantile(ss.map((x) => x.rps), 0.5), satCpuUsPerReq: quantile(ss.map((x) => x.cpu), 0.5),
      p50: med('p50'), p90: med('p90'), p99: med('p99'), p999: med('p999'), cpuUsPerReq: med('cpu'),
      rssMb: t.pids.length ? t.pids.reduce((a, p) => a + rssMb(p), 0) : NaN, errors: rs.reduce((a, x) => a + x.errors, 0),
      cpuRuns: rs.map((x) => x.cpu), p99Runs: rs.map((x) => x.p99), satCpuRuns: ss.map((x) => x.cpu),
      p99AfterQuietRuns: rs.map((x) => x.p99Settling).filter((x) => Number.isFinite(x)),
    };
  });
}

/**
 * The median over rounds of f(a's run, b's run) in the same round: what resolves a difference between two targets on a
 * noisy machine (a slow stretch lands on both runs of a round), where a ratio of two medians may pair a quiet round of
 * one with a busy round of the other.
 */
function roundMedian(a: number[] | undefined, b: number[] | undefined, f: (x: number, y: number) => number): number | undefined {
  if (!a || !b || a.length === 0 || a.length !== b.length) return undefined;
  const v = a.map((x, i) => f(x, b[i]!)).filter((x) => Number.isFinite(x));
  return v.length ? quantile(v, 0.5) : undefined;
}
const perRound = (x: number, y: number): number => (y > 0 ? x / y : NaN);
const pctOver = (x: number, y: number): number => (y > 0 ? ((x - y) / y) * 100 : NaN);
const minus = (x: number, y: number): number => x - y;

/** Telemetry's share of the proxy's CPU per request: (on - off) / off, in percent. */
function overheadPct(on: number | undefined, off: number | undefined): number | undefined {
  return on === undefined || off === undefined || !(off > 0) ? undefined : ((on - off) / off) * 100;
}

/** Runs the proxy benchmark; prints a table, or one JSON object with --json. */
export async function benchProxy(o: Opts): Promise<void> {
  // Each progress line says when it happened (seconds since the bench process started): where a run's time goes.
  const log = (s: string): void => { process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(5)} s] ${s}\n`); };
  // Other work on the machine moves every number: the 1-minute load average when the run started and ended.
  const loadAtStart = loadavg()[0]!;
  if (!existsSync(join(root, 'dist/cli/main.js')) || process.env.BOWLINE_BENCH_BUILD === '1') {
    log('bench: building dist/ (npm run build)');
    spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'ignore' });
  }
  const missing = ['nginx', 'haproxy', 'wrk'].filter((b) => !which(b));
  if (missing.length) log(`bench: ${missing.join(', ')} not installed; install with: apt-get install -y ${missing.map((m) => (m === 'nginx' ? 'nginx-light' : m)).join(' ')} (skipping what needs them)`);
  const dir = mkdtempSync(join(tmpdir(), 'bowline-bench-'));
  // Odd counts: quantile(.., 0.5) of two runs is the worse one, not a median.
  const reps = o.quick ? 1 : 5;
  const satReps = o.quick ? 1 : 5;
  const rows: Row[] = [];
  const idleConns = o.quick ? 1000 : 10_000;
  const idle: { bowline?: number; haproxy?: number } = {};
  let pair: PairedResult | undefined;
  let tele: TelemetryRounds | undefined;
  // HTTP/2 and TCP (bench/proxy-protocols.ts) start their processes now, so start-up overlaps this part.
  const protocolsReady = (await import('./proxy-protocols.js')).prepareProtocols(o, log);
  try {
    // upstream
    let upPort: number;
    if (which('nginx')) {
      const held = await holdSocket();
      upPort = held.port;
      nginx(dir, held, 'server { listen 127.0.0.1:PORT; keepalive_requests 1000000; location / { return 200 "ok"; } }');
    } else {
      const { createServer } = await import('node:net');
      const s = createServer((c) => c.on('data', () => c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      upPort = (s.address() as { port: number }).port;
    }
    await waitPort(upPort, 'upstream');
    log('bench: starting the proxies');
    // Independent processes start together; the hops' outer halves need their inner halves' ports.
    const [one, off, hop, mtls] = await Promise.all([
      startBowline(dir, upPort, 'bowline'),
      startBowline(dir, upPort, 'bowline-telemetry-off', ['--telemetry', 'off']),
      startHop(dir, upPort, false),
      startHop(dir, upPort, true),
    ]);
    const targets: Target[] = [{ name: 'direct', port: upPort, pids: [] }, one, off, hop, mtls];
    if (which('nginx')) {
      const held = await holdSocket();
      const c = nginx(dir, held, `upstream u { server 127.0.0.1:${upPort}; keepalive 64; } server { listen 127.0.0.1:PORT; keepalive_requests 1000000; location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; } }`);
      await waitPort(held.port, 'nginx');
      targets.push({ name: 'nginx', port: held.port, pids: [await childPid(c.pid!)] });
    }
    if (which('haproxy')) {
      const [h1, h2, h3] = [await holdSocket(), await holdSocket(), await holdSocket()];
      const c = haproxy(dir, h1, upPort);
      const inner = haproxy(dir, h2, upPort);
      const outer = haproxy(dir, h3, h2.port);
      for (const h of [h1, h2, h3]) await waitPort(h.port, 'haproxy');
      targets.push({ name: 'haproxy', port: h1.port, pids: [c.pid!] }, { name: 'haproxy-hop', port: h3.port, pids: [outer.pid!, inner.pid!] });
    }
    rows.push(...await measureAll(targets, o, reps, satReps, log));
    // telemetry_cpu_overhead_pct and telemetry_sat_cpu_overhead_pct: paired on/off rounds of their own (bench/telemetry-rounds.ts).
    const tr = o.quick ? TELEMETRY_QUICK : TELEMETRY_FULL;
    log(`bench: telemetry on and off, both loaded in each round, the first alternating: ${tr.satPairs} saturation rounds of ${tr.satSecs} s, ${tr.fixedRounds} rounds of ${tr.fixedSecs} s at ${RATE} rps`);
    tele = await telemetryRounds(one, off, { ...tr, rate: RATE, request: HOT }, (s) => log(`bench: ${s}`));
    // mtls_vs_hop_cpu_ratio: the two sidecar pairs loaded together in every round (bench/mtls-hop.ts).
    const pairRounds = o.quick ? 2 : 10, pairSecs = o.quick ? 1 : 2;
    log(`bench: hop and mtls-hop loaded together: ${pairRounds} rounds of ${pairSecs} s at ${RATE} rps each`);
    await Promise.all([hop, mtls].map((h) => openLoop(h.port, RATE, 300, HOT))); // warm-up: connections closed at the end of the last round
    pair = await pairedCpu([hop, mtls], { rounds: pairRounds, secs: pairSecs, rate: RATE, request: HOT }, (s) => log(`bench: ${s}`));
    for (const [key, name] of [['bowline', 'bowline'], ['haproxy', 'haproxy']] as const) {
      const t = targets.find((x) => x.name === name);
      if (!t) continue;
      log(`bench: ${name}: memory of ${idleConns} idle keep-alive connections`);
      idle[key] = await idleConnKb(t.port, t.pids, idleConns, HOT).catch((err: unknown) => { log(`bench: idle connections through ${name}: ${String(err)}`); return NaN; });
    }
  } finally {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  // HTTP/2 and TCP runs (bench/proxy-protocols.ts): h2_cpu_us_per_req, haproxy_h2_cpu_us_per_req, tcp_hop_gbps, haproxy_tcp_gbps.
  const protocols = await protocolsReady.then((p) => p.run()).catch((err: unknown) => { log(`bench: protocols run failed: ${String(err)}`); return {}; });
  // Captured vs explicit (bench/capture.ts; root only): capture_cpu_us_per_req, capture_vs_explicit_cpu_ratio.
  const capture = await (await import('./capture.js')).benchCapture(o, log);
  const get = (n: string): Row | undefined => rows.find((r) => r.name === n);
  const num = (v: number | undefined | null): number | null => (v === undefined || v === null || Number.isNaN(v) ? null : Math.round(v * 1000) / 1000);
  const ratio = (a: number | undefined | null, b: number | undefined | null): number | null => (a == null || b == null || !(b > 0) ? null : num(a / b));
  const pr = protocols as Partial<Record<string, number | null>>;
  const result = {
    rate_rps: RATE,
    quick: o.quick,
    load_average_start: num(loadAtStart),
    load_average_end: num(loadavg()[0]),
    bowline_cpu_us_per_req: num(get('bowline')?.cpuUsPerReq),
    bowline_cpu_us_per_req_telemetry_off: num(get('bowline-telemetry-off')?.cpuUsPerReq),
    /**
     * Telemetry's share: (on - off) / off in percent at 1000 rps, the median over the telemetry rounds (bench/telemetry-rounds.ts:
     * both proxies loaded together, 8 rounds of 3 s) of each round's pair; `_iqr` is the interquartile range of the rounds' values.
     */
    telemetry_cpu_overhead_pct: num(median(tele?.fixed.pct ?? [])),
    telemetry_cpu_overhead_pct_iqr: num(iqr(tele?.fixed.pct ?? [])),
    /** The same at saturation: 8 rounds of 3 s, a wrk (1 thread, 50 connections) on each proxy at the same time. */
    telemetry_sat_cpu_overhead_pct: num(median(tele?.sat.pct ?? [])),
    telemetry_sat_cpu_overhead_pct_iqr: num(iqr(tele?.sat.pct ?? [])),
    /** The telemetry rounds, in order: each pair's share in percent and each proxy's CPU us per request. */
    telemetry_rounds: tele ? {
      sat_pct: tele.sat.pct.map(num), sat_on_us: tele.sat.on.map(num), sat_off_us: tele.sat.off.map(num),
      pct: tele.fixed.pct.map(num), on_us: tele.fixed.on.map(num), off_us: tele.fixed.off.map(num),
    } : null,
    /** The share as the bench took it until session 12: from the rotation's rounds (5 of 3 s at saturation, 5 of 6 s at 1000 rps), round by round. */
    telemetry_rotation: {
      telemetry_cpu_overhead_pct: num(roundMedian(get('bowline')?.cpuRuns, get('bowline-telemetry-off')?.cpuRuns, pctOver)),
      telemetry_sat_cpu_overhead_pct: num(roundMedian(get('bowline')?.satCpuRuns, get('bowline-telemetry-off')?.satCpuRuns, pctOver)),
    },
    haproxy_cpu_us_per_req: num(get('haproxy')?.cpuUsPerReq),
    nginx_cpu_us_per_req: num(get('nginx')?.cpuUsPerReq),
    hop_cpu_us_per_req: num(get('hop')?.cpuUsPerReq),
    direct_p99_ms: num(get('direct')?.p99),
    proxy_p99_ms: num(get('bowline')?.p99),
    hop_p99_ms: num(get('hop')?.p99),
    haproxy_hop_p99_ms: num(get('haproxy-hop')?.p99),
    /** What the two-proxy hop adds at p99 over direct (target <= max(0.5 ms, 2 x haproxy_hop_added_p99_ms)): the median over the rounds of hop p99 - direct p99 in the same round, each over the run's measured 6 s after its settling ones (SETTLE_MS). */
    hop_added_p99_ms: num(roundMedian(get('hop')?.p99Runs, get('direct')?.p99Runs, minus)),
    haproxy_hop_added_p99_ms: num(roundMedian(get('haproxy-hop')?.p99Runs, get('direct')?.p99Runs, minus)),
    /**
     * The same two differences over each run's first SETTLE_MS (3 s), right after the ~40 s without load that precede every
     * run in the rotation (not in the target: see SETTLE_MS); null with --quick, which has no settling seconds.
     */
    hop_added_p99_after_quiet_ms: num(roundMedian(get('hop')?.p99AfterQuietRuns, get('direct')?.p99AfterQuietRuns, minus)),
    haproxy_hop_added_p99_after_quiet_ms: num(roundMedian(get('haproxy-hop')?.p99AfterQuietRuns, get('direct')?.p99AfterQuietRuns, minus)),
    /** CPU per request while wrk saturates 50 connections (the median of the saturation rounds; target: Bowline <= 2 x haproxy, the median of the rounds' ratios). */
    bowline_sat_cpu_us_per_req: num(get('bowline')?.satCpuUsPerReq),
    haproxy_sat_cpu_us_per_req: num(get('haproxy')?.satCpuUsPerReq),
    bowline_vs_haproxy_sat_cpu_ratio: num(roundMedian(get('bowline')?.satCpuRuns, get('haproxy')?.satCpuRuns, perRound)),
    /** RSS KiB per idle keep-alive downstream connection, over `idle_conns` connections (10,000; 1,000 with --quick). */
    bowline_idle_conn_kb: num(idle.bowline),
    haproxy_idle_conn_kb: num(idle.haproxy),
    idle_conns: idleConns,
    /** Bowline's CPU per request over haproxy's at 1000 rps (target <= 1.5): the median of the rounds' ratios. */
    bowline_vs_haproxy_cpu_ratio: num(roundMedian(get('bowline')?.cpuRuns, get('haproxy')?.cpuRuns, perRound)),
    /** The same four target numbers taken from the medians instead of round by round (they should agree within the noise; when they do not, the rounds were uneven). */
    of_medians: {
      bowline_vs_haproxy_cpu_ratio: ratio(get('bowline')?.cpuUsPerReq, get('haproxy')?.cpuUsPerReq),
      bowline_vs_haproxy_sat_cpu_ratio: ratio(get('bowline')?.satCpuUsPerReq, get('haproxy')?.satCpuUsPerReq),
      telemetry_cpu_overhead_pct: num(overheadPct(get('bowline')?.cpuUsPerReq, get('bowline-telemetry-off')?.cpuUsPerReq)),
      telemetry_sat_cpu_overhead_pct: num(overheadPct(get('bowline')?.satCpuUsPerReq, get('bowline-telemetry-off')?.satCpuUsPerReq)),
      hop_added_p99_ms: num(get('hop') && get('direct') ? get('hop')!.p99 - get('direct')!.p99 : undefined),
      haproxy_hop_added_p99_ms: num(get('haproxy-hop') && get('direct') ? get('haproxy-hop')!.p99 - get('direct')!.p99 : undefined),
    },
    h2_vs_haproxy_cpu_ratio: ratio(pr.h2_cpu_us_per_req, pr.haproxy_h2_cpu_us_per_req),
    mtls_hop_p99_ms: num(get('mtls-hop')?.p99),
    mtls_hop_cpu_us_per_req: num(get('mtls-hop')?.cpuUsPerReq),
    /**
     * The mTLS sidecar pair's CPU per request over the plaintext pair's (target <= 1.3): the same two proxies and routes,
     * both hops loaded at 1000 rps at the same time in every round, which starts first alternated, the geometric mean of
     * the two orders' median per-round ratios (bench/mtls-hop.ts pairedCpu).
     */
    mtls_vs_hop_cpu_ratio: pair ? num(pair.ratio('cpu')) : null,
    /** The paired rounds behind mtls_vs_hop_cpu_ratio: each proxy's ratio, each hop's median CPU us per request (threads' run time), the rounds. */
    mtls_pair: pair ? { outer_ratio: num(pair.ratio('outer')), inner_ratio: num(pair.ratio('inner')), hop_cpu_us_per_req: num(pair.median(0, 'cpu')), mtls_hop_cpu_us_per_req: num(pair.median(1, 'cpu')), rounds: pair.rounds[0].length } : null,
    nginx_p99_ms: num(get('nginx')?.p99),
    haproxy_p99_ms: num(get('haproxy')?.p99),
    bowline_rss_mb: num(get('bowline')?.rssMb),
    bowline_max_rps: num(get('bowline')?.rps),
    haproxy_max_rps: num(get('haproxy')?.rps),
    ...protocols,
    ...capture,
    rows,
  };
  if (o.json) { process.stdout.write(JSON.stringify(result) + '\n'); return; }
  const f = (v: number, d = 2): string => (Number.isNaN(v) ? '-' : v.toFixed(d));
  const lines = [
    `${'path'.padEnd(21)} sat rps  sat us/req   p50 ms  p90 ms  p99 ms  p99.9 ms  CPU us/req  RSS MB  errors   (latency/CPU at ${RATE} rps, open loop)`,
    ...rows.map((r) => `${r.name.padEnd(21)} ${f(r.rps, 0).padStart(7)}  ${f(r.satCpuUsPerReq, 1).padStart(10)}  ${f(r.p50).padStart(6)}  ${f(r.p90).padStart(6)}  ${f(r.p99).padStart(6)}  ${f(r.p999).padStart(8)}  ${f(r.cpuUsPerReq, 1).padStart(10)}  ${f(r.rssMb, 1).padStart(6)}  ${String(r.errors).padStart(6)}`),
  ];
  lines.push(`hop adds ${result.hop_added_p99_ms ?? '-'} ms at p99 over direct (two haproxies ${result.haproxy_hop_added_p99_ms ?? '-'}; in the first ${SETTLE_MS / 1000} s after quiet ${result.hop_added_p99_after_quiet_ms ?? '-'} and ${result.haproxy_hop_added_p99_after_quiet_ms ?? '-'}); bowline/haproxy CPU per request ${result.bowline_vs_haproxy_cpu_ratio ?? '-'}x at ${RATE} rps, ${result.bowline_vs_haproxy_sat_cpu_ratio ?? '-'}x at saturation`);
  lines.push(`telemetry ${result.telemetry_cpu_overhead_pct ?? '-'} % (iqr ${result.telemetry_cpu_overhead_pct_iqr ?? '-'}) of CPU per request at ${RATE} rps, ${result.telemetry_sat_cpu_overhead_pct ?? '-'} % (iqr ${result.telemetry_sat_cpu_overhead_pct_iqr ?? '-'}) at saturation; RSS ${result.bowline_rss_mb ?? '-'} MB; mTLS hop / plaintext hop CPU per request ${result.mtls_vs_hop_cpu_ratio ?? '-'}x; load average ${result.load_average_start} at the start, ${result.load_average_end} at the end`);
  lines.push(`idle keep-alive connections (${idleConns}): bowline ${result.bowline_idle_conn_kb ?? '-'} KiB each, haproxy ${result.haproxy_idle_conn_kb ?? '-'}`);
  lines.push(`h2 (h2load, ${H2LOAD.connections} conns x ${H2LOAD.streams} streams), CPU us/req: bowline ${pr.h2_cpu_us_per_req ?? '-'} (telemetry off ${pr.h2_cpu_us_per_req_telemetry_off ?? '-'}), bare node:http2 relay ${pr.node_h2_floor_cpu_us_per_req ?? '-'}, haproxy ${pr.haproxy_h2_cpu_us_per_req ?? '-'}`);
  lines.push(`tcp through one proxy: bowline ${pr.tcp_hop_gbps ?? '-'} Gbit/s, haproxy ${pr.haproxy_tcp_gbps ?? '-'}`);
  process.stdout.write(lines.join('\n') + '\n');
}
