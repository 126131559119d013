/**
 * The captured path against the explicit one, side by side (run by `npm run bench -- proxy` as
 * root on Linux with iptables and the SO_ORIGINAL_DST addon; otherwise skipped with a reason).
 * In a network namespace the bench creates (`cap-bench-PID`, loopback plus a veth pair it made,
 * both ends inside; nothing routes out), one proxy runs as an unprivileged user with the capture listener
 * (0.0.0.0:15001, original destination) and `bowline capture install`'s rules; a second, same
 * config, is an explicit listener on 127.0.0.1. The same client inside the namespace sends the
 * same requests (keep-alive, bounded count and time) to 127.0.0.1:EXPLICIT and to a captured
 * address (10.78.0.10:9080, redirected to 15001). CPU us per request is read from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuUs } from './cpu.js';

const root = fileURLToPath(new URL('../', import.meta.url));

/** Why the capture bench cannot run here, or undefined. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('iptables', ['--version']).status !== 0) return 'iptables missing';
  if (!existsSync(join(root, 'native/original-dst/build/Release/original_dst.node'))) return 'SO_ORIGINAL_DST addon not built';
  // The proxy runs as uid 65534 (capture exempts its uid): it must be able to read the checkout.
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(join(root, 'bin/bowline'))}, require('fs').constants.R_OK)`]);
  if (probe.status !== 0) return `uid 65534 (the captured proxy's) cannot read ${root}: a parent directory is not world-executable`;
  return undefined;
}


function config(explicitPort: number, upstreamPort: number): unknown {
  const http = { routeConfig: 'r' };
  return {
    version: 'bench', node: { id: 'bench', role: 'sidecar', workload: 'bench', namespace: 'default', serviceAccount: 'bench', labels: { app: 'bench' } },
    mesh: { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: false, outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [
      { name: 'virtualOutbound', address: '0.0.0.0', port: 15001, direction: 'outbound', useOriginalDst: true, filterChains: [{ name: 'http', match: { protocol: 'http1' }, http }] },
      { name: 'outbound', address: '127.0.0.1', port: explicitPort, direction: 'outbound', filterChains: [{ name: 'http', match: { protocol: 'http1' }, http }] },
    ],
    routes: [{ name: 'r', virtualHosts: [{ name: 'reviews', domains: ['reviews', 'reviews:9080'], routes: [{ name: 'hot', route: { destinations: [{ cluster: 'reviews', weight: 100 }] } }] }] }],
    clusters: [{ name: 'reviews', discovery: 'eds', protocol: 'http1' }],
    endpoints: [{ cluster: 'reviews', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] }],
    secrets: [],
  };
}

// The client (inside the namespace): `conns` keep-alive connections, requests one at a time on each, until `count` answered or `ms` passed.
const CLIENT = `
const net = require('net');
const [host, port, count, conns, ms] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const req = 'GET / HTTP/1.1\\r\\nHost: reviews:9080\\r\\n\\r\\n';
let done = 0, sent = 0, errors = 0;
const end = Date.now() + ms;
const finish = () => { console.log(JSON.stringify({ done, errors })); process.exit(0); };
let open = conns;
for (let i = 0; i < conns; i++) {
  const s = net.connect(port, host);
  let buf = '';
  const next = () => { if (sent >= count || Date.now() > end) { s.end(); if (--open === 0) finish(); return; } sent++; s.write(req); };
  s.on('connect', next);
  s.on('data', (d) => { buf += d; let k; while ((k = buf.indexOf('\\r\\n\\r\\nok')) >= 0) { buf = buf.slice(k + 6); done++; next(); } });
  s.on('error', () => { errors++; if (--open === 0) finish(); });
}
`;

/** capture_cpu_us_per_req, explicit_cpu_us_per_req and their ratio; {} (with a log line) when it cannot run. */
export async function benchCapture(o: { quick: boolean }, log: (s: string) => void): Promise<Record<string, number | null>> {
  const why = unavailable();
  if (why !== undefined) { log(`bench: capture run skipped (${why})`); return {}; }
  const ns = `cap-bench-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'bowline-bench-capture-'));
  chmodSync(dir, 0o755);
  const children: ChildProcess[] = [];
  const ip = (args: string[]): void => { const r = spawnSync('ip', args, { encoding: 'utf8' }); if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`); };
  const inNs = (cmd: string[], input?: string) => spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', input, timeout: 60_000 });
  try {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'link', 'add', 'cap-bench0', 'type', 'veth', 'peer', 'name', 'cap-bench1']);
    ip(['-n', ns, 'addr', 'add', '10.78.0.1/24', 'dev', 'cap-bench0']);
    ip(['-n', ns, 'link', 'set', 'cap-bench0', 'up']);
    ip(['-n', ns, 'link', 'set', 'cap-bench1', 'up']);
    const route = inNs(['ip', 'route', 'get', '10.78.0.10']).stdout;
    if (!route.includes('dev cap-bench0')) throw new Error(`10.78.0.10 does not route over cap-bench0: ${route}`);
    const up = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', "require('net').createServer((c) => c.on('data', () => c.write('HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok'))).listen(18080, '127.0.0.1')"], { stdio: 'ignore' });
    children.push(up);
    const cfg = join(dir, 'capture.json');
    writeFileSync(cfg, JSON.stringify(config(15002, 18080)));
    chmodSync(cfg, 0o644);
    const inst = inNs([process.execPath, join(root, 'bin/bowline'), 'capture', 'install', '--proxy-uid', '65534', '--proxy-gid', '65534', '--include-inbound-ports', '']);
    if (inst.status !== 0) throw new Error(`capture install: ${inst.stdout}${inst.stderr}`);
    const proxy = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(root, 'bin/bowline'), 'proxy', '--config', cfg, '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off'], { stdio: 'ignore' });
    children.push(proxy);
    const client = (host: string, port: number, count: number) => JSON.parse(inNs([process.execPath, '-e', CLIENT, host, String(port), String(count), '8', String(o.quick ? 10_000 : 30_000)]).stdout || '{"done":0,"errors":1}') as { done: number; errors: number };
    for (let i = 0; i < 100 && client('127.0.0.1', 15002, 1).done === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const count = o.quick ? 3000 : 20000;
    client('10.78.0.10', 9080, 500); // warm-up both paths
    client('127.0.0.1', 15002, 500);
    const reps = o.quick ? 1 : 3;
    const per = { capture: [] as number[], explicit: [] as number[] };
    for (let i = 0; i < reps; i++) {
      for (const [name, host, port] of [['capture', '10.78.0.10', 9080], ['explicit', '127.0.0.1', 15002]] as const) {
        const c0 = cpuUs(proxy.pid!);
        const r = client(host, port, count);
        const c1 = cpuUs(proxy.pid!);
        if (r.errors > 0 || r.done === 0) throw new Error(`${name} run failed: ${JSON.stringify(r)}`);
        per[name].push((c1 - c0) / r.done);
      }
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const round = (v: number): number => Math.round(v * 1000) / 1000;
    const cap = med(per.capture);
    const exp = med(per.explicit);
    log(`bench: capture ${round(cap)} us/req, explicit ${round(exp)} us/req (same proxy process, ${count} requests x ${reps})`);
    return { capture_cpu_us_per_req: round(cap), explicit_cpu_us_per_req: round(exp), capture_vs_explicit_cpu_ratio: exp > 0 ? round(cap / exp) : null };
  } catch (err) {
    log(`bench: capture run failed: ${(err as Error).message}`);
    return {};
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}
