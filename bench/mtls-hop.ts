/**
 * The two-proxy hop with mTLS between the proxies, for `npm run bench -- proxy` (mtls_hop_p99_ms):
 * configs for an outer proxy (HTTP listener, cluster ISTIO_MUTUAL) and an inner proxy (inbound
 * STRICT chain from src/push/security, as the control plane generates it), with workload
 * certificates from Bowline's CA written inline as the `default` / `ROOTCA` secrets.
 *
 * Run on its own (`node --import tsx bench/mtls-hop.ts [--rounds 16] [--seconds 3] [--rate 1000]`),
 * it compares that hop with the same two proxies in plaintext (same routes, the inbound chain
 * without TLS): in each round both hops get `rate` requests/s at the same time, so other work on
 * the machine weighs on both alike, and it prints each hop's CPU per request (each proxy's
 * threads' run time from /proc/PID/task/TID/schedstat over the requests answered) and latency,
 * the medians, and the ratio (issue 18's `mtls_vs_hop_cpu_ratio`) with the median of the rounds'
 * own ratios, the steadier number on a busy machine. `AB=NAME` compares two mTLS hops instead,
 * started with NAME=0 (shown as `hop`) and NAME=1 (an environment switch put in the code under
 * test while trying a change). BOWLINE_NODE_ARGS adds node flags to the proxies (`--cpu-prof
 * --cpu-prof-dir DIR`, `--perf-basic-prof`); the pids are printed for `perf record -p`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CertificateAuthority, MemoryCaStorage, parseKek } from '../src/ca/index.js';
import { createKeyAndCsr } from '../src/proxy/identity/csr.js';
import { inboundChains } from '../src/push/security/mtls.js';
import { openLoop, quantile } from './loadgen.js';
import { holdSocket, listenerPort, spawnWithSocket } from './ports.js';

const node = (name: string) => ({ id: name, role: 'sidecar', workload: name, namespace: 'default', serviceAccount: name, labels: { app: name } });
const mesh = { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY' };

async function secrets(ca: CertificateAuthority, sa: string): Promise<unknown[]> {
  const { keyPem, csrPem } = await createKeyAndCsr(`spiffe://cluster.local/ns/default/sa/${sa}`);
  const out = ca.signCsr(csrPem, { namespace: 'default', serviceAccount: sa });
  return [
    { name: 'default', kind: 'tls-certificate', certificateChain: out.chainPem, privateKey: keyPem },
    { name: 'ROOTCA', kind: 'validation', trustedCa: out.trustBundlePem },
  ];
}

/**
 * Proxy configs (JSON-ready) for client -> outer (plaintext) -> mTLS -> inner -> upstream. Both
 * listeners bind port 0; `outer` needs the port the inner proxy got (from its --ports-file).
 * With `mtls` false: the same proxies and routes, plaintext between them.
 */
export async function mtlsHopConfigs(upstreamPort: number, mtls = true): Promise<{ outer: (innerPort: number) => unknown; inner: unknown }> {
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 5), 'bench') });
  const cluster = 'outbound|9080||reviews.default.svc.cluster.local';
  const outerSecrets = mtls ? await secrets(ca, 'productpage') : [];
  const tls = { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', subjectAltNames: ['spiffe://cluster.local/ns/default/sa/reviews'] };
  const outer = (innerPort: number): unknown => ({
    version: 'bench-mtls', node: node('productpage'), mesh,
    listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'out' } }] }],
    routes: [{ name: 'out', virtualHosts: [{ name: 'reviews', domains: ['*'], routes: [{ match: [{ uri: { prefix: '/' } }], route: { destinations: [{ cluster, weight: 100 }] } }] }] }],
    clusters: [{ name: cluster, discovery: 'eds', protocol: 'http1', ...(mtls ? { tls } : {}) }],
    endpoints: [{ cluster, endpoints: [{ address: '127.0.0.1', port: innerPort, ...(mtls ? { identity: 'spiffe://cluster.local/ns/default/sa/reviews', tlsMode: 'istio' } : {}) }] }],
    secrets: outerSecrets,
  });
  const inner = {
    version: 'bench-mtls', node: node('reviews'), mesh,
    listeners: [{ name: 'inbound|9080', address: '127.0.0.1', port: 0, logicalPort: 9080, direction: 'inbound', filterChains: inboundChains(mtls ? 'STRICT' : 'DISABLE', { name: 'http', http: { routeConfig: 'in' } }) }],
    routes: [{ name: 'in', virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [{ match: [{ uri: { prefix: '/' } }], route: { destinations: [{ cluster: 'inbound|9080||', weight: 100 }] } }] }] }],
    clusters: [{ name: 'inbound|9080||', discovery: 'eds', protocol: 'http1' }],
    endpoints: [{ cluster: 'inbound|9080||', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] }],
    secrets: mtls ? await secrets(ca, 'reviews') : [],
  };
  return { outer, inner };
}

// ---------------------------------------------------------------------- the side-by-side driver

const root = fileURLToPath(new URL('../', import.meta.url));
const REQUEST = 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n';

/** CPU time of a process in microseconds: the sum of its threads' run time (/proc/PID/task/TID/schedstat, in ns). */
function cpuUs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
  }
  return ns / 1000;
}

interface Hop { name: string; port: number; pids: number[] }
interface Round { cpu: number; outer: number; inner: number; p50: number; p99: number; errors: number }

async function driver(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '16' }, seconds: { type: 'string', default: '3' }, rate: { type: 'string', default: '1000' } } });
  const rounds = Number(values.rounds), secs = Number(values.seconds), rate = Number(values.rate);
  if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is not built: npm run build');
  const extra = (process.env.BOWLINE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'bowline-mtls-hop-'));
  const children: ChildProcess[] = [];
  const log = (s: string): void => { process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(5)} s] ${s}\n`); };
  const proxy = async (name: string, cfg: unknown, listener: string, env: NodeJS.ProcessEnv = process.env): Promise<{ port: number; pid: number }> => {
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(cfg));
    const c = spawn(process.execPath, [...extra, join(root, 'bin/bowline'), 'proxy', '--config', join(dir, `${name}.json`), '--admin-port', '0', '--metrics-port', '0', '--ports-file', join(dir, `${name}.ports.json`)], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(c);
    return { port: await listenerPort(join(dir, `${name}.ports.json`), listener, c), pid: c.pid! };
  };
  try {
    const loadStart = loadavg()[0]!;
    const held = await holdSocket();
    writeFileSync(join(dir, 'nginx.conf'), `master_process on; daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${held.port}; keepalive_requests 1000000; location / { return 200 "ok"; } } }\n`);
    children.push(spawnWithSocket('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], held, { ...process.env, NGINX: '3;' }));
    const hops: Hop[] = [];
    const AB = process.env.AB; // "VAR" : compare mtls hops with VAR=0 (as 'hop') and VAR=1
    for (const mtls of [false, true]) {
      const name = mtls ? 'mtls-hop' : 'hop';
      const { outer, inner } = await mtlsHopConfigs(held.port, AB ? true : mtls);
      const env = AB ? { ...process.env, [AB]: mtls ? '1' : '0' } : process.env;
      const i = await proxy(`${name}-inner`, inner, 'inbound|9080', env);
      const o = await proxy(`${name}-outer`, outer(i.port), 'outbound', env);
      hops.push({ name, port: o.port, pids: [o.pid, i.pid] });
      log(`${name}: outer pid ${o.pid}, inner pid ${i.pid}, port ${o.port}`);
    }
    await Promise.all(hops.map((h) => openLoop(h.port, rate, 3000, REQUEST))); // warm-up: JIT, connections
    const runs = new Map<Hop, Round[]>(hops.map((h) => [h, []]));
    // Both hops are loaded at the same time, so whatever else runs on the machine meanwhile weighs on both alike.
    const measure = async (h: Hop): Promise<Round> => {
      const c0 = h.pids.map(cpuUs);
      const res = await openLoop(h.port, rate, secs * 1000, REQUEST);
      const c1 = h.pids.map(cpuUs);
      const n = Math.max(1, res.latencies.length);
      const outer = (c1[0]! - c0[0]!) / n, inner = (c1[1]! - c0[1]!) / n;
      return { cpu: outer + inner, outer, inner, p50: quantile(res.latencies, 0.5), p99: quantile(res.latencies, 0.99), errors: res.errors };
    };
    for (let r = 0; r < rounds; r++) {
      // Whichever load starts first runs a few % cheaper per request (an A/A run, the same build twice: 0.93): alternate.
      const order = r % 2 === 0 ? hops : [...hops].reverse();
      const started = order.map(measure);
      const got = await Promise.all(hops.map((h) => started[order.indexOf(h)]!));
      hops.forEach((h, i) => {
        const x = got[i]!;
        runs.get(h)!.push(x);
        log(`round ${r + 1}/${rounds} ${h.name.padEnd(8)} CPU ${x.cpu.toFixed(1).padStart(6)} us/req (outer ${x.outer.toFixed(1)}, inner ${x.inner.toFixed(1)})  p50 ${x.p50.toFixed(3)} ms  p99 ${x.p99.toFixed(3)} ms  errors ${x.errors}  (load ${loadavg()[0]!.toFixed(1)})`);
      });
    }
    const med = (h: Hop, k: keyof Round): number => quantile(runs.get(h)!.map((x) => x[k]), 0.5);
    const [plain, mtls] = hops as [Hop, Hop];
    /** The second hop's over the first's: the geometric mean of the median per-round ratio of the rounds each started first. */
    const ratio = (k: 'cpu' | 'outer' | 'inner'): number => {
      const per = runs.get(mtls)!.map((x, i) => x[k] / runs.get(plain)![i]![k]);
      const even = per.filter((_, i) => i % 2 === 0), odd = per.filter((_, i) => i % 2 === 1);
      return odd.length === 0 ? quantile(even, 0.5) : Math.sqrt(quantile(even, 0.5) * quantile(odd, 0.5));
    };
    for (const h of hops) process.stdout.write(`${h.name.padEnd(8)} CPU ${med(h, 'cpu').toFixed(1)} us/req (outer ${med(h, 'outer').toFixed(1)}, inner ${med(h, 'inner').toFixed(1)})  p50 ${med(h, 'p50').toFixed(3)} ms  p99 ${med(h, 'p99').toFixed(3)} ms\n`);
    process.stdout.write(`mtls_vs_hop_cpu_ratio ${ratio('cpu').toFixed(3)} (outer proxy ${ratio('outer').toFixed(3)}, inner ${ratio('inner').toFixed(3)}; ratio of the medians ${(med(mtls, 'cpu') / med(plain, 'cpu')).toFixed(3)}; ${rounds} rounds of ${secs} s at ${rate} rps; load average ${loadStart.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)})\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  driver().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
}
