/**
 * `node --import tsx bench/telemetry-ab.ts [--rounds 9] [--secs 4] [--rate 1000] [--mode both|fixed|sat] [--target NAME=DIR[+off][+env=VAR=VALUE][+node=FLAG]] ... [--stdout PREFIX]`:
 * telemetry's share of the proxy's CPU per request (issue 18's `telemetry_cpu_overhead_pct`
 * and `telemetry_sat_cpu_overhead_pct`) measured side by side, small enough to repeat while
 * changing code. One nginx upstream and one `bowline proxy` per target, all with the bench's
 * 10-rule config (bench/proxy.ts `bowlineConfig`). Default targets: `on` (this checkout) and
 * `off` (this checkout, `--telemetry off`). A target may be another build (DIR holding bin/
 * and dist/, e.g. a copy of an older dist/) or take an environment switch (`+env=VAR=1`) or node flags after the proxy's (`+node=--max-semi-space-size=1`).
 *
 * Each round: every target under wrk (1 thread, 50 connections, S s) one after the other, the
 * order rotating by round (CPU per request at saturation); then every target at `rate` req/s
 * at the same time for S s (bench/mtls-hop.ts's shape: a burst of other work lands on all of
 * them), which load starts first alternating. CPU is each proxy's threads' run time
 * (schedstat) over the requests answered. Prints every round, the medians and each target's
 * overhead over the `off` target of the same DIR (else the first `off`, else the last target):
 * the median of the per-round ratios. Two builds compared: `--target a=DIR_A --target
 * aoff=DIR_A+off --target b=DIR_B --target boff=DIR_B+off`. BOWLINE_NODE_ARGS adds node flags to the proxies (`--cpu-prof --cpu-prof-dir DIR`,
 * `--perf-basic-prof`, `--trace-gc`); the pids are printed for `perf record -p`, and each target's measured
 * requests (to put a profile's milliseconds per request; the warm-up adds 2-6 s at `rate`, until every proxy's young generation may grow, and 1 s of wrk each). `--stdout PREFIX`
 * keeps each proxy's stdout in PREFIX.NAME (what `--trace-gc` prints). Each saturation round also prints,
 * per request, the proxy's read+write calls, wake-ups (its main thread leaving epoll_wait) and
 * preemptions (involuntary context switches), nginx's sleeps (a wake-up of the upstream each), the TCP segments
 * sent (4 when every request and response is one segment with its ACK piggybacked), and the machine's steal and idle
 * time shares (/proc/stat): whether a high round did more work, woke its peers more or ran slower. `--together`: every target under its own wrk at the same
 * time instead (the full bench's telemetry rounds' shape, bench/telemetry-rounds.ts). `TAB_PERF=1` (perf installed) adds per
 * saturation run the proxy's epoll_pwait calls per request (loop turns) and wrk's context switches and CPU per request (`perf stat`).
 *
 * `--estimator K` (the first two targets: default `on` and `off`; two `+off` targets for an A/A check) instead repeats the full bench's estimate of
 * telemetry's share K times on the same two proxies, alternating the shapes `--shapes` names (default
 * `rotation,together`): `rotation`, the bench's shape until session 12 (5 saturation rounds of 3 s, on
 * and off back to back in rotating order, then 5 rounds of 6 s at `rate` one after the other; the
 * bench also put haproxy's run between them in some rounds), `together`, bench/telemetry-rounds.ts
 * as the full bench runs it now (8 + 8 rounds of 3 s, both proxies loaded at the same time), and
 * `abba` / `abba1`, one proxy at a time in ABBA order (2 s / 1 s wrk runs). Prints each estimate,
 * then each shape's estimates, range and standard deviation.
 */
import { IDLE_GC_INTERVAL_MS } from '../src/proxy/idle-gc.js';
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openLoop, quantile } from './loadgen.js';
import { Children } from './children.js';
import { cpuUs, ioCalls, wakeups } from './cpu.js';
import { childPid, holdSocket, listenerPort, nginxUpstream } from './ports.js';
import { bowlineConfig } from './proxy.js';
import { iqr, median, telemetryRounds, TELEMETRY_FULL, wrkCpuAsync, type TelemetryRoundsOptions } from './telemetry-rounds.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const HOT = 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '9' }, secs: { type: 'string', default: '4' }, rate: { type: 'string', default: '1000' },
  mode: { type: 'string', default: 'both' }, target: { type: 'string', multiple: true }, stdout: { type: 'string' },
  estimator: { type: 'string' }, together: { type: 'boolean', default: false }, shapes: { type: 'string', default: 'rotation,together' },
} });
const rounds = Number(values.rounds), secs = Number(values.secs), rate = Number(values.rate);
const doSat = values.mode !== 'fixed', doFixed = values.mode !== 'sat';

interface Spec { name: string; dir: string; off: boolean; env: Record<string, string>; node: string[] }
function parseTarget(s: string): Spec {
  const eq = s.indexOf('=');
  const [dir, ...opts] = s.slice(eq + 1).split('+');
  const env: Record<string, string> = {};
  const node: string[] = [];
  for (const o of opts) if (o.startsWith('env=')) { const kv = o.slice(4); const i = kv.indexOf('='); env[kv.slice(0, i)] = kv.slice(i + 1); } else if (o.startsWith('node=')) node.push(o.slice(5));
  return { name: s.slice(0, eq), dir: resolve(dir || root), off: opts.includes('off'), env, node };
}
const specs = (values.target ?? ['on=.', 'off=.+off']).map(parseTarget);

interface Target extends Spec { port: number; pid: number; sat: number[]; fixed: number[]; p99: number[]; requests: number; satIo: string[] }

/** Involuntary context switches of `pid`'s main thread (preempted while runnable), or NaN. */
function preemptions(pid: number): number {
  try {
    return Number(/\bnonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1]);
  } catch { return NaN; }
}

/** The machine's CPU time so far (/proc/stat `cpu` line, clock ticks): all of it, and the part the hypervisor ran something else (steal). */
function machineTicks(): { all: number; steal: number; idle: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { all: f.reduce((a, x) => a + x, 0), steal: f[7] ?? 0, idle: (f[3] ?? 0) + (f[4] ?? 0) };
  } catch { return { all: NaN, steal: NaN, idle: NaN }; }
}

/** Voluntary context switches of process `pid` (nginx's worker: each is a sleep in epoll_wait), or NaN. */
function sleeps(pid: number): number {
  try {
    return Number(/\bvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch { return NaN; }
}

/** TCP segments sent in this network namespace so far (/proc/net/snmp `Tcp: OutSegs`), or NaN. */
function tcpOutSegs(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
    const names = lines[0]!.split(/\s+/), values = lines[1]!.split(/\s+/);
    return Number(values[names.indexOf('OutSegs')]);
  } catch { return NaN; }
}

/** nginx's worker (its sleeps are counted per saturation run). */
let nginxWorker = 0;

/**
 * wrk on one target: rps, CPU us per request, requests, and per request: read+write calls, wake-ups (epoll sleeps ended),
 * preemptions, nginx's sleeps and the TCP segments sent (all four connections' directions); the machine's steal and idle shares meanwhile.
 */
function wrk(port: number, pid: number): { rps: number; cpu: number; n: number; io: number; wake: number; pre: number; steal: number; idle: number; ngx: number; segs: number } {
  const i0 = ioCalls(pid), w0 = wakeups(pid), p0 = preemptions(pid), m0 = machineTicks(), g0 = sleeps(nginxWorker), s0 = tcpOutSegs();
  const perfFile = join(tmpdir(), `tab-perf-${pid}.csv`);
  if (process.env.TAB_PERF) spawn('perf', ['stat', '-x,', '-o', perfFile, '-e', 'syscalls:sys_enter_epoll_pwait', '-p', String(pid), '--', 'sleep', String(secs)], { stdio: 'ignore' });
  const c0 = cpuUs(pid);
  const wrkPerf = join(tmpdir(), `tab-wrk-${pid}.csv`);
  const r = spawnSync(process.env.TAB_PERF ? 'perf' : 'wrk', [...(process.env.TAB_PERF ? ['stat', '-x,', '-o', wrkPerf, '-e', 'context-switches,task-clock', '--', 'wrk'] : []), '-t1', '-c50', `-d${secs}s`, '-H', 'Host: reviews.default.svc.cluster.local', '-H', 'x-bench: hot', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: (secs + 30) * 1000 });
  const c1 = cpuUs(pid);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? '');
  const m = /(\d+) requests in/.exec(r.stdout ?? '');
  const n = m ? Number(m[1]) : 0;
  const per = (x: number): number => (n > 0 ? x / n : NaN);
  const m1 = machineTicks();
  if (process.env.TAB_PERF) {
    spawnSync('sleep', ['0.3']);
    try { const polls = Number(/^(\d+),/m.exec(readFileSync(perfFile, 'utf8'))?.[1]); console.log(`  pid ${pid} epoll_pwait/req ${(polls / n).toFixed(3)} (${polls} over ${n})`); } catch { /* none */ }
    try { const t = readFileSync(wrkPerf, 'utf8'); const cs = Number(/^(\d+),,context-switches/m.exec(t)?.[1]); const clk = Number(/^([\d.]+),msec,task-clock/m.exec(t)?.[1]); console.log(`  wrk cs/req ${(cs / n).toFixed(3)} cpu us/req ${(clk * 1000 / n).toFixed(2)}`); } catch { /* none */ }
  }
  return { rps: rps ? Number(rps[1]) : NaN, cpu: per(c1 - c0), n, io: per(ioCalls(pid) - i0), wake: per(wakeups(pid) - w0), pre: per(preemptions(pid) - p0), steal: (m1.steal - m0.steal) / Math.max(1, m1.all - m0.all),
    idle: (m1.idle - m0.idle) / Math.max(1, m1.all - m0.all), ngx: per(sleeps(nginxWorker) - g0), segs: per(tcpOutSegs() - s0) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'telemetry-ab-'));
  const children = new Children();
  // Stopped from outside (a bounded run cut short): the proxies and nginx go too.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void children.stop(300).finally(() => { rmSync(dir, { recursive: true, force: true }); process.exit(1); }); });
  const extra = (process.env.BOWLINE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const loadStart = loadavg()[0]!;
  try {
    const up = await holdSocket();
    nginxWorker = await childPid(children.keep(nginxUpstream(dir, up), 'nginx').pid!);
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify(bowlineConfig(0, up.port)));
    const targets: Target[] = [];
    let startedAt = Date.now();
    for (const s of specs) {
      startedAt = Date.now();
      const pf = join(dir, `${s.name}.ports.json`);
      const c = spawn(process.execPath, [...PROXY_NODE_FLAGS, ...extra, ...s.node, join(s.dir, 'bin/bowline'), 'proxy', '--config', join(dir, 'cfg.json'), '--admin-port', '0', '--metrics-port', '0', '--ports-file', pf, ...(s.off ? ['--telemetry', 'off'] : [])],
        { cwd: dir, env: { ...process.env, ...s.env }, stdio: ['ignore', values.stdout ? openSync(`${values.stdout}.${s.name}`, 'w') : 'ignore', 'inherit'] });
      children.keep(c, s.name);
      targets.push({ ...s, port: await listenerPort(pf, 'outbound', c), pid: c.pid!, sat: [], fixed: [], p99: [], requests: 0, satIo: [] });
    }
    process.stderr.write(`targets: ${targets.map((t) => `${t.name} pid ${t.pid} port ${t.port}`).join(', ')}; load ${loadStart.toFixed(1)}\n`);
    // Warm-up (JIT, upstream connections), at least until every proxy let its young generation grow (src/proxy/young-generation.ts:
    // held at ~1 MB until IDLE_GC_INTERVAL_MS after start; before that a saturated proxy scavenged ~300 times a second, and the
    // first target of the first round paid for it), then a second of wrk each, not measured (the full bench's warm-up).
    const warmMs = Math.max(2000, startedAt + IDLE_GC_INTERVAL_MS + 1000 - Date.now());
    await Promise.all(targets.map((t) => openLoop(t.port, rate, warmMs, HOT)));
    if (doSat) for (const t of targets) spawnSync('wrk', ['-t1', '-c50', '-d1s', '-H', 'Host: reviews.default.svc.cluster.local', '-H', 'x-bench: hot', `http://127.0.0.1:${t.port}/`], { timeout: 30_000 });
    if (values.estimator !== undefined) { await estimators(targets, Number(values.estimator)); return; }
    for (let r = 0; r < rounds; r++) {
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      const line: string[] = [];
      if (doSat && values.together) {
        // Every target under its own wrk at the same time (bench/telemetry-rounds.ts's shape), the start order rotating.
        const got = await Promise.all(order.map((t) => wrkCpuAsync({ port: t.port, pids: [t.pid] }, { ...TELEMETRY_FULL, satSecs: secs })));
        order.forEach((t, i) => { t.sat.push(got[i]!); t.satIo.push('(together)'); });
      } else if (doSat) for (const t of order) { const w = wrk(t.port, t.pid); t.sat.push(w.cpu); t.requests += w.n; t.satIo.push(`(rw ${w.io.toFixed(2)} wake ${w.wake.toFixed(3)} pre ${w.pre.toFixed(3)} steal ${(w.steal * 100).toFixed(0)} % idle ${(w.idle * 100).toFixed(0)} % nginx sleeps ${w.ngx.toFixed(3)} segs ${w.segs.toFixed(2)})`); }
      if (doFixed) {
        const measure = async (t: Target): Promise<void> => {
          const c0 = cpuUs(t.pid);
          const o = await openLoop(t.port, rate, secs * 1000, HOT);
          t.fixed.push((cpuUs(t.pid) - c0) / Math.max(1, o.latencies.length));
          t.requests += o.latencies.length;
          t.p99.push(quantile(o.latencies, 0.99));
        };
        await Promise.all(order.map(measure));
      }
      for (const t of targets) line.push(`${t.name} sat ${t.sat[r]?.toFixed(1) ?? '-'} ${t.satIo[r] ?? ''} ${rate} rps ${t.fixed[r]?.toFixed(1) ?? '-'} us/req`);
      process.stdout.write(`round ${r + 1}/${rounds} (load ${loadavg()[0]!.toFixed(1)}): ${line.join(' | ')}\n`);
    }
    // Each target's reference: the `off` target built from the same DIR (so two builds, each
    // with its own on/off pair, are compared in one run), else the first `off`, else the last.
    const firstRef = targets.find((t) => t.off) ?? targets[targets.length - 1]!;
    const refOf = (t: Target): Target => targets.find((o) => o.off && o.dir === t.dir) ?? firstRef;
    const med = (xs: number[]): number => quantile(xs, 0.5);
    const overhead = (t: Target, k: 'sat' | 'fixed'): string => {
      const ref = refOf(t);
      const per = t[k].map((x, i) => (x / ref[k][i]! - 1) * 100).filter((x) => Number.isFinite(x));
      return per.length ? `${med(per).toFixed(1)} % vs ${ref.name}` : '-';
    };
    process.stdout.write(`medians over ${rounds} rounds of ${secs} s (load average ${loadStart.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}); overhead = median of per-round (x / ref - 1), ref = the off target of the same build:\n`);
    for (const t of targets) {
      const isRef = t.off && refOf(t) === t;
      process.stdout.write(`  ${t.name.padEnd(10)} sat ${doSat ? med(t.sat).toFixed(1) : '-'} us/req (${isRef ? 'ref' : overhead(t, 'sat')})  ${rate} rps ${doFixed ? med(t.fixed).toFixed(1) : '-'} us/req (${isRef ? 'ref' : overhead(t, 'fixed')})  p99 ${doFixed ? med(t.p99).toFixed(3) : '-'} ms  requests ${t.requests}\n`);
    }
  } finally {
    await children.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `--estimator K`: the rotation and paired shapes of the full bench's telemetry estimate, alternated K times (see the file's comment). */
async function estimators(targets: Target[], k: number): Promise<void> {
  // The first two targets, as `on` and `off` (an A/A check: two `+off` targets).
  const [on, off] = targets;
  if (!on || !off) throw new Error('--estimator needs two targets');
  const T = (t: Target): { port: number; pids: number[] } => ({ port: t.port, pids: [t.pid] });
  const log = (s: string): void => { process.stderr.write(`  ${s}\n`); };
  const shapes = String(values.shapes).split(',');
  const got = new Map<string, { sat: number[]; fixed: number[]; secs: number[] }>(shapes.map((n) => [n, { sat: [], fixed: [], secs: [] }]));
  const rotation = async (): Promise<{ sat: number; fixed: number }> => {
    // bench/proxy.ts measureAll until session 12, for these two targets: the round's order rotates by round.
    const sat: number[] = [], fixed: number[] = [];
    for (let i = 0; i < 5; i++) {
      const order = i % 2 === 0 ? [on, off] : [off, on];
      const r = new Map<Target, number>();
      for (const t of order) { const c0 = cpuUs(t.pid); const w = spawnSync('wrk', ['-t1', '-c50', '-d3s', '-H', 'Host: reviews.default.svc.cluster.local', '-H', 'x-bench: hot', `http://127.0.0.1:${t.port}/`], { encoding: 'utf8' }); r.set(t, (cpuUs(t.pid) - c0) / Number(/(\d+) requests in/.exec(w.stdout)?.[1])); }
      sat.push((r.get(on)! / r.get(off)! - 1) * 100);
    }
    for (let i = 0; i < 5; i++) {
      const order = i % 2 === 0 ? [on, off] : [off, on];
      const r = new Map<Target, number>();
      for (const t of order) { const c0 = cpuUs(t.pid); const o = await openLoop(t.port, rate, 6000, HOT); r.set(t, (cpuUs(t.pid) - c0) / Math.max(1, o.latencies.length)); }
      fixed.push((r.get(on)! / r.get(off)! - 1) * 100);
    }
    log(`rotation rounds: sat ${sat.map((x) => x.toFixed(1)).join(' ')} | ${rate} rps ${fixed.map((x) => x.toFixed(1)).join(' ')}`);
    return { sat: median(sat), fixed: median(fixed) };
  };
  const paired = (shape: Partial<TelemetryRoundsOptions>) => async (): Promise<{ sat: number; fixed: number }> => {
    const r = await telemetryRounds(T(on), T(off), { ...TELEMETRY_FULL, ...shape, rate, request: HOT }, () => {});
    log(`${JSON.stringify(shape)} rounds: sat ${r.sat.pct.map((x) => x.toFixed(1)).join(' ')} (iqr ${iqr(r.sat.pct).toFixed(1)}) | ${rate} rps ${r.fixed.pct.map((x) => x.toFixed(1)).join(' ')} (iqr ${iqr(r.fixed.pct).toFixed(1)})`);
    return { sat: median(r.sat.pct), fixed: median(r.fixed.pct) };
  };
  const SHAPES: Record<string, () => Promise<{ sat: number; fixed: number }>> = {
    rotation,
    // The full bench's shape now (TELEMETRY_FULL: both loaded together, 8 + 8 rounds of 3 s).
    together: paired({}),
    // One proxy at a time in ABBA order: 6 saturation pairs of 2 s, 4 pairs of 3 s at `rate`.
    abba: paired({ satMode: 'abba', satPairs: 6, satSecs: 2, fixedMode: 'abba', fixedRounds: 4, fixedSecs: 3 }),
    // The same with 1 s wrk runs, 12 pairs (measured first: the scatter of 1 s runs is +-30 points).
    abba1: paired({ satMode: 'abba', satPairs: 12, satSecs: 1, fixedRounds: 10, fixedSecs: 2 }),
  };
  for (let i = 0; i < k; i++) {
    const order = i % 2 === 0 ? shapes : [...shapes].reverse();
    for (const name of order) {
      const f = SHAPES[name];
      if (!f) throw new Error(`unknown shape ${name}: ${Object.keys(SHAPES).join(', ')}`);
      const t0 = performance.now();
      const e = await f();
      const secsTaken = (performance.now() - t0) / 1000;
      const g = got.get(name)!;
      g.sat.push(e.sat); g.fixed.push(e.fixed); g.secs.push(secsTaken);
      process.stdout.write(`estimate ${i + 1}/${k} ${name.padEnd(8)}: sat ${e.sat.toFixed(1)} %, ${rate} rps ${e.fixed.toFixed(1)} % (${secsTaken.toFixed(0)} s, load ${loadavg()[0]!.toFixed(2)})\n`);
    }
  }
  const sd = (xs: number[]): number => { const m = xs.reduce((a, x) => a + x, 0) / xs.length; return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1)); };
  for (const name of shapes) {
    const g = got.get(name)!;
    for (const mode of ['sat', 'fixed'] as const) {
      const xs = g[mode];
      process.stdout.write(`${name.padEnd(8)} ${mode === 'sat' ? 'saturation' : `${rate} rps`.padEnd(10)}: ${xs.map((x) => x.toFixed(1)).join(', ')}  (range ${(Math.max(...xs) - Math.min(...xs)).toFixed(1)}, sd ${sd(xs).toFixed(1)} points, median ${median(xs).toFixed(1)})\n`);
    }
    process.stdout.write(`${name.padEnd(8)} seconds per estimate: ${g.secs.map((x) => x.toFixed(0)).join(', ')}\n`);
  }
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
