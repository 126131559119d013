/**
 * `node --import tsx bench/hop-tail.ts [--target hop|haproxy-hop|floor-hop] [--secs 6] [--quiet 40] [--reps 3]
 * [--build DIR] [--node-args=ARGS] [--gc-log PREFIX] [--sat N] [--sampling PCT] [--smaps PREFIX] [--dump PREFIX]`:
 * where a hop's p99 at 1000 rps comes from. One hop (Bowline's sidecar pair of bench/mtls-hop.ts `hopConfigs`, two
 * haproxies chained, or two bare node relays chained: bench/floor-relay.ts) against one nginx; after a warm-up run,
 * `reps` times: `quiet` seconds with no traffic, a run of `secs` (the full bench's round length; each of its rounds
 * follows ~40 s in which the other targets ran), then a second run right after it, each bench/loadgen.ts `openLoop`
 * (timed from when its timer found a request due, queueing included). Each run prints its quantiles, its p99 second
 * by second, the same for requests sent alone in their timer tick and for those sent in a tick with others (node's
 * timers fire late and the generator then sends what is due at once), where in the run its slowest 1 % fell (in the
 * first second, and in clusters of 5 ms), and the proxies' minor page faults per request.
 *
 * Options for finding out why: `--node-args=ARGS` are added after the proxies' PROXY_NODE_FLAGS (so a V8 flag given
 * here wins); `--gc-log PREFIX` writes each Bowline proxy's stdout, with `--trace-gc`, to PREFIX.outer / PREFIX.inner;
 * `--sat N` replaces the warm-up run with the full bench's start (a pool of 50 warmed, a second of wrk, N saturation
 * rounds of 3 s 20 s apart, a 300 ms open-loop warm-up); `--sampling PCT` sets both proxies' trace sampling (the
 * bench's is 1); `--smaps PREFIX` writes the proxies' /proc/PID/smaps before each quiet period, at its end and after
 * the run that follows (PREFIX.REP.loaded|quiet|after.PID); `--dump PREFIX` writes each run's requests as lines of
 * "wall-clock due time (ms since the epoch) latency (ms)", to set beside `perf sched` or GC events of the same seconds.
 * Bounded: every run stops after `secs`, the whole in ~(quiet + 2 x secs + 2) x reps seconds (+ ~90 s with --sat 3).
 */
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { Children } from './children.js';
import { openLoop, quantile } from './loadgen.js';
import { HOP_REQUEST, hopConfigs, startHop, warmPool } from './mtls-hop.js';
import { haproxyConfig, holdSocket, nginxUpstream, spawnWithSocket } from './ports.js';
import { wrk } from './proxy.js';

const { values } = parseArgs({ options: {
  target: { type: 'string', default: 'hop' }, secs: { type: 'string', default: '6' }, quiet: { type: 'string', default: '40' },
  reps: { type: 'string', default: '3' }, build: { type: 'string' }, 'node-args': { type: 'string', default: '' }, 'gc-log': { type: 'string' },
  smaps: { type: 'string' }, sat: { type: 'string', default: '0' }, dump: { type: 'string' }, sampling: { type: 'string' },
} });
const target = values.target!;
if (target !== 'hop' && target !== 'haproxy-hop' && target !== 'floor-hop') throw new Error('--target hop|haproxy-hop|floor-hop');
for (const k of ['secs', 'quiet', 'reps', 'sat', 'sampling'] as const) {
  if (values[k] !== undefined && !(Number(values[k]) >= 0)) throw new Error(`--${k} takes a number >= 0, not ${values[k]}`);
}
const secs = Number(values.secs), quiet = Number(values.quiet), reps = Number(values.reps);
const RATE = 1000;

interface Sent { latency: number; tick: number; at: number }

/** Minor page faults of `pids` so far (/proc/PID/stat field 10; 0 where /proc does not tell). */
function minorFaults(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    try { n += Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[7]); } catch { /* gone */ }
  }
  return n;
}

let dumps = 0;

interface Run { sent: Sent[]; errors: number; faultsPerReq: number }

/** `secs` of RATE requests a second (bench/loadgen.ts openLoop, its 8 connections opened for the run): every completed request, and the proxies' minor page faults per request. */
async function run(port: number, pids: readonly number[]): Promise<Run> {
  const f0 = minorFaults(pids);
  const startedAt = performance.timeOrigin + performance.now();
  const r = await openLoop(port, RATE, secs * 1000, HOP_REQUEST);
  const faultsPerReq = (minorFaults(pids) - f0) / Math.max(1, r.latencies.length);
  if (values.dump !== undefined) writeFileSync(`${values.dump}.${dumps++}`, r.latencies.map((l, i) => `${(startedAt + 5 + r.dueAtMs[i]!).toFixed(3)} ${l.toFixed(3)}`).join('\n'));
  return { sent: r.latencies.map((latency, i) => ({ latency, tick: r.ticks[i]!, at: r.dueAtMs[i]! })), errors: r.errors, faultsPerReq };
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '-');

function report(label: string, { sent: rs, errors, faultsPerReq }: Run): void {
  const lat = rs.map((r) => r.latency);
  const p99 = quantile(lat, 0.99);
  const alone = rs.filter((r) => r.tick === 1).map((r) => r.latency);
  const shared = rs.filter((r) => r.tick > 1).map((r) => r.latency);
  const slow = rs.filter((r) => r.latency >= p99).sort((a, b) => a.at - b.at);
  let clusters = 0;
  for (let i = 0; i < slow.length; i++) if (i === 0 || slow[i]!.at - slow[i - 1]!.at > 5) clusters++;
  process.stdout.write(`${label.padEnd(16)} n ${lat.length} (errors ${errors}, minor faults ${faultsPerReq.toFixed(2)}/req)  p50 ${ms(quantile(lat, 0.5))}  p90 ${ms(quantile(lat, 0.9))}  p98 ${ms(quantile(lat, 0.98))}  p99 ${ms(p99)}  p99.9 ${ms(quantile(lat, 0.999))}\n`);
  // p99 of each second of the run (the first seconds after a quiet period are where a node process differs from haproxy).
  const bySecond: number[][] = [];
  for (const r of rs) (bySecond[Math.floor(r.at / 1000)] ??= []).push(r.latency);
  process.stdout.write(`${''.padEnd(16)} p99 by second: ${Array.from(bySecond, (b) => ms(quantile(b ?? [], 0.99))).join(' / ')}\n`);
  process.stdout.write(`${''.padEnd(16)} sent alone ${alone.length}: p99 ${ms(quantile(alone, 0.99))}; in a tick with others ${shared.length}: p99 ${ms(quantile(shared, 0.99))}; slowest 1 %: ${slow.length}, ${slow.filter((r) => r.at < 1000).length} in the first second, ${clusters} clusters of 5 ms\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bowline-hop-tail-'));
  const children = new Children();
  try {
    const held = await holdSocket();
    children.keep(nginxUpstream(dir, held), 'nginx');
    let port: number;
    let pids: number[] = [];
    if (target === 'floor-hop') {
      // Two bare node relays chained (bench/floor-relay.ts, with the proxies' node flags): node's own share of a hop.
      const inner = await holdSocket(), outer = await holdSocket();
      const relay = fileURLToPath(new URL('./floor-relay.ts', import.meta.url));
      for (const [h, up] of [[inner, held.port], [outer, inner.port]] as const) {
        pids.push(children.keep(spawnWithSocket(process.execPath, [...PROXY_NODE_FLAGS, '--import', 'tsx', relay, String(up)], h), `floor relay ${h.port}`).pid!);
      }
      port = outer.port;
    } else if (target === 'haproxy-hop') {
      const inner = await holdSocket(), outer = await holdSocket();
      for (const [h, up] of [[inner, held.port], [outer, inner.port]] as const) {
        const f = join(dir, `haproxy-${h.port}.cfg`);
        writeFileSync(f, haproxyConfig(up));
        pids.push(children.keep(spawnWithSocket('haproxy', ['-f', f, '-db'], h), f).pid!);
      }
      port = outer.port;
    } else {
      const build = values.build ?? fileURLToPath(new URL('../', import.meta.url));
      const gcLog = values['gc-log'];
      const configs = await hopConfigs(held.port, false);
      const sampling = values.sampling === undefined ? undefined : Number(values.sampling);
      // --sampling PCT: the mesh's trace sampling in both proxies' configs (the bench's is Istio's default, 1 %).
      const sampled = (cfg: unknown): unknown => (sampling === undefined ? cfg : { ...(cfg as object), mesh: { ...(cfg as { mesh: object }).mesh, tracingSampling: sampling } });
      const hop = await startHop('tail', { outer: (port) => sampled(configs.outer(port)), inner: sampled(configs.inner) }, {
        build, dir, children, nodeArgs: [...PROXY_NODE_FLAGS, ...values['node-args']!.split(' ').filter(Boolean), ...(gcLog ? ['--trace-gc'] : [])],
        ...(gcLog ? { stdout: (proc: string) => openSync(`${gcLog}.${proc.replace('tail-', '')}`, 'w') } : {}),
      });
      port = hop.port;
      pids = hop.pids;
    }
    process.stdout.write(`${target}: ${reps} x (${quiet} s quiet, ${secs} s, ${secs} s) at ${RATE} rps; load average ${loadavg()[0]!.toFixed(1)}\n`);
    const satRounds = Number(values.sat);
    if (satRounds > 0) {
      // The full bench's order: a pool of 50 warmed, a second of wrk, then its saturation rounds (3 s each, ~20 s of other targets between them) and a 300 ms open-loop warm-up.
      await warmPool(port, 50, HOP_REQUEST);
      wrk(port, 1, []);
      for (let i = 0; i < satRounds; i++) { await new Promise((r) => setTimeout(r, 20_000)); wrk(port, 3, []); }
      await new Promise((r) => setTimeout(r, 20_000));
      await openLoop(port, RATE, 300, HOP_REQUEST);
      process.stdout.write(`after ${satRounds} saturation rounds (wrk -c50, 3 s each, 20 s apart)\n`);
    } else report('warm-up', await run(port, pids));
    const smaps = (at: string): void => {
      if (values.smaps === undefined) return;
      for (const pid of pids) {
        try { writeFileSync(`${values.smaps}.${at}.${pid}`, readFileSync(`/proc/${pid}/smaps`)); } catch { /* gone */ }
      }
    };
    for (let i = 0; i < reps; i++) {
      smaps(`${i}.loaded`);
      await new Promise((r) => setTimeout(r, quiet * 1000));
      smaps(`${i}.quiet`);
      report(`after ${quiet} s quiet`, await run(port, pids));
      smaps(`${i}.after`);
      report('continuing', await run(port, pids));
    }
  } finally {
    await children.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
