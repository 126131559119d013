/**
 * `node --import tsx bench/tcp-ab.ts [--rounds N] [--mb M] [--variant NAME=DIR ...]`: TCP tunnel
 * throughput side by side (issue 18), the shape of `npm run bench -- proxy`'s tcp_hop_gbps: this
 * process writes M MiB (256 KiB writes) through a proxy to a sink in this process that discards.
 * Targets: one `bowline proxy` per variant (a directory holding bin/ and dist/, e.g. a copy of
 * an older build; default: this checkout), all with the bench's TCP config (bench/proxy-protocols.ts)
 * and PROXY_NODE_FLAGS, and haproxy (mode tcp, one thread). Each round moves M MiB through every
 * target in turn (the order rotates by round); it prints Gbit/s and the proxy's CPU per MiB
 * (its threads' run time), then the medians and each variant's median per-round ratio to haproxy
 * and to the first variant. The machine is shared: ratios within a round are what compare.
 */
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuUs } from './cpu.js';
import { haproxyConfig, proxyConfig, pushBytes, waitPort, which } from './proxy-protocols.js';
import { holdSocket, listenerPort, spawnWithSocket } from './ports.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '5' }, mb: { type: 'string', default: '256' }, variant: { type: 'string', multiple: true },
} });
const rounds = Number(values.rounds);
const mb = Number(values.mb);
const variants = (values.variant ?? [`this=${root}`]).map((v) => {
  const i = v.indexOf('=');
  return { name: v.slice(0, i), dir: v.slice(i + 1) || root };
});

const median = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN; };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tcp-ab-'));
  const kids: ChildProcess[] = [];
  const sink = { received: 0 };
  const server = createServer((s) => { s.on('data', (d: Buffer) => { sink.received += d.length; }); s.on('error', () => {}); });
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sinkPort = (server.address() as { port: number }).port;
    const targets: Array<{ name: string; port: number; pid: number }> = [];
    if (which('haproxy')) {
      const held = await holdSocket();
      writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig('tcp', sinkPort));
      const c = spawnWithSocket(which('haproxy')!, ['-f', join(dir, 'haproxy.cfg'), '-db'], held);
      kids.push(c);
      await waitPort(held.port);
      targets.push({ name: 'haproxy', port: held.port, pid: c.pid! });
    }
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify(proxyConfig(0, sinkPort, 'tcp')));
    for (const v of variants) {
      const pf = join(dir, `${v.name}.ports.json`);
      const c = spawn(process.execPath, [...PROXY_NODE_FLAGS, join(v.dir, 'bin/bowline'), 'proxy', '--config', join(dir, 'cfg.json'), '--admin-port', '0', '--metrics-port', '0', '--ports-file', pf], { cwd: dir, stdio: 'ignore' });
      kids.push(c);
      targets.push({ name: v.name, port: await listenerPort(pf, 'l', c), pid: c.pid! });
    }
    process.stderr.write(`targets: ${targets.map((t) => `${t.name}:${t.port} pid ${t.pid}`).join(', ')}; load ${loadavg()[0]!.toFixed(2)}\n`);
    for (const t of targets) await pushBytes(t.port, 32, sink); // warm-up
    const gbps = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    const cpu = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      const line: string[] = [];
      for (const t of order) {
        const c0 = cpuUs(t.pid);
        const g = await pushBytes(t.port, mb, sink);
        const us = (cpuUs(t.pid) - c0) / mb;
        gbps.get(t.name)!.push(g);
        cpu.get(t.name)!.push(us);
        line.push(`${t.name} ${g.toFixed(2)} Gbit/s ${us.toFixed(0)} us/MiB`);
      }
      process.stdout.write(`round ${r + 1} (load ${loadavg()[0]!.toFixed(2)}): ${line.join(' | ')}\n`);
    }
    const ratio = (m: Map<string, number[]>, a: string, b: string): number => median(m.get(a)!.map((x, i) => x / m.get(b)![i]!));
    process.stdout.write(`medians (load ${loadavg().map((l) => l.toFixed(2)).join(' ')}):\n`);
    for (const t of targets) {
      const rel = [t.name !== 'haproxy' && gbps.has('haproxy') ? `vs haproxy ${ratio(gbps, t.name, 'haproxy').toFixed(3)}x Gbit/s ${ratio(cpu, t.name, 'haproxy').toFixed(3)}x CPU` : '',
        t.name !== variants[0]!.name && t.name !== 'haproxy' ? `vs ${variants[0]!.name} ${ratio(gbps, t.name, variants[0]!.name).toFixed(3)}x Gbit/s ${ratio(cpu, t.name, variants[0]!.name).toFixed(3)}x CPU` : ''].filter(Boolean).join(', ');
      process.stdout.write(`  ${t.name}: ${median(gbps.get(t.name)!).toFixed(2)} Gbit/s, ${median(cpu.get(t.name)!).toFixed(0)} us/MiB${rel ? '; ' + rel : ''}\n`);
    }
  } finally {
    server.close();
    for (const c of kids) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    for (const c of kids) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => { process.stderr.write(`tcp-ab: ${String(err)}\n`); process.exit(1); });
