/**
 * The sidecar pair of `npm run bench -- proxy` (`hop` and `mtls-hop`) and the paired measurement
 * of their CPU per request (issue 18's `mtls_vs_hop_cpu_ratio`):
 * - `hopConfigs(upstreamPort, mtls)`: an outbound proxy with the bench's 10-rule route table
 *   (`benchRoutes`) toward an inbound sidecar proxy (the inbound chain of src/push/security, as
 *   the control plane generates it: DISABLE, or STRICT with mTLS), which forwards to the upstream.
 *   With `mtls` the outbound clusters are ISTIO_MUTUAL and both proxies hold workload certificates
 *   from Bowline's CA (inline `default` / `ROOTCA` secrets); nothing else differs.
 * - `pairedCpu(hops, ...)`: both hops loaded at `rate` at the same time in every round (a burst of
 *   other work on the machine weighs on both alike) from one timer whose request slots reach the
 *   two hops in alternating order, CPU per request from the proxies' threads' run time
 *   (/proc/PID/task/TID/schedstat), and the ratio as the geometric mean of the median per-round
 *   ratios of the even and the odd rounds.
 * - `warmPool(port, conns, request)`: `conns` requests at once, answered, on connections closed
 *   only then, so a proxy's upstream pool holds that many connections (TLS handshakes done) before
 *   saturation is measured.
 *
 * Run on its own (`node --import tsx bench/mtls-hop.ts [--rounds 16] [--seconds 3] [--rate 1000]`),
 * it starts nginx and both pairs and prints each round, the medians and the ratio. `AB=NAME`
 * compares two mTLS hops instead, started with NAME=0 (shown as `hop`) and NAME=1 (an environment
 * switch put in the code under test while trying a change). BOWLINE_NODE_ARGS adds node flags to
 * the proxies (`--cpu-prof --cpu-prof-dir DIR`, `--perf-basic-prof`); the pids are printed for
 * `perf record -p`.
 */
import { PROXY_NODE_FLAGS } from '../src/proxy/node-flags.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CertificateAuthority, MemoryCaStorage, parseKek } from '../src/ca/index.js';
import { createKeyAndCsr } from '../src/proxy/identity/csr.js';
import { inboundChains } from '../src/push/security/mtls.js';
import { Children } from './children.js';
import { cpuUs, ioCalls, wakeups } from './cpu.js';
import { openLoop, openLoops, quantile } from './loadgen.js';
import { holdSocket, listenerPort, nginxUpstream } from './ports.js';

const node = (name: string) => ({ id: name, role: 'sidecar', workload: name, namespace: 'default', serviceAccount: name, labels: { app: name } });
const mesh = { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY' };

/** The bench's 10-rule route table: nine rules that do not match the benchmark traffic, the hot one (to `hot`) last with a header match. */
export function benchRoutes(hot: string, miss: string): unknown[] {
  const rule = (i: number): unknown => ({ name: `r${i}`, match: [{ uri: { prefix: `/api/v${i}/` }, headers: { 'end-user': { exact: `user${i}` } } }], route: { destinations: [{ cluster: miss, weight: 100 }] } });
  return [...Array.from({ length: 9 }, (_, i) => rule(i)), { name: 'hot', match: [{ uri: { prefix: '/' }, headers: { 'x-bench': { exact: 'hot' } } }], route: { destinations: [{ cluster: hot, weight: 100 }] } }];
}

/** The virtual host of the bench's outbound listeners: the request's Host is reviews.default.svc.cluster.local. */
export function benchVirtualHost(hot: string, miss: string): unknown {
  return { name: 'reviews', domains: ['reviews', 'reviews.default.svc.cluster.local'], routes: benchRoutes(hot, miss) };
}

async function secrets(ca: CertificateAuthority, sa: string): Promise<unknown[]> {
  const { keyPem, csrPem } = await createKeyAndCsr(`spiffe://cluster.local/ns/default/sa/${sa}`);
  const out = ca.signCsr(csrPem, { namespace: 'default', serviceAccount: sa });
  return [
    { name: 'default', kind: 'tls-certificate', certificateChain: out.chainPem, privateKey: keyPem },
    { name: 'ROOTCA', kind: 'validation', trustedCa: out.trustBundlePem },
  ];
}

/**
 * Proxy configs (JSON-ready) for client -> outer (outbound listener, the bench's route table) ->
 * inner (inbound sidecar listener) -> upstream, plaintext between the proxies or, with `mtls`,
 * ISTIO_MUTUAL to an inbound STRICT chain. Both listeners bind port 0; `outer` needs the port
 * the inner proxy got (from its --ports-file, listener `inbound|9080`; the outer's is `outbound`).
 */
export async function hopConfigs(upstreamPort: number, mtls: boolean): Promise<{ outer: (innerPort: number) => unknown; inner: unknown }> {
  const ca = mtls ? await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 5), 'bench') }) : undefined;
  const [v1, v2] = ['outbound|9080|v1|reviews.default.svc.cluster.local', 'outbound|9080|v2|reviews.default.svc.cluster.local'];
  const tls = { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', subjectAltNames: ['spiffe://cluster.local/ns/default/sa/reviews'] };
  const outerSecrets = ca ? await secrets(ca, 'productpage') : [];
  const outer = (innerPort: number): unknown => {
    const ep = [{ address: '127.0.0.1', port: innerPort, ...(mtls ? { identity: 'spiffe://cluster.local/ns/default/sa/reviews', tlsMode: 'istio' } : {}) }];
    return {
      version: 'bench-hop', node: node('productpage'), mesh,
      listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'reviews' } }] }],
      routes: [{ name: 'reviews', virtualHosts: [benchVirtualHost(v1, v2)] }],
      clusters: [v1, v2].map((name) => ({ name, discovery: 'eds', protocol: 'http1', ...(mtls ? { tls } : {}) })),
      endpoints: [{ cluster: v1, endpoints: ep }, { cluster: v2, endpoints: ep }],
      secrets: outerSecrets,
    };
  };
  const inner = {
    version: 'bench-hop', node: node('reviews'), mesh,
    listeners: [{ name: 'inbound|9080', address: '127.0.0.1', port: 0, logicalPort: 9080, direction: 'inbound', filterChains: inboundChains(mtls ? 'STRICT' : 'DISABLE', { name: 'http', http: { routeConfig: 'in' } }) }],
    routes: [{ name: 'in', virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [{ match: [{ uri: { prefix: '/' } }], route: { destinations: [{ cluster: 'inbound|9080||', weight: 100 }] } }] }] }],
    clusters: [{ name: 'inbound|9080||', discovery: 'eds', protocol: 'http1' }],
    endpoints: [{ cluster: 'inbound|9080||', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] }],
    secrets: ca ? await secrets(ca, 'reviews') : [],
  };
  return { outer, inner };
}

/**
 * Sends `conns` requests at once, each on its own new connection, waits for every answer (at
 * most 10 s), then closes the connections: a proxy's upstream pool is left holding a connection
 * per concurrent request (a later wrk of `conns` connections measures no connects or handshakes).
 */
export async function warmPool(port: number, conns: number, request: string): Promise<void> {
  await Promise.all(Array.from({ length: conns }, () => new Promise<void>((resolve) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => s.write(request));
    let head = '';
    const done = (): void => { clearTimeout(timer); s.destroy(); resolve(); };
    const timer = setTimeout(done, 10_000);
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const he = head.indexOf('\r\n\r\n');
      if (he < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(head.slice(0, he));
      if (head.length >= he + 4 + (m ? Number(m[1]) : 0)) done();
    });
    s.on('error', done);
  })));
}

/** A hop measured by `pairedCpu`: its client-facing port and its two proxies' pids (outer, inner). */
export interface PairedHop { name: string; port: number; pids: number[] }

/** The request the hop drivers send: Host reviews, `x-bench: hot` (the route table's last rule, to `v1`). */
export const HOP_REQUEST = 'GET / HTTP/1.1\r\nHost: reviews.default.svc.cluster.local\r\nx-bench: hot\r\n\r\n';

/** How `startHop` launches a hop's two `bowline proxy` processes. */
export interface HopLaunch {
  /** The build: a directory holding bin/ and dist/. */
  build: string;
  /** The proxies' working directory, where their config and ports files are written. */
  dir: string;
  children: Children;
  /** Node arguments before bin/bowline (default: this checkout's PROXY_NODE_FLAGS). */
  nodeArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** The proxies' stderr: piped (default; `children` keeps its tail) or inherited. */
  stderr?: 'pipe' | 'inherit';
  /** Where a proxy's stdout goes, by its name (`NAME-outer`, `NAME-inner`): a file descriptor (default ignored). */
  stdout?: (proc: string) => number;
}

/**
 * Starts a hop of `hopConfigs` as `NAME-inner` (listener `inbound|9080`), then `NAME-outer` toward
 * it (listener `outbound`, the hop's client-facing port), each with `--ports-file` and ephemeral
 * admin and metrics ports.
 */
export async function startHop(name: string, configs: { outer: (innerPort: number) => unknown; inner: unknown }, l: HopLaunch): Promise<PairedHop> {
  const proxy = async (proc: string, cfg: unknown, listener: string): Promise<{ port: number; pid: number }> => {
    const file = join(l.dir, proc);
    writeFileSync(`${file}.json`, JSON.stringify(cfg));
    const argv = [...(l.nodeArgs ?? PROXY_NODE_FLAGS), join(l.build, 'bin/bowline'), 'proxy', '--config', `${file}.json`, '--admin-port', '0', '--metrics-port', '0', '--ports-file', `${file}.ports.json`];
    const c = spawn(process.execPath, argv, { cwd: l.dir, env: l.env ?? process.env, stdio: ['ignore', l.stdout?.(proc) ?? 'ignore', l.stderr ?? 'pipe'] });
    l.children.keep(c, proc);
    return { port: await listenerPort(`${file}.ports.json`, listener, c), pid: c.pid! };
  };
  const inner = await proxy(`${name}-inner`, configs.inner, 'inbound|9080');
  const outer = await proxy(`${name}-outer`, configs.outer(inner.port), 'outbound');
  return { name, port: outer.port, pids: [outer.pid, inner.pid] };
}

/**
 * One hop's numbers in one round: CPU us per request (both proxies, then each), latency quantiles
 * in ms, and per request of both proxies together: read+write system calls (`io`, /proc/PID/io) and
 * main-thread wake-ups (`wakeups`, voluntary context switches: the event loop leaving epoll_wait);
 * NaN where /proc does not tell. An mTLS pair that wrote a request or a response as two TLS writes,
 * or woke up again to complete a write, shows here as more than the plaintext pair's.
 */
export interface PairedRound { cpu: number; outer: number; inner: number; p50: number; p99: number; errors: number; io: number; wakeups: number }

/** What `pairedCpu` measured: every round of each hop (in `hops` order), and the second hop's CPU per request over the first's. */
export interface PairedResult {
  rounds: [PairedRound[], PairedRound[]];
  /** The geometric mean of the median per-round ratio (second / first) of the even and of the odd rounds. */
  ratio(k: 'cpu' | 'outer' | 'inner'): number;
  /** The median of a field over one hop's rounds. */
  median(hop: 0 | 1, k: keyof PairedRound): number;
}

/**
 * Loads both hops at `rate` requests/s for `secs` at the same time in each of `rounds` rounds, from
 * one timer that sends each request slot to both hops, the order alternating slot by slot
 * (loadgen.ts openLoops). Two loops started one after the other instead favoured one hop in every
 * round (an A/A run, the same build as both hops, showed the hop whose load started second ~7 %
 * cheaper per request); that is why the ratio is still the geometric mean of the even and the odd
 * rounds' medians, which now read alike.
 */
export async function pairedCpu(hops: [PairedHop, PairedHop], o: { rounds: number; secs: number; rate: number; request: string }, log: (s: string) => void): Promise<PairedResult> {
  const runs: [PairedRound[], PairedRound[]] = [[], []];
  // Both hops loaded from one timer that alternates which hop each request slot reaches first (loadgen.ts openLoops).
  const measureBoth = async (): Promise<PairedRound[]> => {
    const before = hops.map((h) => ({ c: h.pids.map(cpuUs), i: h.pids.map(ioCalls), w: h.pids.map(wakeups) }));
    const results = await openLoops(hops.map((h) => h.port), o.rate, o.secs * 1000, o.request);
    return hops.map((h, k) => {
      const c0 = before[k]!.c, i0 = before[k]!.i, w0 = before[k]!.w;
      const res = results[k]!;
      const c1 = h.pids.map(cpuUs), i1 = h.pids.map(ioCalls), w1 = h.pids.map(wakeups);
      const n = Math.max(1, res.latencies.length);
      const outer = (c1[0]! - c0[0]!) / n, inner = (c1[1]! - c0[1]!) / n;
      const per = (a: number[], b: number[]): number => (b[0]! - a[0]! + b[1]! - a[1]!) / n;
      return { cpu: outer + inner, outer, inner, p50: quantile(res.latencies, 0.5), p99: quantile(res.latencies, 0.99), errors: res.errors, io: per(i0, i1), wakeups: per(w0, w1) };
    });
  };
  for (let r = 0; r < o.rounds; r++) {
    const got = await measureBoth();
    got.forEach((x, i) => {
      runs[i]!.push(x);
      log(`round ${r + 1}/${o.rounds} ${hops[i]!.name.padEnd(8)} CPU ${x.cpu.toFixed(1).padStart(6)} us/req (outer ${x.outer.toFixed(1)}, inner ${x.inner.toFixed(1)})  p50 ${x.p50.toFixed(3)} ms  p99 ${x.p99.toFixed(3)} ms  errors ${x.errors}  read+write ${x.io.toFixed(2)}, wake-ups ${x.wakeups.toFixed(2)} /req  (load ${loadavg()[0]!.toFixed(1)})`);
    });
  }
  return {
    rounds: runs,
    ratio: (k) => {
      const per = runs[1].map((x, i) => x[k] / runs[0][i]![k]);
      const even = per.filter((_, i) => i % 2 === 0), odd = per.filter((_, i) => i % 2 === 1);
      return odd.length === 0 ? quantile(even, 0.5) : Math.sqrt(quantile(even, 0.5) * quantile(odd, 0.5));
    },
    median: (hop, k) => quantile(runs[hop].map((x) => x[k]), 0.5),
  };
}

// ---------------------------------------------------------------------- the side-by-side driver

const root = fileURLToPath(new URL('../', import.meta.url));

async function driver(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '16' }, seconds: { type: 'string', default: '3' }, rate: { type: 'string', default: '1000' } } });
  const rounds = Number(values.rounds), secs = Number(values.seconds), rate = Number(values.rate);
  if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is not built: npm run build');
  const extra = (process.env.BOWLINE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'bowline-mtls-hop-'));
  const children = new Children();
  const log = (s: string): void => { process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(5)} s] ${s}\n`); };
  try {
    const loadStart = loadavg()[0]!;
    const held = await holdSocket();
    children.keep(nginxUpstream(dir, held), 'nginx');
    const hops: PairedHop[] = [];
    const AB = process.env.AB; // "VAR" : compare mtls hops with VAR=0 (as 'hop') and VAR=1
    for (const mtls of [false, true]) {
      const name = mtls ? 'mtls-hop' : 'hop';
      const env = AB ? { ...process.env, [AB]: mtls ? '1' : '0' } : process.env;
      const hop = await startHop(name, await hopConfigs(held.port, AB ? true : mtls), { build: root, dir, children, nodeArgs: [...PROXY_NODE_FLAGS, ...extra], env, stderr: 'inherit' });
      hops.push(hop);
      log(`${name}: outer pid ${hop.pids[0]}, inner pid ${hop.pids[1]}, port ${hop.port}`);
    }
    await Promise.all(hops.map((h) => openLoop(h.port, rate, 3000, HOP_REQUEST))); // warm-up: JIT, connections
    const [plain, mtls] = hops as [PairedHop, PairedHop];
    const res = await pairedCpu([plain, mtls], { rounds, secs, rate, request: HOP_REQUEST }, log);
    for (const h of [0, 1] as const) process.stdout.write(`${hops[h]!.name.padEnd(8)} CPU ${res.median(h, 'cpu').toFixed(1)} us/req (outer ${res.median(h, 'outer').toFixed(1)}, inner ${res.median(h, 'inner').toFixed(1)})  p50 ${res.median(h, 'p50').toFixed(3)} ms  p99 ${res.median(h, 'p99').toFixed(3)} ms  read+write ${res.median(h, 'io').toFixed(2)}, wake-ups ${res.median(h, 'wakeups').toFixed(2)} per request\n`);
    process.stdout.write(`mtls_vs_hop_cpu_ratio ${res.ratio('cpu').toFixed(3)} (outer proxy ${res.ratio('outer').toFixed(3)}, inner ${res.ratio('inner').toFixed(3)}; ratio of the medians ${(res.median(1, 'cpu') / res.median(0, 'cpu')).toFixed(3)}; ${rounds} rounds of ${secs} s at ${rate} rps; load average ${loadStart.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)})\n`);
  } finally {
    await children.stop(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  driver().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
}
