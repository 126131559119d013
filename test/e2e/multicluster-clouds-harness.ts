// "Clouds" for the multi-cluster e2e (root, Linux, iptables): each cloud is a network namespace
// (mc-X-TAG) on its own subnet 10.161.N.0/24, wired by a veth pair to a router namespace
// (mc-wan-TAG) that forwards between the subnets. In each cloud, iptables accepts from other
// clouds only the east-west gateway's ports (15443 for mTLS passthrough, 15012 for the control
// plane it exposes): everything else across clouds is dropped. Each cloud runs its own control
// plane, sidecars, gateway and apps (all started with `ip netns exec`); the test process talks to
// nothing inside a namespace except through `ip netns exec`. Everything is removed in teardown.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, start, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

/** True when this machine can build clouds (root, Linux, ip and iptables). */
export const canBuildClouds = process.platform === 'linux' && process.getuid?.() === 0
  && spawnSync('ip', ['-V']).status === 0 && spawnSync('iptables', ['--version']).status === 0;

const bowline = join(repoRoot, 'bin/bowline');
/** The ports every cloud accepts from the others: its east-west gateway's 15443 and the control plane it exposes on 15012. */
export const GATEWAY_PORTS = [15443, 15012];

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `cmd` in network namespace `ns` (synchronously). */
export function inNs(ns: string, cmd: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): { status: number; out: string; err: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 30_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  return { status: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** One cloud: a namespace, its address, a Bowline home, and what runs in it. */
export class Cloud {
  readonly home = tempDir('bowline-e2e-cloud-');
  readonly children: Child[] = [];
  cp?: Child;
  pushTls = 0;
  constructor(readonly name: string, readonly ns: string, readonly address: string, readonly cluster: string, readonly network: string) {}

  /** The control plane's API (reachable inside the namespace; from other clouds only through the gateway's 15012). */
  get api(): string {
    return `http://${this.address}:15014`;
  }

  /** Starts a process inside the namespace. */
  start(cmd: string[], env: NodeJS.ProcessEnv = {}): Child {
    const c = start('ip', ['netns', 'exec', this.ns, ...cmd], { env });
    this.children.push(c);
    return c;
  }

  /** `bowline ARGS` inside the namespace against this cloud's control plane. */
  cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number; out: string; err: string } {
    return inNs(this.ns, [process.execPath, bowline, ...args], { env: { BOWLINE_HOME: this.home, BOWLINE_SERVER: this.api, ...env } });
  }

  /** `bowline apply -f` of `yaml`. */
  apply(name: string, yaml: string): void {
    const file = join(this.home, `${name}.yaml`);
    writeFileSync(file, yaml);
    const r = this.cli(['apply', '-f', file]);
    if (r.status !== 0) throw new Error(`apply ${name} in ${this.name}: ${r.out}${r.err}`);
  }

  /** `bowline up` with the cloud's cacerts, cluster and network; the API on the cloud's address (tokens needed). */
  async up(cacerts: string, extra: string[] = []): Promise<void> {
    const portsFile = join(this.home, 'cp.ports.json');
    this.cp = this.start([process.execPath, bowline, 'up', '--home', this.home, '--listen-api', `${this.address}:15014`, '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0',
      '--ports-file', portsFile, '--ca-certs-dir', cacerts, '--cluster', this.cluster, '--network', this.network, ...extra], { BOWLINE_HOME: this.home });
    const cp = this.cp;
    await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 30_000, what: () => `bowline up in ${this.name}:\n${cp.output()}` });
    this.pushTls = (JSON.parse(readFileSync(portsFile, 'utf8')) as { pushTls: number }).pushTls;
  }

  /** A bootstrap token file for `ns/sa`. */
  token(ns: string, sa: string): string {
    const t = this.cli(['token', 'create', '--namespace', ns, '--service-account', sa, '--ttl', '10m']);
    const line = t.out.split('\n').find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l.trim()));
    if (!line) throw new Error(`token in ${this.name}: ${t.out}${t.err}`);
    const file = join(this.home, `${ns}-${sa}.token`);
    writeFileSync(file, line.trim() + '\n');
    return file;
  }

  /** A sidecar for `service` (port `port`, app on 127.0.0.1:`appPort`), inbound on the cloud's address; resolves when it has its certificate. */
  async sidecar(name: string, service: string, port: number, appPort: number, opts: { outbound?: number; locality?: string; extra?: string[] } = {}): Promise<Child> {
    const c = this.start([process.execPath, bowline, 'proxy', '--server', `127.0.0.1:${this.pushTls}`, '--token-file', this.token('default', name), '--name', name, '--labels', `app=${name}`,
      '--service', `${service}:${port}@${appPort}`, '--address', this.address, '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--outbound-port', String(opts.outbound ?? 0), ...(opts.locality ? ['--locality', opts.locality] : []), ...(opts.extra ?? [])]);
    await waitFor(() => c.output().includes(`workload certificate for spiffe://cluster.local/ns/default/sa/${name}`), { timeoutMs: 30_000, what: () => `${name} in ${this.name}:\n${c.output()}` });
    return c;
  }

  /** The east-west gateway on the cloud's address: 15443 (AUTO_PASSTHROUGH) and 15012 (the control plane's API, exposed). */
  async eastWestGateway(): Promise<Child> {
    const portsFile = join(this.home, 'eastwest.ports.json');
    const c = this.start([process.execPath, bowline, 'proxy', '--gateway', '--server', `127.0.0.1:${this.pushTls}`, '--token-file', this.token('istio-system', 'istio-eastwestgateway'),
      '--name', 'istio-eastwestgateway', '--namespace', 'istio-system', '--labels', `istio=eastwestgateway,topology.istio.io/network=${this.network}`, '--address', this.address,
      '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', portsFile]);
    await waitFor(() => {
      if (!existsSync(portsFile)) return false;
      const l = (JSON.parse(readFileSync(portsFile, 'utf8')) as { listeners?: Record<string, number> }).listeners ?? {};
      return l['gateway|15443'] === 15443 && Object.keys(l).some((k) => k.endsWith('|15012'));
    }, { timeoutMs: 30_000, what: () => `east-west gateway in ${this.name}:\n${c.output()}` });
    return c;
  }

  /** A postcard app (`greeter` or `messenger`) on 127.0.0.1:`port` with `env`. */
  async app(script: 'greeter' | 'messenger', port: number, env: NodeJS.ProcessEnv): Promise<Child> {
    const c = this.start([process.execPath, join(repoRoot, 'dist/samples/postcard', `${script}.js`), '--port', String(port)], env);
    // 30 s like the other processes here: three clouds start at once on a loaded machine. The failure shows the
    // output at that time (a string would show it as it was when the wait began: empty).
    const up = await waitFor(() => (c.proc.exitCode !== null ? 'exited' : c.output().includes('listening on') && 'up'), { timeoutMs: 30_000, what: () => `${script} in ${this.name}:\n${c.output()}` });
    if (up === 'exited') throw new Error(`${script} in ${this.name} exited ${c.proc.exitCode}:\n${c.output()}`);
    return c;
  }

  /** Stops everything started in this cloud. */
  async down(): Promise<void> {
    for (const c of [...this.children].reverse()) await c.stop();
  }
}

/** The clouds of one test, their router, and their teardown. */
export class Clouds {
  readonly tag = String(process.pid % 100000);
  readonly wan = `mc-wan-${this.tag}`;
  readonly clouds: Cloud[] = [];
  private made: string[] = [];

  /** Creates the router namespace and one cloud per entry (10.161.N.2/24 behind 10.161.N.1). */
  build(specs: Array<{ name: string; cluster: string; network: string }>): Cloud[] {
    sh('ip', ['netns', 'add', this.wan]);
    this.made.push(this.wan);
    inNs(this.wan, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    inNs(this.wan, ['ip', 'link', 'set', 'lo', 'up']);
    specs.forEach((s, i) => {
      const n = i + 1;
      const ns = `mc-${s.name}-${this.tag}`;
      sh('ip', ['netns', 'add', ns]);
      this.made.push(ns);
      const outer = `mcw${n}-${this.tag}`.slice(0, 15);
      sh('ip', ['link', 'add', outer, 'netns', this.wan, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      inNs(this.wan, ['ip', 'addr', 'add', `10.161.${n}.1/24`, 'dev', outer]);
      inNs(this.wan, ['ip', 'link', 'set', outer, 'up']);
      for (const cmd of [['ip', 'link', 'set', 'lo', 'up'], ['ip', 'addr', 'add', `10.161.${n}.2/24`, 'dev', 'eth0'], ['ip', 'link', 'set', 'eth0', 'up'],
        ['ip', 'route', 'add', '10.161.0.0/16', 'via', `10.161.${n}.1`, 'dev', 'eth0']]) {
        const r = inNs(ns, cmd);
        if (r.status !== 0) throw new Error(`${cmd.join(' ')} in ${ns}: ${r.err}`);
      }
      // Only the gateway's ports are open to other clouds; replies to what this cloud opened come back.
      for (const rule of [['-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT'], ['-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
        ...GATEWAY_PORTS.map((p) => ['-A', 'INPUT', '-i', 'eth0', '-p', 'tcp', '--dport', String(p), '-j', 'ACCEPT']), ['-A', 'INPUT', '-j', 'DROP']]) {
        const r = inNs(ns, ['iptables', ...rule]);
        if (r.status !== 0) throw new Error(`iptables ${rule.join(' ')} in ${ns}: ${r.err}`);
      }
      this.clouds.push(new Cloud(s.name, ns, `10.161.${n}.2`, s.cluster, s.network));
    });
    return this.clouds;
  }

  /** Stops every process and deletes the namespaces (their veths and iptables rules go with them). */
  async teardown(): Promise<void> {
    for (const c of this.clouds) await c.down();
    for (const ns of this.made.reverse()) spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** How `from` reaches `address`: the route `ip route get` picks inside its namespace. */
export function routeTo(from: Cloud, address: string): string {
  return inNs(from.ns, ['ip', 'route', 'get', address]).out.trim();
}

/** Whether a TCP connection from `from` to `address:port` opens within 1.5 s. */
export function tcpOpens(from: Cloud, address: string, port: number): boolean {
  const script = `const s=require('net').connect(${port},${JSON.stringify(address)});s.setTimeout(1500);s.on('connect',()=>{console.log('open');process.exit(0)});s.on('timeout',()=>{console.log('blocked');process.exit(0)});s.on('error',e=>{console.log('error '+e.code);process.exit(0)})`;
  return inNs(from.ns, [process.execPath, '-e', script]).out.trim() === 'open';
}

/** GETs `url` inside `cloud` (through `proxyPort` in absolute form when given); resolves to status and body. */
export function fetchIn(cloud: Cloud, url: string, proxyPort?: number): { status: number; body: string } {
  const script = `const u=new URL(${JSON.stringify(url)});const r=require('http').request({host:${proxyPort ? "'127.0.0.1'" : 'u.hostname'},port:${proxyPort ?? 'u.port'},path:${proxyPort ? 'u.href' : 'u.pathname+u.search'},headers:{host:u.host},timeout:8000},(res)=>{let b='';res.on('data',d=>b+=d);res.on('end',()=>{console.log(JSON.stringify({status:res.statusCode,body:b}))})});r.on('timeout',()=>r.destroy(new Error('timeout')));r.on('error',e=>console.log(JSON.stringify({status:0,body:String(e.message)})));r.end()`;
  const r = inNs(cloud.ns, [process.execPath, '-e', script]);
  try { return JSON.parse(r.out) as { status: number; body: string }; } catch { return { status: -1, body: r.out + r.err }; }
}

/**
 * A bounded open-loop load inside `cloud`: `count` GETs of `url` at `rps`, through `proxyPort`
 * (absolute form) or directly; resolves to latency percentiles (ms), failures and the bodies seen.
 */
export async function loadIn(cloud: Cloud, url: string, opts: { rps: number; count: number; proxyPort?: number; tally?: (body: string) => string }): Promise<{ p50: number; p99: number; failures: number; tally: Record<string, number>; sequence: string[] }> {
  const tally = opts.tally ? opts.tally.toString() : '(b)=>b.slice(0,40)';
  const script = `const http=require('http');const u=new URL(${JSON.stringify(url)});const agent=new http.Agent({keepAlive:true,maxSockets:64});
const t=(${tally});const lat=[];const seq=[];let fail=0,done=0;const start=performance.now();
function one(i){const t0=performance.now();const r=http.request({agent,host:${opts.proxyPort ? "'127.0.0.1'" : 'u.hostname'},port:${opts.proxyPort ?? 'u.port'},path:${opts.proxyPort ? 'u.href' : 'u.pathname+u.search'},headers:{host:u.host},timeout:10000},(res)=>{let b='';res.on('data',d=>b+=d);res.on('end',()=>{lat.push(performance.now()-t0);seq[i]=res.statusCode===200?t(b):'HTTP '+res.statusCode;if(res.statusCode!==200)fail++;fin()})});
r.on('timeout',()=>r.destroy(new Error('timeout')));r.on('error',e=>{seq[i]='error '+e.message;fail++;fin()});r.end()}
function fin(){if(++done===${opts.count}){lat.sort((a,b)=>a-b);const q=p=>lat[Math.min(lat.length-1,Math.floor(p*lat.length))]||0;console.log(JSON.stringify({p50:q(0.5),p99:q(0.99),failures:fail,sequence:seq}));process.exit(0)}}
for(let i=0;i<${opts.count};i++){const at=start+i*1000/${opts.rps};setTimeout(()=>one(i),Math.max(0,at-performance.now()))}`;
  const c = cloud.start([process.execPath, '-e', script]);
  const line = await waitFor(() => c.output().split('\n').find((l) => l.startsWith('{')), { timeoutMs: (opts.count / opts.rps) * 1000 + 30_000, what: () => `load in ${cloud.name}: ${c.output()}` });
  const r = JSON.parse(line!) as { p50: number; p99: number; failures: number; sequence: string[] };
  const counts: Record<string, number> = {};
  for (const s of r.sequence) counts[s] = (counts[s] ?? 0) + 1;
  return { ...r, tally: counts };
}

/**
 * Two paths measured in the same run, inside `cloud`: `blocks` blocks of `perBlock` GETs at `rps`
 * through `proxyPort` (absolute form), alternating A B B A A B ... so both paths see the same
 * machine (a loaded machine's slow spell lands on both); one process, keep-alive connections, a
 * warm-up of `warmup` requests per path first. Resolves to each path's percentiles (ms), failures,
 * and the p99 of each block; blocks 2k and 2k+1 (one of each path, adjacent) form a pair.
 */
export async function compareIn(cloud: Cloud, urls: { a: string; b: string }, opts: { rps: number; perBlock: number; blocks: number; warmup: number; proxyPort: number; check: { a: string; b: string } }): Promise<Record<'a' | 'b', Comparison>> {
  const script = `const http=require('http');const agent=new http.Agent({keepAlive:true,maxSockets:64});
const urls=${JSON.stringify(urls)};const check=${JSON.stringify(opts.check)};const res={a:{lat:[],fail:0,wrong:0,why:[],blocks:[]},b:{lat:[],fail:0,wrong:0,why:[],blocks:[]}};
function one(path,rec){return new Promise((done)=>{const u=new URL(urls[path]);const t0=performance.now();const r=http.request({agent,host:'127.0.0.1',port:${opts.proxyPort},path:u.href,headers:{host:u.host},timeout:10000},(rs)=>{let b='';rs.on('data',d=>b+=d);rs.on('end',()=>{const ms=performance.now()-t0;if(rec){rec.push(ms);if(rs.statusCode!==200){res[path].fail++;res[path].why.push('HTTP '+rs.statusCode+' after '+Math.round(ms)+' ms: '+b.slice(0,100))}else if(!b.includes(check[path]))res[path].wrong++}done()})});
r.on('timeout',()=>r.destroy(new Error('timeout')));r.on('error',(e)=>{if(rec){const ms=performance.now()-t0;rec.push(ms);res[path].fail++;res[path].why.push(e.message+' after '+Math.round(ms)+' ms')}done()});r.end()})}
function block(path,n,rec){const start=performance.now();const all=[];for(let i=0;i<n;i++){all.push(new Promise((go)=>setTimeout(go,Math.max(0,start+i*1000/${opts.rps}-performance.now()))).then(()=>one(path,rec)))}return Promise.all(all)}
const q=(l,p)=>{const s=[...l].sort((x,y)=>x-y);return s[Math.min(s.length-1,Math.floor(p*s.length))]||0};
(async()=>{await block('a',${opts.warmup},null);await block('b',${opts.warmup},null);
for(let k=0;k<${opts.blocks};k++){const path=(k%4===0||k%4===3)?'a':'b';const rec=[];await block(path,${opts.perBlock},rec);res[path].lat.push(...rec);res[path].blocks.push(q(rec,0.99))}
const out={};for(const p of ['a','b'])out[p]={p50:q(res[p].lat,0.5),p99:q(res[p].lat,0.99),count:res[p].lat.length,failures:res[p].fail,wrong:res[p].wrong,why:res[p].why.slice(0,5),blockP99:res[p].blocks};
console.log(JSON.stringify(out));process.exit(0)})()`;
  const c = cloud.start([process.execPath, '-e', script]);
  const total = 2 * opts.warmup + opts.blocks * opts.perBlock;
  const line = await waitFor(() => c.output().split('\n').find((l) => l.startsWith('{')), { timeoutMs: (total / opts.rps) * 1000 + 60_000, what: () => `comparison in ${cloud.name}: ${c.output()}` });
  return JSON.parse(line!) as Record<'a' | 'b', Comparison>;
}

/** One path of compareIn: latency percentiles (ms), non-200 or failed requests (and the first reasons), 200s from the wrong place. */
export interface Comparison {
  p50: number;
  p99: number;
  count: number;
  failures: number;
  /** Answered 200 but without the expected text (the wrong cluster). */
  wrong: number;
  why: string[];
  blockP99: number[];
}
