/**
 * `node --import tsx bench/hop-ab.ts --variant base=DIR --variant this=DIR [--rounds 12] [--secs 4] [--rate 1000]
 * [--node-args NAME:ARGS ...] [--env NAME:K=V ...] [--stdout PREFIX]`:
 * the sidecar hop of `npm run bench -- proxy` (two proxies, plaintext: bench/mtls-hop.ts
 * `hopConfigs`) built twice from two builds (a directory holding bin/ and dist/, e.g. a copy of
 * main's build; default for both: this checkout), both hops loaded at `rate` at the same time in
 * every round with the start order alternated (bench/mtls-hop.ts `pairedCpu`), against one nginx.
 * Prints every round and, per hop, the medians of CPU per request (both proxies) and of p50/p99,
 * then the second hop against the first: the median of the per-round p99 differences (ms) and the
 * CPU ratio. What it answers: does a change move the hop's p99 at 1000 rps (issue 18's
 * `hop_added_p99_ms`, which GC pauses drive)? On a shared machine p99 is noisy: read the
 * medians over many rounds and the load average it prints, never one round.
 * Each build's proxies run with that build's PROXY_NODE_FLAGS (its dist/proxy/node-flags.js);
 * `--node-args NAME:ARGS` and `--env NAME:K=V` add node arguments (before the build's flags: node takes
 * the last of a repeated flag, so the build's own win) and environment to one variant's two
 * proxies (e.g. two launch settings of one build: `--variant held=DIR --variant grow=DIR
 * --node-args 'grow:--max-semi-space-size=8'`); `--stdout PREFIX` keeps each proxy's stdout in
 * PREFIX.NAME-outer / PREFIX.NAME-inner (with `--node-args NAME:--trace-gc`: its GC pauses).
 */
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Children } from './children.js';
import { openLoop, quantile } from './loadgen.js';
import { HOP_REQUEST, hopConfigs, pairedCpu, startHop, type PairedHop } from './mtls-hop.js';
import { holdSocket, nginxUpstream } from './ports.js';

const root = fileURLToPath(new URL('../', import.meta.url));

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '12' }, secs: { type: 'string', default: '4' }, rate: { type: 'string', default: '1000' },
  variant: { type: 'string', multiple: true }, 'node-args': { type: 'string', multiple: true }, env: { type: 'string', multiple: true },
  stdout: { type: 'string' },
} });
const rounds = Number(values.rounds), secs = Number(values.secs), rate = Number(values.rate);
const variants = (values.variant ?? [`a=${root}`, `b=${root}`]).map((v) => ({ name: v.slice(0, v.indexOf('=')), dir: v.slice(v.indexOf('=') + 1) || root, args: [] as string[], env: {} as Record<string, string> }));
if (variants.length !== 2) throw new Error('two --variant NAME=DIR');
for (const v of variants) if (!existsSync(join(v.dir, 'dist/cli/main.js'))) throw new Error(`${v.dir}: dist/ is not built`);
const byName = (s: string): { v: (typeof variants)[number]; rest: string } => {
  const i = s.indexOf(':');
  const v = variants.find((x) => x.name === s.slice(0, i));
  if (!v) throw new Error(`no variant ${s.slice(0, i)}`);
  return { v, rest: s.slice(i + 1) };
};
for (const a of values['node-args'] ?? []) { const { v, rest } = byName(a); v.args.push(...rest.split(' ').filter(Boolean)); }
for (const e of values.env ?? []) { const { v, rest } = byName(e); const j = rest.indexOf('='); v.env[rest.slice(0, j)] = rest.slice(j + 1); }

/** The node flags a build launches its proxies with (its own PROXY_NODE_FLAGS; none in builds older than node-flags.ts). */
async function buildFlags(dir: string): Promise<readonly string[]> {
  const f = join(dir, 'dist/proxy/node-flags.js');
  return existsSync(f) ? ((await import(pathToFileURL(f).href)) as { PROXY_NODE_FLAGS: readonly string[] }).PROXY_NODE_FLAGS : [];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bowline-hop-ab-'));
  const children = new Children();
  const log = (s: string): void => { process.stderr.write(`${s}\n`); };
  try {
    const loadStart = loadavg()[0]!;
    const held = await holdSocket();
    children.keep(nginxUpstream(dir, held), 'nginx');
    const hops: PairedHop[] = [];
    for (const v of variants) {
      const hop = await startHop(v.name, await hopConfigs(held.port, false), {
        build: v.dir, dir, children, nodeArgs: [...v.args, ...await buildFlags(v.dir)], env: { ...process.env, ...v.env },
        ...(values.stdout ? { stdout: (proc: string) => openSync(`${values.stdout}.${proc}`, 'w') } : {}),
      });
      hops.push(hop);
      log(`${v.name} (${v.dir}${v.args.length ? ` ${v.args.join(' ')}` : ''}${Object.keys(v.env).length ? ` ${JSON.stringify(v.env)}` : ''}): outer pid ${hop.pids[0]}, inner pid ${hop.pids[1]}, port ${hop.port}`);
    }
    await Promise.all(hops.map((h) => openLoop(h.port, rate, 3000, HOP_REQUEST))); // warm-up: JIT, connections
    const res = await pairedCpu([hops[0]!, hops[1]!], { rounds, secs, rate, request: HOP_REQUEST }, log);
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
