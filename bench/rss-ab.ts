/**
 * `node --import tsx bench/rss-ab.ts [--rounds N] [--variant NAME=DIR ...] [--env NAME:K=V ...]
 * [--node-args NAME:ARGS ...] [--smaps] [--hold SECS]`: RSS of `bowline proxy` after bench/proxy.ts's load
 * (`bowline_rss_mb`: the bench's 10-rule route table, telemetry on, 1 % tracing; wrk 50
 * connections, then 1000 rps), for two or more builds or launch settings in one run. Every round
 * starts a fresh proxy per variant (RSS after load depends on the process's history), loads them
 * one after the other in an order that rotates by round (wrk 4 s, then 1000 rps for 3 x 6 s, as
 * the full bench does; `--quick`: 1 s and 1 x 1 s), then reads `/proc/PID/status` of each when
 * it has been idle as long as the bench's Bowline is when the bench reads it (the other targets'
 * turns: 36 s, `--quick` 6 s; `--idle S`). `--variant NAME=passthrough` is the floor: a bare Node
 * pass-through (`net` sockets piped both ways) under the same load.
 * A variant is a directory holding bin/ and dist/ (default: this checkout), launched with that build's
 * PROXY_NODE_FLAGS; `--env` and `--node-args` (put before the build's flags) set how that variant's
 * process is launched. Besides RSS it prints the peak (`VmHWM`: RSS while loaded, what a container's
 * memory limit has to fit). `--smaps` prints where each proxy's
 * resident pages are (per mapped file; anonymous memory as malloc arenas, stacks, other); `--hold`
 * keeps the last round's proxies running that long for a closer look (pids and ports printed);
 * `--stdout PREFIX` keeps each proxy's stdout in PREFIX.NAME.ROUND (e.g. with `--node-args NAME:--trace-gc`).
 * `--idle-conns N`: after the RSS read, KiB of RSS per idle keep-alive connection as the bench measures it
 * (bowline_idle_conn_kb: N served connections left open, bench/idle-conns.ts), each proxy in turn.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Children } from './children.js';
import { idleConnKb } from './idle-conns.js';
import { openLoop, quantile } from './loadgen.js';
import { bowlineConfig } from './proxy.js';
import { holdSocket, listenerPort, nginxUpstream } from './ports.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const HOT = 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '3' }, variant: { type: 'string', multiple: true }, env: { type: 'string', multiple: true },
  'node-args': { type: 'string', multiple: true }, smaps: { type: 'boolean' }, quick: { type: 'boolean' }, hold: { type: 'string', default: '0' }, idle: { type: 'string' }, stdout: { type: 'string' }, 'idle-conns': { type: 'string', default: '0' },
} });
const rounds = Number(values.rounds);
const variants = (values.variant ?? [`this=${root}`]).map((v) => { const i = v.indexOf('='); return { name: v.slice(0, i), dir: v.slice(i + 1), env: {} as Record<string, string>, args: [] as string[] }; });
const byName = (s: string): { v: (typeof variants)[number]; rest: string } => {
  const i = s.indexOf(':');
  const v = variants.find((x) => x.name === s.slice(0, i));
  if (!v) throw new Error(`no variant ${s.slice(0, i)}`);
  return { v, rest: s.slice(i + 1) };
};
for (const e of values.env ?? []) { const { v, rest } = byName(e); const j = rest.indexOf('='); v.env[rest.slice(0, j)] = rest.slice(j + 1); }
for (const a of values['node-args'] ?? []) { const { v, rest } = byName(a); v.args.push(...rest.split(' ').filter(Boolean)); }


/** The node flags a build launches its proxies with (its own PROXY_NODE_FLAGS; none in builds older than node-flags.ts). */
async function buildFlags(dir: string): Promise<readonly string[]> {
  const f = join(dir, 'dist/proxy/node-flags.js');
  return existsSync(f) ? ((await import(pathToFileURL(f).href)) as { PROXY_NODE_FLAGS: readonly string[] }).PROXY_NODE_FLAGS : [];
}

/** The floor: a bare Node pass-through (each connection piped to the upstream), run for `--variant NAME=passthrough`. */
const PASSTHROUGH = `const net = require('node:net'); const fs = require('node:fs'); const [up, pf] = process.argv.slice(1);
const s = net.createServer((c) => { const u = net.connect(Number(up), '127.0.0.1'); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); });
s.listen(0, '127.0.0.1', () => fs.writeFileSync(pf, JSON.stringify({ listeners: { outbound: s.address().port } })));`;

function status(pid: number): { rss: number; anon: number; file: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem'), peak: kb('VmHWM') };
}

/** Resident MB per mapping kind: each file by name, anonymous memory by what it most likely is. */
function smaps(pid: number): Array<[string, number]> {
  const out = new Map<string, number>();
  let name = '';
  let size = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      size = (parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 1024;
      const path = m[3]!;
      name = path ? path.replace(/^.*\//, '') : 'anon';
      // glibc arenas of other threads are 64 MB-aligned heaps of up to 64 MB; thread stacks 8 MB (+ guard)
      if (!path) name = size === 8192 ? 'anon: thread stack (8 MB)' : (parseInt(m[1]!, 16) % (64 * 1024 * 1024) === 0 && size <= 65536) ? 'anon: malloc arena (64 MB-aligned)' : size >= 256 * 1024 ? 'anon: >= 256 MB reservation (V8 cage / code range)' : 'anon: other';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r) out.set(name, (out.get(name) ?? 0) + Number(r[1]) / 1024);
  }
  return [...out].filter(([, mb]) => mb >= 0.1).sort((a, b) => b[1] - a[1]);
}

function wrk(port: number, secs: number): void {
  spawnSync('wrk', ['-t1', '-c50', `-d${secs}s`, '-H', 'Host: reviews.default.svc.cluster.local', '-H', 'x-bench: hot', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: (secs + 30) * 1000 });
}

const children = new Children();
const keep = (c: ChildProcess, what: string): ChildProcess => children.keep(c, what);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rss-ab-'));
  try {
    const up = await holdSocket();
    keep(nginxUpstream(dir, up), 'nginx');
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify(bowlineConfig(0, up.port)));
    const wrkSecs = values.quick ? 1 : 4;
    const fixedMs = values.quick ? 1000 : 6000;
    const fixedReps = values.quick ? 1 : 3;
    const idleSecs = values.idle !== undefined ? Number(values.idle) : values.quick ? 6 : 36;
    const res = new Map<string, Array<{ rss: number; anon: number; file: number; peak: number; start: number; afterLoad: number; connKb: number }>>(variants.map((v) => [v.name, []]));
    for (let r = 0; r < rounds; r++) {
      const procs: Array<{ name: string; port: number; pid: number; c: ChildProcess; start: number; loaded: number; afterLoad: number }> = [];
      for (const v of variants) {
        const pf = join(dir, `${v.name}-${r}.ports.json`);
        const args = v.dir === 'passthrough' ? ['-e', PASSTHROUGH, String(up.port), pf] : [...await buildFlags(v.dir), join(v.dir, 'bin/bowline'), 'proxy', '--config', join(dir, 'cfg.json'), '--admin-port', '0', '--metrics-port', '0', '--ports-file', pf];
        const c = keep(spawn(process.execPath, [...v.args, ...args], { cwd: dir, env: { ...process.env, ...v.env }, stdio: ['ignore', values.stdout ? openSync(`${values.stdout}.${v.name}.${r}`, 'w') : 'ignore', 'pipe'] }), v.name);
        const port = await listenerPort(pf, 'outbound', c);
        procs.push({ name: v.name, port, pid: c.pid!, c, start: status(c.pid!).rss, loaded: 0, afterLoad: 0 });
      }
      const order = procs.map((_, i) => procs[(i + r) % procs.length]!);
      for (const p of order) {
        wrk(p.port, wrkSecs);
        for (let i = 0; i < fixedReps; i++) await openLoop(p.port, 1000, fixedMs, HOT);
        p.loaded = Date.now();
        p.afterLoad = status(p.pid).rss;
      }
      // The bench reads RSS once the other targets have had their turn: each proxy is read `idle` s after its load.
      for (const p of [...procs].sort((a, b) => a.loaded - b.loaded)) await new Promise((ok) => setTimeout(ok, Math.max(0, p.loaded + idleSecs * 1000 - Date.now())));
      const line: string[] = [];
      for (const p of procs) {
        const s = status(p.pid);
        res.get(p.name)!.push({ ...s, start: p.start, afterLoad: p.afterLoad, connKb: NaN });
        line.push(`${p.name} ${s.rss.toFixed(1)} MB (anon ${s.anon.toFixed(1)}, file ${s.file.toFixed(1)}; start ${p.start.toFixed(1)}, right after load ${p.afterLoad.toFixed(1)}, peak ${s.peak.toFixed(1)})`);
        if (values.smaps) process.stdout.write(`  smaps of ${p.name}: ${smaps(p.pid).map(([n, mb]) => `${n} ${mb.toFixed(1)}`).join(', ')}\n`);
      }
      const conns = Number(values['idle-conns']);
      if (conns > 0) {
        for (const p of order) {
          const kb = await idleConnKb(p.port, [p.pid], conns, HOT);
          res.get(p.name)!.at(-1)!.connKb = kb;
          line.push(`${p.name} ${kb.toFixed(2)} KiB per idle connection`);
        }
      }
      process.stdout.write(`round ${r + 1} (load ${loadavg()[0]!.toFixed(1)}): ${line.join(' | ')}\n`);
      if (Number(values.hold) > 0 && r === rounds - 1) {
        process.stdout.write(`holding ${values.hold} s: ${procs.map((p) => `${p.name} pid ${p.pid} port ${p.port}`).join(', ')} (cwd ${dir})\n`);
        await new Promise((ok) => setTimeout(ok, Number(values.hold) * 1000));
      }
      for (const p of procs) p.c.kill('SIGTERM');
      await Promise.all(procs.map((p) => p.c.exitCode !== null ? undefined : new Promise((ok) => p.c.once('exit', ok))));
    }
    const med = (xs: number[]): string => quantile(xs, 0.5).toFixed(1);
    process.stdout.write(`medians over ${rounds} rounds:\n`);
    for (const [name, xs] of res) process.stdout.write(`  ${name.padEnd(12)} RSS ${med(xs.map((x) => x.rss))} MB  anon ${med(xs.map((x) => x.anon))}  file ${med(xs.map((x) => x.file))}  at start ${med(xs.map((x) => x.start))}  right after load ${med(xs.map((x) => x.afterLoad))}  peak ${med(xs.map((x) => x.peak))}${Number(values['idle-conns']) > 0 ? `  KiB per idle connection ${quantile(xs.map((x) => x.connKb), 0.5).toFixed(2)}` : ''}\n`);
  } finally {
    await children.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(String(err instanceof Error ? err.stack : err) + '\n'); process.exit(1); });
