/**
 * HTTP/2 CPU per request of `bowline proxy` beside haproxy `proto h2`, in the h2 shape of
 * `npm run bench -- proxy` (bench/proxy-protocols.ts: h2load 4 connections x 10 streams, one
 * thread -> proxy h2c -> nginx h2c `return 200`), rounds alternating between the targets so
 * the shared machine's load falls on each alike; medians per target and the ratio.
 *
 *   node --import tsx bench/h2-profile.ts [--rounds 5] [-n 20000] [--base DIR] [--prof DIR] [--telemetry on|off]
 *
 * --base DIR   also runs another build of Bowline (DIR/bin/bowline with its DIR/dist, e.g. a copy
 *              of dist/ before a change) in the same rounds: before/after in one run.
 * --node-args="A B"  node options for this build's proxy (e.g. --perf-basic-prof, then `perf record -p PID`:
 *              the pid is printed first).
 * --prof DIR   runs this build's proxy under `node --cpu-prof --cpu-prof-dir DIR` (written when
 *              the proxy exits at the end; the profile includes every round's load).
 * Prints one line per round and a JSON summary (us/req medians, ratios, read+write system calls
 * per request from /proc/PID/io (node's read/write; haproxy's recv/send are not counted there),
 * requests per wake-up of the main thread (voluntary context switches: how much work each
 * event-loop turn found, comparable between the two), load average).
 */
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { holdSocket, listenerPort, spawnWithSocket } from './ports.js';
import { cpuUs, ioCalls, wakeups } from './cpu.js';
import { h2load, haproxyConfig, nginxH2Config, proxyConfig, waitPort, which } from './proxy-protocols.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' }, n: { type: 'string', short: 'n', default: '20000' },
    base: { type: 'string' }, prof: { type: 'string' }, telemetry: { type: 'string', default: 'on' }, 'node-args': { type: 'string', default: '' },
  },
});
const rounds = Number(a.rounds);
const n = Number(a.n);
const dir = mkdtempSync(join(tmpdir(), 'bowline-h2-profile-'));
const kids: ChildProcess[] = [];
process.once('exit', () => { for (const c of kids) if (c.exitCode === null) c.kill('SIGKILL'); });

const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

async function bowline(name: string, home: string, up: number, nodeArgs: string[]): Promise<{ port: number; pid: number; child: ChildProcess }> {
  const f = join(dir, `${name}.json`);
  const pf = join(dir, `${name}.ports.json`);
  writeFileSync(f, JSON.stringify(proxyConfig(0, up, 'h2')));
  const c = spawn(process.execPath, [...PROXY_NODE_FLAGS, ...nodeArgs, join(home, 'bin/bowline'), 'proxy', '--config', f, '--admin-port', '0', '--metrics-port', '0', '--ports-file', pf, '--telemetry', a.telemetry!], { stdio: ['ignore', 'ignore', 'inherit'] });
  kids.push(c);
  return { port: await listenerPort(pf, 'l', c), pid: c.pid!, child: c };
}

async function main(): Promise<void> {
  if (!which('h2load') || !which('nginx') || !which('haproxy')) throw new Error('needs h2load, nginx and haproxy');
  const held = await holdSocket();
  const up = held.port;
  const conf = join(dir, 'nginx-h2.conf');
  writeFileSync(conf, nginxH2Config(dir, up));
  kids.push(spawnWithSocket(which('nginx')!, ['-p', dir, '-c', conf], held, { ...process.env, NGINX: '3;' }));
  await waitPort(up);
  const targets: Array<{ name: string; port: number; pid: number; child?: ChildProcess }> = [];
  const nodeArgs = a['node-args']!.split(' ').filter(Boolean);
  const cur = await bowline('bowline', root, up, [...nodeArgs, ...(a.prof ? ['--cpu-prof', '--cpu-prof-dir', a.prof] : [])]);
  process.stdout.write(`bowline pid ${cur.pid}\n`);
  targets.push({ name: 'bowline', ...cur });
  if (a.base) targets.push({ name: 'base', ...(await bowline('base', a.base, up, [])) });
  const hHeld = await holdSocket();
  writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig('h2', up));
  const hap = spawnWithSocket(which('haproxy')!, ['-f', join(dir, 'haproxy.cfg'), '-db'], hHeld);
  kids.push(hap);
  await waitPort(hHeld.port);
  targets.push({ name: 'haproxy', port: hHeld.port, pid: hap.pid! });
  for (const t of targets) h2load(t.port, Math.min(5000, n)); // warm-up
  const results = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const calls = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const waits = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const ratios = new Map<string, number[]>();
  const loads: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate the order each round so neither target always runs first.
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    const line: string[] = [];
    for (const t of order) {
      const c0 = cpuUs(t.pid);
      const s0 = ioCalls(t.pid);
      const w0 = wakeups(t.pid);
      const res = h2load(t.port, n);
      if (!(res.done > 0)) throw new Error(`h2load against ${t.name} completed nothing`);
      const us = (cpuUs(t.pid) - c0) / res.done;
      const sc = (ioCalls(t.pid) - s0) / res.done;
      const rps = res.done / (wakeups(t.pid) - w0);
      waits.get(t.name)!.push(rps);
      results.get(t.name)!.push(us);
      calls.get(t.name)!.push(sc);
      line.push(`${t.name} ${us.toFixed(1)} us/req ${sc.toFixed(2)} rd+wr/req ${rps.toFixed(1)} req/wake (${Math.round(res.rps)} req/s)`);
    }
    const hapUs = results.get('haproxy')!.at(-1)!;
    for (const t of targets) if (t.name !== 'haproxy') { const k = `${t.name}/haproxy`; ratios.set(k, [...(ratios.get(k) ?? []), results.get(t.name)!.at(-1)! / hapUs]); }
    loads.push(loadavg()[0]!);
    process.stdout.write(`round ${r + 1}: ${line.join(', ')}; load ${loadavg()[0]!.toFixed(1)}\n`);
  }
  const summary: Record<string, unknown> = { n, rounds, shape: 'h2load -c 4 -m 10 -t 1', telemetry: a.telemetry, load_avg_median: Number(median(loads).toFixed(1)) };
  for (const [k, v] of results) summary[`${k}_cpu_us_per_req_median`] = Number(median(v).toFixed(1));
  for (const [k, v] of calls) if (v.every(Number.isFinite)) summary[`${k}_read_write_calls_per_req_median`] = Number(median(v).toFixed(3));
  for (const [k, v] of waits) if (v.every(Number.isFinite)) summary[`${k}_requests_per_wakeup_median`] = Number(median(v).toFixed(1));
  for (const [k, v] of ratios) summary[`${k}_ratio_median`] = Number(median(v).toFixed(2));
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  // SIGINT lets node write the --cpu-prof profile (bowline proxy exits on it).
  for (const t of targets) t.child?.kill('SIGINT');
  hap.kill('SIGTERM');
  await Promise.all(targets.map((t) => (t.child && t.child.exitCode === null ? new Promise((r) => { t.child!.once('exit', r); setTimeout(r, 5000); }) : undefined)));
}

main().then(() => { for (const c of kids) if (c.exitCode === null) c.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); },
  (err) => { process.stderr.write(`h2-profile: ${String(err)}\n`); process.exitCode = 1; rmSync(dir, { recursive: true, force: true }); });
