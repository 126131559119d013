/**
 * `node --import tsx bench/hop-tail.ts [--target hop|haproxy-hop] [--secs 6] [--quiet 40] [--reps 3]
 * [--build DIR] [--node-args ARGS] [--gc-log PREFIX]`: where a hop's p99 at 1000 rps comes from. One
 * hop (Bowline's sidecar pair of bench/mtls-hop.ts `hopConfigs`, or two haproxies chained) against one
 * nginx; after a warm-up run, `reps` times: `quiet` seconds with no traffic, a run of `secs` (the full
 * bench's round length; each of its rounds follows ~40 s in which the other targets ran), then a
 * second run right after it. Every request is timed from its send; each run prints its quantiles, the
 * same for requests sent alone in their timer tick and for those sent in a tick with others (node's
 * timers fire late and the driver then sends what is due at once, as bench/loadgen.ts does), and where
 * in the run its slowest 1 % fell (in the first second, and in clusters of 5 ms). `--gc-log PREFIX`
 * writes each Bowline proxy's `--trace-gc` to PREFIX.outer / PREFIX.inner. Bounded: every run stops
 * after `secs`, the whole in ~(quiet + 2 x secs + 2) x reps seconds.
 */
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { Children } from './children.js';
import { quantile } from './loadgen.js';
import { HOP_REQUEST, hopConfigs, startHop } from './mtls-hop.js';
import { haproxyConfig, holdSocket, nginxUpstream, spawnWithSocket } from './ports.js';

const { values } = parseArgs({ options: {
  target: { type: 'string', default: 'hop' }, secs: { type: 'string', default: '6' }, quiet: { type: 'string', default: '40' },
  reps: { type: 'string', default: '3' }, build: { type: 'string' }, 'node-args': { type: 'string', default: '' }, 'gc-log': { type: 'string' },
} });
const target = values.target!;
if (target !== 'hop' && target !== 'haproxy-hop') throw new Error('--target hop|haproxy-hop');
const secs = Number(values.secs), quiet = Number(values.quiet), reps = Number(values.reps);
const RATE = 1000;

interface Sent { latency: number; burst: number; at: number }

/** `secs` of RATE requests a second over 8 keep-alive connections opened for the run; every request's latency, its tick's size and its send time in the run (ms). */
async function run(port: number): Promise<Sent[]> {
  const conns: Array<{ s: Socket; busy: boolean; start: number; buf: string; burst: number; at: number }> = [];
  for (let i = 0; i < 8; i++) {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((res, rej) => { s.once('connect', () => res()); s.once('error', rej); });
    conns.push({ s, busy: false, start: 0, buf: '', burst: 0, at: 0 });
  }
  const out: Sent[] = [];
  for (const c of conns) {
    c.s.on('data', (d) => {
      c.buf += d.toString('latin1');
      const he = c.buf.indexOf('\r\n\r\n');
      if (he < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(c.buf.slice(0, he));
      const end = he + 4 + (m ? Number(m[1]) : 0);
      if (c.buf.length < end) return;
      c.buf = c.buf.slice(end);
      c.busy = false;
      out.push({ latency: performance.now() - c.start, burst: c.burst, at: c.at });
    });
  }
  const total = secs * RATE;
  let scheduled = 0;
  const t0 = performance.now() + 5;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      let due = 0;
      while (scheduled + due < total && t0 + ((scheduled + due) * 1000) / RATE <= now) due++;
      for (let i = 0; i < due; i++) {
        const c = conns.find((x) => !x.busy);
        if (!c) break; // eight in flight: the rest of this tick is dropped (counted by the total below)
        c.busy = true; c.start = performance.now(); c.burst = due; c.at = now - t0;
        c.s.write(HOP_REQUEST);
      }
      scheduled += due;
      if (scheduled < total) setTimeout(tick, Math.max(0, t0 + (scheduled * 1000) / RATE - performance.now()));
      else resolve();
    };
    tick();
  });
  const deadline = performance.now() + 2000;
  while (conns.some((c) => c.busy) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  for (const c of conns) c.s.destroy();
  return out;
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '-');

function report(label: string, rs: Sent[]): void {
  const lat = rs.map((r) => r.latency);
  const p99 = quantile(lat, 0.99);
  const alone = rs.filter((r) => r.burst === 1).map((r) => r.latency);
  const shared = rs.filter((r) => r.burst > 1).map((r) => r.latency);
  const slow = rs.filter((r) => r.latency >= p99).sort((a, b) => a.at - b.at);
  let clusters = 0;
  for (let i = 0; i < slow.length; i++) if (i === 0 || slow[i]!.at - slow[i - 1]!.at > 5) clusters++;
  process.stdout.write(`${label.padEnd(16)} n ${lat.length}/${secs * RATE}  p50 ${ms(quantile(lat, 0.5))}  p90 ${ms(quantile(lat, 0.9))}  p98 ${ms(quantile(lat, 0.98))}  p99 ${ms(p99)}  p99.9 ${ms(quantile(lat, 0.999))}\n`);
  process.stdout.write(`${''.padEnd(16)} sent alone ${alone.length}: p99 ${ms(quantile(alone, 0.99))}; in a tick with others ${shared.length}: p99 ${ms(quantile(shared, 0.99))}; slowest 1 %: ${slow.length}, ${slow.filter((r) => r.at < 1000).length} in the first second, ${clusters} clusters of 5 ms\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bowline-hop-tail-'));
  const children = new Children();
  try {
    const held = await holdSocket();
    children.keep(nginxUpstream(dir, held), 'nginx');
    let port: number;
    if (target === 'haproxy-hop') {
      const inner = await holdSocket(), outer = await holdSocket();
      for (const [h, up] of [[inner, held.port], [outer, inner.port]] as const) {
        const f = join(dir, `haproxy-${h.port}.cfg`);
        writeFileSync(f, haproxyConfig(up));
        children.keep(spawnWithSocket('haproxy', ['-f', f, '-db'], h), f);
      }
      port = outer.port;
    } else {
      const build = values.build ?? fileURLToPath(new URL('../', import.meta.url));
      const gcLog = values['gc-log'];
      const hop = await startHop('tail', await hopConfigs(held.port, false), {
        build, dir, children, nodeArgs: [...values['node-args']!.split(' ').filter(Boolean), ...(gcLog ? ['--trace-gc'] : []), ...PROXY_NODE_FLAGS],
        ...(gcLog ? { stdout: (proc: string) => openSync(`${gcLog}.${proc.replace('tail-', '')}`, 'w') } : {}),
      });
      port = hop.port;
    }
    process.stdout.write(`${target}: ${reps} x (${quiet} s quiet, ${secs} s, ${secs} s) at ${RATE} rps; load average ${loadavg()[0]!.toFixed(1)}\n`);
    report('warm-up', await run(port));
    for (let i = 0; i < reps; i++) {
      await new Promise((r) => setTimeout(r, quiet * 1000));
      report(`after ${quiet} s quiet`, await run(port));
      report('continuing', await run(port));
    }
  } finally {
    await children.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
