/**
 * `node --import tsx bench/hop-ab.ts --variant base=DIR --variant this=DIR [--rounds 12] [--secs 4] [--rate 1000]`:
 * the sidecar hop of `npm run bench -- proxy` (two proxies, plaintext: bench/mtls-hop.ts
 * `hopConfigs`) built twice from two builds (a directory holding bin/ and dist/, e.g. a copy of
 * main's build; default for both: this checkout), both hops loaded at `rate` at the same time in
 * every round with the start order alternated (bench/mtls-hop.ts `pairedCpu`), against one nginx.
 * Prints every round and, per hop, the medians of CPU per request (both proxies) and of p50/p99,
 * then the second hop against the first: the median of the per-round p99 differences (ms) and the
 * CPU ratio. What it answers: does a change move the hop's p99 at 1000 rps (issue 18's
 * `hop_added_p99_ms`, which GC pauses drive)? On a shared machine p99 is noisy: read the
 * medians over many rounds and the load average it prints, never one round.
 */
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Children } from './children.js';
import { openLoop, quantile } from './loadgen.js';
import { hopConfigs, pairedCpu, type PairedHop } from './mtls-hop.js';
import { holdSocket, listenerPort, nginxUpstream } from './ports.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const REQUEST = 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '12' }, secs: { type: 'string', default: '4' }, rate: { type: 'string', default: '1000' },
  variant: { type: 'string', multiple: true },
} });
const rounds = Number(values.rounds), secs = Number(values.secs), rate = Number(values.rate);
const variants = (values.variant ?? [`a=${root}`, `b=${root}`]).map((v) => ({ name: v.slice(0, v.indexOf('=')), dir: v.slice(v.indexOf('=') + 1) || root }));
if (variants.length !== 2) throw new Error('two --variant NAME=DIR');
for (const v of variants) if (!existsSync(join(v.dir, 'dist/cli/main.js'))) throw new Error(`${v.dir}: dist/ is not built`);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bowline-hop-ab-'));
  const children = new Children();
  const log = (s: string): void => { process.stderr.write(`${s}\n`); };
  const proxy = async (name: string, build: string, cfg: unknown, listener: string): Promise<{ port: number; pid: number }> => {
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(cfg));
    const c = spawn(process.execPath, [...PROXY_NODE_FLAGS, join(build, 'bin/bowline'), 'proxy', '--config', join(dir, `${name}.json`), '--admin-port', '0', '--metrics-port', '0', '--ports-file', join(dir, `${name}.ports.json`)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    children.keep(c, name);
    return { port: await listenerPort(join(dir, `${name}.ports.json`), listener, c), pid: c.pid! };
  };
  try {
    const loadStart = loadavg()[0]!;
    const held = await holdSocket();
    children.keep(nginxUpstream(dir, held), 'nginx');
    const hops: PairedHop[] = [];
    for (const v of variants) {
      const { outer, inner } = await hopConfigs(held.port, false);
      const i = await proxy(`${v.name}-inner`, v.dir, inner, 'inbound|9080');
      const o = await proxy(`${v.name}-outer`, v.dir, outer(i.port), 'outbound');
      hops.push({ name: v.name, port: o.port, pids: [o.pid, i.pid] });
      log(`${v.name} (${v.dir}): outer pid ${o.pid}, inner pid ${i.pid}, port ${o.port}`);
    }
    await Promise.all(hops.map((h) => openLoop(h.port, rate, 3000, REQUEST))); // warm-up: JIT, connections
    const res = await pairedCpu([hops[0]!, hops[1]!], { rounds, secs, rate, request: REQUEST }, log);
    for (const h of [0, 1] as const) {
      process.stdout.write(`${hops[h]!.name.padEnd(8)} CPU ${res.median(h, 'cpu').toFixed(1)} us/req  p50 ${res.median(h, 'p50').toFixed(3)} ms  p99 ${res.median(h, 'p99').toFixed(3)} ms  errors ${res.rounds[h].reduce((a, x) => a + x.errors, 0)}\n`);
    }
    const dp99 = res.rounds[1].map((x, i) => x.p99 - res.rounds[0][i]!.p99);
    const below = dp99.filter((d) => d < 0).length;
    process.stdout.write(`${hops[1]!.name} - ${hops[0]!.name}: median per-round p99 difference ${quantile(dp99, 0.5).toFixed(3)} ms (${below} of ${rounds} rounds lower), CPU ratio ${res.ratio('cpu').toFixed(3)}; ${rounds} rounds of ${secs} s at ${rate} rps each hop; load average ${loadStart.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}\n`);
  } finally {
    await children.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
