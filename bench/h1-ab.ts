/**
 * `node --import tsx bench/h1-ab.ts [--rounds N] [--secs S] [--variant NAME=DIR ...]`: the
 * HTTP/1.1 CPU-per-request comparison of issue 18, small enough to repeat while changing code.
 * One nginx upstream, haproxy (one thread) and one `bowline proxy` per variant (a directory
 * holding bin/ and dist/, e.g. a copy of an older build; default: this checkout; `NAME=DIR?K=V`
 * also sets environment variables for that proxy, `NAME=?K=V` for this checkout; NODE_ARGS=... node
 * flags for it alone), the same
 * 10-rule route table as bench/proxy.ts. Each round runs every target in turn (the order
 * rotates by round): wrk (1 thread, 50 connections, S s) for CPU per request at saturation,
 * then the open-loop generator at 1000 rps for S s for CPU per request at a fixed rate. Prints
 * every round and the medians, each Bowline variant as a ratio of haproxy's number of the same
 * round (the machine is shared: ratios within a round are what compare), and each variant's
 * median per-round ratio to the first variant. `--together` loads every target at 1000 rps at
 * the same time (a burst of other work lands on all of them); CPU is the processes' threads' run
 * time (/proc/PID/task/TID/schedstat).
 */
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Children } from './children.js';
import { cpuUs } from './cpu.js';
import { openLoop, quantile } from './loadgen.js';
import { bowlineConfig } from './proxy.js';
import { holdSocket, listenerPort, nginxUpstream, spawnWithSocket } from './ports.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const HOT = 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '5' }, secs: { type: 'string', default: '4' }, variant: { type: 'string', multiple: true },
  'telemetry-off': { type: 'boolean' }, 'node-args': { type: 'string', default: '' }, hold: { type: 'string', default: '0' }, mode: { type: 'string', default: 'both' },
  together: { type: 'boolean' },
} });
const rounds = Number(values.rounds);
const secs = Number(values.secs);
/** `NAME=DIR` or `NAME=DIR?K=V&K2=V2` (environment variables for that proxy: a switch inside one build). */
const variants = (values.variant ?? [`this=${root}`]).map((v) => {
  const i = v.indexOf('=');
  const [dir, query] = v.slice(i + 1).split('?') as [string, string | undefined];
  return { name: v.slice(0, i), dir: dir || root, env: Object.fromEntries(new URLSearchParams(query ?? '')) };
});

const children = new Children();
const keep = (c: ChildProcess, what: string): ChildProcess => children.keep(c, what);


/** Context switches of a process so far (voluntary + involuntary: each wake-up and each preemption). */
function switches(pid: number): number {
  const m = /voluntary_ctxt_switches:\s+(\d+)\s+nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) + Number(m[2]) : NaN;
}

function wrk(port: number, pid: number): { rps: number; cpu: number; cs: number } {
  const c0 = cpuUs(pid);
  const s0 = switches(pid);
  const r = spawnSync('wrk', ['-t1', '-c50', `-d${secs}s`, '-H', 'Host: reviews.default.svc.cluster.local', '-H', 'x-bench: hot', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: (secs + 30) * 1000 });
  const c1 = cpuUs(pid);
  const s1 = switches(pid);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? '');
  const n = /(\d+) requests in/.exec(r.stdout ?? '');
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout ?? '');
  if (non2xx) process.stderr.write(`wrk: ${non2xx[1]} non-2xx responses on ${port}\n`);
  return { rps: rps ? Number(rps[1]) : NaN, cpu: n && Number(n[1]) > 0 ? (c1 - c0) / Number(n[1]) : NaN, cs: n ? (s1 - s0) / Number(n[1]) : NaN };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'h1-ab-'));
  try {
    const up = await holdSocket();
    keep(nginxUpstream(dir, up), 'nginx');
    const hp = await holdSocket();
    writeFileSync(join(dir, 'haproxy.cfg'), `global\n  nbthread 1\n  maxconn 10500\n  ulimit-n 20000\n  no strict-limits\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 30s\n  option http-keep-alive\nfrontend f\n  bind fd@3\n  default_backend b\nbackend b\n  http-reuse always\n  server s1 127.0.0.1:${up.port}\n`);
    const ha = keep(spawnWithSocket('/usr/sbin/haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], hp), 'haproxy');
    const targets: Array<{ name: string; port: number; pid: number }> = [{ name: 'haproxy', port: hp.port, pid: ha.pid! }];
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify(bowlineConfig(0, up.port)));
    const nodeArgs = values['node-args'] ? values['node-args'].split(' ') : [];
    for (const v of variants) {
      const pf = join(dir, `${v.name}.ports.json`);
      const c = keep(spawn(process.execPath, [...PROXY_NODE_FLAGS, ...nodeArgs, ...(v.env.NODE_ARGS ?? '').split(' ').filter(Boolean), join(v.dir, 'bin/bowline'), 'proxy', '--config', join(dir, 'cfg.json'), '--admin-port', '0', '--metrics-port', '0', '--ports-file', pf, ...(values['telemetry-off'] ? ['--telemetry', 'off'] : [])], { cwd: dir, env: { ...process.env, ...v.env }, stdio: ['ignore', process.env.H1AB_STDOUT ? openSync(`${process.env.H1AB_STDOUT}.${v.name}`, 'w') : 'ignore', 'pipe'] }), v.name);
      targets.push({ name: v.name, port: await listenerPort(pf, 'outbound', c), pid: c.pid! });
    }
    process.stderr.write(`targets: ${targets.map((t) => `${t.name}:${t.port} pid ${t.pid}`).join(', ')}; load ${loadavg()[0]!.toFixed(1)}\n`);
    for (const t of targets) await openLoop(t.port, 1000, 500, HOT); // warm-up
    if (Number(values.hold) > 0) { process.stderr.write(`holding ${values.hold} s\n`); await new Promise((r) => setTimeout(r, Number(values.hold) * 1000)); }
    const sat = new Map<string, number[]>();
    const fixed = new Map<string, number[]>();
    const loads: number[] = [];
    const p99s = new Map<string, number[]>();
    const p50s = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      const line: string[] = [];
      const fixedRun = async (t: (typeof targets)[number]): Promise<{ cpu: number; cs: number; p50: number; p99: number; errors: number }> => {
        const c0 = cpuUs(t.pid);
        const s0 = switches(t.pid);
        const o = values.mode === 'sat' ? { latencies: [], errors: 0 } : await openLoop(t.port, 1000, secs * 1000, HOT);
        const n = Math.max(1, o.latencies.length);
        return { cpu: (cpuUs(t.pid) - c0) / n, cs: (switches(t.pid) - s0) / n, p50: quantile(o.latencies, 0.5), p99: quantile(o.latencies, 0.99), errors: o.errors };
      };
      const sats = new Map<string, { rps: number; cpu: number; cs: number }>();
      const fixeds = new Map<string, Awaited<ReturnType<typeof fixedRun>>>();
      for (const t of order) {
        sats.set(t.name, values.mode === 'fixed' ? { rps: NaN, cpu: NaN, cs: NaN } : wrk(t.port, t.pid));
        if (!values.together) fixeds.set(t.name, await fixedRun(t));
      }
      // --together: every target at 1000 rps at the same time (the starts in the round's order), so other work on the machine weighs on all alike.
      if (values.together) (await Promise.all(order.map(fixedRun))).forEach((f, i) => fixeds.set(order[i]!.name, f));
      for (const t of order) {
        const w = sats.get(t.name)!;
        const f = fixeds.get(t.name)!;
        (sat.get(t.name) ?? sat.set(t.name, []).get(t.name)!).push(w.cpu);
        (fixed.get(t.name) ?? fixed.set(t.name, []).get(t.name)!).push(f.cpu);
        (p99s.get(t.name) ?? p99s.set(t.name, []).get(t.name)!).push(f.p99);
        (p50s.get(t.name) ?? p50s.set(t.name, []).get(t.name)!).push(f.p50);
        line.push(`${t.name} sat ${w.cpu.toFixed(1)} (${w.rps.toFixed(0)} rps, ${w.cs.toFixed(2)} cs) 1k ${f.cpu.toFixed(1)} (${f.cs.toFixed(2)} cs, p50 ${f.p50.toFixed(3)} p99 ${f.p99.toFixed(3)})${f.errors ? ` err ${f.errors}` : ''}`);
      }
      loads.push(loadavg()[0]!);
      const h = (m: Map<string, number[]>): number => m.get('haproxy')![r]!;
      const ratios = variants.map((v) => `${v.name} ${(sat.get(v.name)![r]! / h(sat)).toFixed(2)}x/${(fixed.get(v.name)![r]! / h(fixed)).toFixed(2)}x`).join(', ');
      process.stdout.write(`round ${r + 1} (load ${loads[r]!.toFixed(1)}): ${line.join(' | ')}  => ${ratios}\n`);
    }
    if (rounds === 0) return;
    const med = (xs: number[]): number => quantile(xs, 0.5);
    process.stdout.write(`medians over ${rounds} rounds (load ${med(loads).toFixed(1)}):\n`);
    for (const t of targets) {
      const rs = sat.get(t.name)!.map((x, i) => x / sat.get('haproxy')![i]!);
      const rf = fixed.get(t.name)!.map((x, i) => x / fixed.get('haproxy')![i]!);
      process.stdout.write(`  ${t.name.padEnd(10)} sat ${med(sat.get(t.name)!).toFixed(1)} us/req (ratio ${med(rs).toFixed(2)})  1000 rps ${med(fixed.get(t.name)!).toFixed(1)} us/req (ratio ${med(rf).toFixed(2)})  p50 ${med(p50s.get(t.name)!).toFixed(3)} p99 ${med(p99s.get(t.name)!).toFixed(3)} ms\n`);
    }
    // Each variant against the first, paired within rounds (the steadier comparison on a shared machine).
    const first = variants[0]!.name;
    for (const v of variants.slice(1)) {
      const per = (m: Map<string, number[]>): number => med(m.get(v.name)!.map((x, i) => x / m.get(first)![i]!));
      process.stdout.write(`  ${v.name} / ${first}: median of the rounds' ratios: sat ${per(sat).toFixed(3)}, 1000 rps ${per(fixed).toFixed(3)}\n`);
    }
  } finally {
    await children.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(String(err instanceof Error ? err.stack : err) + '\n'); process.exit(1); });
