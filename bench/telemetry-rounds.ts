/**
 * Telemetry's share of the proxy's CPU per request (`telemetry_cpu_overhead_pct`,
 * `telemetry_sat_cpu_overhead_pct`) from paired rounds of one proxy with telemetry on and one with
 * `--telemetry off`, used by the full bench (bench/proxy.ts) and by bench/telemetry-ab.ts
 * (`--estimator`, which repeats it to show its spread).
 *
 * Why not the bench's rotation (until session 12): there a round's on and off runs are 3 s
 * (saturation) or 6 s (1000 rps) one after the other, and the shared machine has slow phases of
 * seconds to minutes that land on whichever run they fall on; five such pairs per run put the
 * saturation share anywhere in -8..22 % for one build. Here, in every round both proxies are
 * loaded at the same time -- one wrk each (saturation), or `rate` req/s each (1000 rps) -- so a
 * burst of other work lands on both halves of the pair. At saturation which wrk starts first
 * alternates (ABBA); at 1000 rps one timer sends each request slot to both proxies, the order
 * alternating slot by slot (loadgen.ts openLoops: two loops side by side put the first one's
 * requests first in every tick, +15..30 % for it in session 12's runs). CPU per request is each proxy's threads' run time
 * (schedstat, bench/cpu.ts) over the requests it answered in that run; each round gives
 * (on - off) / off in percent, the field is the median of the rounds' values, and `*_iqr` their
 * interquartile range. Measured against the rotation and against one-at-a-time ABBA pairs (bench/telemetry-ab.ts
 * `--estimator`, docs/performance.md "Telemetry"): the steadiest of the three for the time.
 * `satMode: 'abba'` / `fixedMode: 'abba'` keep the one-at-a-time shape for such comparisons.
 */
import { spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { cpuUs } from './cpu.js';
import { openLoop, openLoops, quantile } from './loadgen.js';

export interface TelemetryTarget { port: number; pids: number[] }

export interface TelemetryRoundsOptions {
  /** Saturation rounds (0: none). */
  satPairs: number;
  /** Seconds of each wrk run (whole seconds: wrk's unit). */
  satSecs: number;
  /** 1000 rps rounds (0: none). */
  fixedRounds: number;
  /** Seconds of each 1000 rps round. */
  fixedSecs: number;
  rate: number;
  /** The raw HTTP/1.1 request of the open loop. */
  request: string;
  /** wrk's connections (one thread). */
  wrkConns: number;
  /** The request's fields for wrk (`-H` values). */
  wrkHeaders: readonly string[];
  /** Saturation: `together` (default: one wrk on each at the same time) or `abba` (one proxy under wrk at a time, pairs in ABBA order). */
  satMode?: 'abba' | 'together';
  /** 1000 rps: `together` (default: both loaded at once, the start order alternated) or `abba` (one at a time, ABBA). */
  fixedMode?: 'abba' | 'together';
  /**
   * Seconds of wrk on both, not measured, before the first round (0: none): the full bench reaches these rounds after 20 s
   * idle, in which the proxies' idle GCs gave their young generation back (src/proxy/idle-gc.ts); loaded again, a proxy
   * scavenges more often until it has grown it back.
   */
  warmSecs?: number;
}

/** One mode's rounds: each proxy's CPU us per request, and the pair's (on - off) / off in percent, in round order. */
export interface TelemetryModeRounds { on: number[]; off: number[]; pct: number[] }

export interface TelemetryRounds {
  sat: TelemetryModeRounds;
  fixed: TelemetryModeRounds;
}

const cpuOf = (t: TelemetryTarget): number => t.pids.reduce((a, p) => a + cpuUs(p), 0);

/** wrk on `t` for `secs`: CPU us per request of its processes (NaN when wrk failed). */
function wrkCpu(t: TelemetryTarget, o: TelemetryRoundsOptions): number {
  const c0 = cpuOf(t);
  const r = spawnSync('wrk', ['-t1', `-c${o.wrkConns}`, `-d${o.satSecs}s`, ...o.wrkHeaders.flatMap((h) => ['-H', h]), `http://127.0.0.1:${t.port}/`], { encoding: 'utf8', timeout: (o.satSecs + 30) * 1000 });
  const c1 = cpuOf(t);
  const n = Number(/(\d+) requests in/.exec(r.stdout ?? '')?.[1]);
  return n > 0 ? (c1 - c0) / n : NaN;
}

/** wrk on `t` for `secs`, not waiting: CPU us per request of its processes (NaN when wrk failed). */
export async function wrkCpuAsync(t: TelemetryTarget, o: Pick<TelemetryRoundsOptions, 'wrkConns' | 'satSecs' | 'wrkHeaders'>): Promise<number> {
  const c0 = cpuOf(t);
  const c = spawn('wrk', ['-t1', `-c${o.wrkConns}`, `-d${o.satSecs}s`, ...o.wrkHeaders.flatMap((h) => ['-H', h]), `http://127.0.0.1:${t.port}/`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  c.stdout.on('data', (d) => { out += d; });
  await new Promise((r) => c.on('close', r));
  const c1 = cpuOf(t);
  const n = Number(/(\d+) requests in/.exec(out)?.[1]);
  return n > 0 ? (c1 - c0) / n : NaN;
}

const pctOver = (on: number, off: number): number => (off > 0 && Number.isFinite(on) ? ((on - off) / off) * 100 : NaN);

/** The median of the finite values (of an even count, the mean of the middle two; NaN when none). */
export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? NaN : n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
}

/** The interquartile range of the finite values: the 75th minus the 25th percentile (NaN under 4 values). */
export function iqr(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length >= 4 ? quantile(v, 0.75) - quantile(v, 0.25) : NaN;
}

/** The rounds (see the file's comment). `log` gets one line per pair. */
export async function telemetryRounds(on: TelemetryTarget, off: TelemetryTarget, o: TelemetryRoundsOptions, log: (s: string) => void): Promise<TelemetryRounds> {
  const sat: TelemetryModeRounds = { on: [], off: [], pct: [] };
  const fixed: TelemetryModeRounds = { on: [], off: [], pct: [] };
  if (o.warmSecs) await Promise.all([wrkCpuAsync(on, { ...o, satSecs: o.warmSecs }), wrkCpuAsync(off, { ...o, satSecs: o.warmSecs })]);
  for (let i = 0; i < o.satPairs; i++) {
    // ABBA: on first in even pairs, off first in odd ones.
    let a: number, b: number;
    if (o.satMode !== 'abba') [a, b] = i % 2 === 0 ? await Promise.all([wrkCpuAsync(on, o), wrkCpuAsync(off, o)]) : await (async () => { const y = wrkCpuAsync(off, o); const x = wrkCpuAsync(on, o); return [await x, await y] as const; })();
    else if (i % 2 === 0) { a = wrkCpu(on, o); b = wrkCpu(off, o); } else { b = wrkCpu(off, o); a = wrkCpu(on, o); }
    sat.on.push(a); sat.off.push(b); sat.pct.push(pctOver(a, b));
    log(`telemetry saturation round ${i + 1}/${o.satPairs} (${o.satMode === 'abba' ? 'one at a time' : 'both loaded'}, ${i % 2 === 0 ? 'on' : 'off'} first; ${o.satSecs} s): on ${a.toFixed(2)} off ${b.toFixed(2)} us/req, ${pctOver(a, b).toFixed(1)} % (load ${loadavg()[0]!.toFixed(2)})`);
  }
  const measure = async (t: TelemetryTarget): Promise<number> => {
    const c0 = cpuOf(t);
    const r = await openLoop(t.port, o.rate, o.fixedSecs * 1000, o.request);
    return (cpuOf(t) - c0) / Math.max(1, r.latencies.length);
  };
  // Both loaded at once from one timer that alternates which proxy each request slot reaches first (loadgen.ts openLoops).
  const measureBoth = async (): Promise<[number, number]> => {
    const a0 = cpuOf(on), b0 = cpuOf(off);
    const [ra, rb] = await openLoops([on.port, off.port], o.rate, o.fixedSecs * 1000, o.request);
    return [(cpuOf(on) - a0) / Math.max(1, ra!.latencies.length), (cpuOf(off) - b0) / Math.max(1, rb!.latencies.length)];
  };
  for (let i = 0; i < o.fixedRounds; i++) {
    const [a, b] = o.fixedMode === 'abba'
      ? (i % 2 === 0 ? [await measure(on), await measure(off)] : await (async () => { const y = await measure(off); return [await measure(on), y] as const; })())
      : await measureBoth();
    fixed.on.push(a); fixed.off.push(b); fixed.pct.push(pctOver(a, b));
    log(`telemetry ${o.rate} rps round ${i + 1}/${o.fixedRounds} (${o.fixedMode === 'abba' ? (i % 2 === 0 ? 'one at a time, on first' : 'one at a time, off first') : 'both loaded, alternating per request'}; ${o.fixedSecs} s): on ${a.toFixed(1)} off ${b.toFixed(1)} us/req, ${pctOver(a, b).toFixed(1)} % (load ${loadavg()[0]!.toFixed(2)})`);
  }
  return { sat, fixed };
}

/** The full bench's rounds (~50 s): 1 s of warm-up, 8 saturation rounds of 3 s and 8 rounds of 3 s at 1000 rps, both proxies loaded together in each. */
export const TELEMETRY_FULL = { warmSecs: 1, satPairs: 8, satSecs: 3, fixedRounds: 8, fixedSecs: 3, wrkConns: 50, wrkHeaders: ['Host: reviews.default.svc.cluster.local', 'x-bench: hot'] } as const;
/** `--quick` (~5 s): 2 rounds of 1 s of each, no warm-up (the quick bench does not idle before them). */
export const TELEMETRY_QUICK = { ...TELEMETRY_FULL, warmSecs: 0, satPairs: 2, satSecs: 1, fixedRounds: 2, fixedSecs: 1 } as const;
