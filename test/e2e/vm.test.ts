// A VM joins the mesh, end to end, in network namespaces this test creates (root, Linux):
// a "cluster" namespace (10.78.0.1 on a bridge it owns) runs the control plane with its CA
// (short workload certificates), and a Bookinfo-like productpage with a sidecar that also serves
// a TCP echo service; a "VM" namespace (10.78.0.2, its veth on that bridge) gets a bundle from
// `bowline vm bundle` and runs `bowline join --no-systemd` (systemd is not PID 1 here: the proxy
// runs in the foreground; the unit `join` would install is checked with `systemd-analyze verify`).
// Apps on the VM use no proxy settings: names resolve through the proxy's DNS, traffic is
// captured. STRICT mTLS everywhere. The VM appears as a WorkloadEntry of its WorkloadGroup; its
// certificate renews several times while a request loop runs; the WorkloadGroup's probe (exec,
// run by the VM's proxy) decides the entry's health, and an unhealthy VM gets no traffic;
// `bowline leave` stops the proxy, which deregisters at once (the grace period here is 60 s), and
// leaves no rule, file or user behind.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, start, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { openTraversal } from '../support/traverse.js';
import { tempDir } from '../support/temp.js';

const canRun = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('iptables', ['--version']).status === 0
  && spawnSync('systemd-analyze', ['--version']).status === 0 && spawnSync('useradd', ['--help']).status === 0
  && existsSync(join(repoRoot, 'native/original-dst/build/Release/original_dst.node'));
const n = process.pid % 10000;
const CL = `vm-cl-${process.pid}`;
const VM = `vm-host-${process.pid}`;
const BR = `vmbr${n}`;
const VETH_CL = `vmc${n}`;
const VETH_VM = `vmh${n}`;
const USER = 'bowline-proxy';
const home = tempDir('bowline-e2e-vm-');
const healthyFile = join(home, 'healthy'); // the probe: exec test -e FILE
const root = join(home, 'root'); // join --root: the host's /etc/bowline lands here
const bundle = join(home, 'bundle');
const bowline = join(repoRoot, 'bin/bowline');
const children: Child[] = [];
/** Restores the modes of the checkout's ancestors opened for the proxy's user (test/support/traverse.ts). */
let closeTraversal = (): void => {};
let api = '';
let pushTls = 0;
let joined: Child | undefined;
let userBefore = false;

function ns(name: string, cmd: string[], opts: { timeout?: number } = {}): { status: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', name, ...cmd], { encoding: 'utf8', timeout: opts.timeout ?? 20_000 });
  return { status: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}
const sh = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const cli = (name: string, args: string[]) => ns(name, [process.execPath, bowline, ...args]);
const curl = (name: string, args: string[]) => ns(name, ['curl', '-sS', '--max-time', '5', ...args]);

/** A server in a namespace (the script prints `port N`). */
async function serve(name: string, script: string): Promise<number> {
  const c = start('ip', ['netns', 'exec', name, process.execPath, '-e', script]);
  children.push(c);
  return Number(await waitFor(() => /^port (\d+)$/m.exec(c.output())?.[1], { timeoutMs: 10_000, what: () => `server: ${c.output()}` }));
}

function apply(name: string, yaml: string): void {
  const file = join(home, `${name}.yaml`);
  writeFileSync(file, yaml);
  const r = cli(CL, ['apply', '-f', file, '--server', api]);
  expect(r.status, r.out).toBe(0);
}

const echoXfcc = (who: string) => `require('http').createServer((req, res) => res.end(JSON.stringify({ who: '${who}', xfcc: req.headers['x-forwarded-client-cert'] ?? null, host: req.headers.host })))`;

describe.skipIf(!canRun)('a VM joins the mesh (bundle, join, DNS, capture, renewal, leave) in network namespaces', () => {
  beforeAll(async () => {
    userBefore = spawnSync('id', ['-u', USER]).status === 0;
    closeTraversal = openTraversal(repoRoot);
    chmodSync(home, 0o755);
    // Namespaces: the cluster owns a bridge (10.78.0.1/24); the VM's veth peer is enslaved to it.
    sh(['netns', 'add', CL]);
    sh(['netns', 'add', VM]);
    sh(['-n', CL, 'link', 'add', BR, 'type', 'bridge']);
    sh(['link', 'add', VETH_CL, 'netns', CL, 'type', 'veth', 'peer', 'name', VETH_VM, 'netns', VM]);
    sh(['-n', CL, 'link', 'set', VETH_CL, 'master', BR]);
    for (const [name, devs] of [[CL, [BR, VETH_CL]], [VM, [VETH_VM]]] as const) {
      sh(['-n', name, 'link', 'set', 'lo', 'up']);
      for (const d of devs) sh(['-n', name, 'link', 'set', d, 'up']);
    }
    sh(['-n', CL, 'addr', 'add', '10.78.0.1/24', 'dev', BR]);
    sh(['-n', VM, 'addr', 'add', '10.78.0.2/24', 'dev', VETH_VM]);
    // Virtual IPs need a route for connect() to start (capture takes the connection first): over our veth.
    sh(['-n', VM, 'route', 'add', '240.240.0.0/16', 'dev', VETH_VM]);
    expect(sh(['-n', VM, 'route', 'get', '10.78.0.1'])).toContain(`dev ${VETH_VM}`);
    expect(sh(['-n', VM, 'route', 'get', '240.240.3.4'])).toContain(`dev ${VETH_VM}`);
    expect(sh(['-n', CL, 'route', 'get', '10.78.0.2'])).toContain(`dev ${BR}`);
    expect(sh(['-n', VM, 'route', 'show', 'default'])).toBe('');
    mkdirSync(`/etc/netns/${VM}`, { recursive: true });
    writeFileSync(`/etc/netns/${VM}/resolv.conf`, 'nameserver 10.78.0.1\n');

    const cp = start('ip', ['netns', 'exec', CL, process.execPath, bowline, 'up', '--home', join(home, 'cp'), '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0',
      '--listen-push-tls', '10.78.0.1:0', '--ports-file', join(home, 'cp.ports.json')], { env: { BOWLINE_CA_WORKLOAD_TTL_MS: '12000', BOWLINE_REGISTRATION_TTL_MS: '60000' } });
    children.push(cp);
    await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 30_000, what: () => `bowline up:\n${cp.output()}` });
    const ports = JSON.parse(readFileSync(join(home, 'cp.ports.json'), 'utf8')) as { api: number; pushTls: number };
    api = `http://127.0.0.1:${ports.api}`;
    pushTls = ports.pushTls;
    apply('mesh', `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vmapp, namespace: default}
spec:
  hosts: [vmapp.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 8080, name: http, protocol: HTTP}, {number: 3306, name: mysql, protocol: TCP}]
  resolution: STATIC
  workloadSelector: {labels: {app: vmapp}}
`);
    // productpage in the cluster: a sidecar with a workload certificate, serving HTTP 9080 and a TCP echo on 9000.
    const app = await serve(CL, `${echoXfcc('productpage')}.listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port); })`);
    const echo = await serve(CL, "require('net').createServer((s) => s.pipe(s)).listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port); })");
    const token = cli(CL, ['token', 'create', '--namespace', 'default', '--service-account', 'productpage', '--server', api]);
    expect(token.status, token.out).toBe(0);
    writeFileSync(join(home, 'pp.token'), token.out.split('\n')[0]!);
    const pp = start('ip', ['netns', 'exec', CL, process.execPath, bowline, 'proxy', '--server', `10.78.0.1:${pushTls}`, '--token-file', join(home, 'pp.token'),
      '--name', 'productpage', '--labels', 'app=productpage,version=v1', '--service', `productpage:9080@${app}`, '--service', `tcpecho:9000/TCP@${echo}`,
      '--address', '10.78.0.1', '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off']);
    children.push(pp);
    await waitFor(() => pp.output().includes('installed, valid until'), { timeoutMs: 30_000, what: () => `productpage proxy:\n${pp.output()}` });
    // The VM's apps: HTTP on 8080 and a TCP echo on 3306 (Istio's seed: ISTIO_INBOUND_PORTS=27017,3306,8080).
    await serve(VM, `${echoXfcc('vm')}.listen(8080, '0.0.0.0', function () { console.log('port ' + this.address().port); })`);
    await serve(VM, "require('net').createServer((s) => s.pipe(s)).listen(3306, '0.0.0.0', function () { console.log('port ' + this.address().port); })");
  }, 120_000);

  afterAll(async () => {
    for (const c of [joined, ...children.reverse()]) await c?.stop();
    if (spawnSync('id', ['-u', USER]).status === 0 && !userBefore) spawnSync('userdel', [USER]);
    spawnSync('ip', ['netns', 'del', VM]);
    spawnSync('ip', ['netns', 'del', CL]);
    rmSync(`/etc/netns/${VM}`, { recursive: true, force: true });
    closeTraversal();
    rmSync(home, { recursive: true, force: true });
  });

  it('bundle: applies the WorkloadGroup and writes bowline.env, root-cert.pem, a token (0600), mesh.yaml and the probe', () => {
    writeFileSync(healthyFile, '');
    writeFileSync(join(home, 'wg.yaml'), `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vmapp, namespace: default}
spec:
  metadata: {labels: {app: vmapp, version: v1}}
  template: {serviceAccount: vmsa, ports: {http: 8080, mysql: 3306}}
  probe: {periodSeconds: 1, failureThreshold: 1, exec: {command: [test, -e, ${healthyFile}]}}
`);
    const r = cli(CL, ['vm', 'bundle', '-o', bundle, '-f', join(home, 'wg.yaml'), '--discovery-address', `10.78.0.1:${pushTls}`, '--token-ttl', '10m', '--server', api]);
    expect(r.status, r.out).toBe(0);
    const env = readFileSync(join(bundle, 'bowline.env'), 'utf8');
    expect(env).toContain('ISTIO_INBOUND_PORTS=8080,3306');
    expect(env).toContain(`BOWLINE_DISCOVERY_ADDRESS=10.78.0.1:${pushTls}`);
    expect(env).toContain('SERVICE_ACCOUNT=vmsa');
    expect(readFileSync(join(bundle, 'root-cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(statSync(join(bundle, 'token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(bundle, 'mesh.yaml'), 'utf8')).toContain('discoveryAddress');
    expect(JSON.parse(readFileSync(join(bundle, 'probe.json'), 'utf8'))).toEqual({ periodSeconds: 1, failureThreshold: 1, exec: { command: ['test', '-e', healthyFile] } });
    expect(cli(CL, ['get', 'workloadgroup', 'vmapp', '--server', api]).out).toContain('vmapp');
  });

  it('join --dry-run prints every file and command, and the unit it would install passes systemd-analyze verify', () => {
    const r = cli(VM, ['join', bundle, '--dry-run', '--root', root]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`# file: ${join(root, '/etc/bowline/token')} (0600, owner ${USER})`);
    expect(r.out).toContain('# run: systemctl enable --now bowline-proxy.service');
    expect(existsSync(join(root, 'etc/bowline'))).toBe(false);
    const unit = /# file: \S+bowline-proxy\.service \(0644\)\n([\s\S]*?)\n# run:/.exec(r.out)?.[1];
    expect(unit).toContain(`ExecStart=${process.execPath} --single-threaded-gc --v8-pool-size=1 --max-semi-space-size=4 --no-sparkplug ${bowline} proxy`);
    expect(unit).toContain('ExecStartPre=+');
    expect(unit).toContain('Restart=always');
    expect(unit).toContain('--probe-file /etc/bowline/probe.json');
    const file = join(home, 'bowline-proxy.service');
    writeFileSync(file, unit + '\n');
    const v = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
  });

  it('join --no-systemd: the VM gets its certificate with the token and appears as a WorkloadEntry of its group', async () => {
    joined = start('ip', ['netns', 'exec', VM, process.execPath, bowline, 'join', bundle, '--no-systemd', '--root', root]);
    await waitFor(() => joined!.output().includes('/sa/vmsa installed'), { timeoutMs: 30_000, what: () => `join:\n${joined!.output()}` });
    expect(statSync(join(root, 'etc/bowline/identity/key.pem')).mode & 0o777).toBe(0o600);
    const we = await waitFor(() => { const g = cli(CL, ['get', 'workloadentry', 'vmapp-10.78.0.2', '-o', 'json', '--server', api]); return g.status === 0 ? JSON.parse(g.out) : undefined; }, { timeoutMs: 15_000, what: 'the WorkloadEntry' });
    expect(we.spec).toMatchObject({ address: '10.78.0.2', serviceAccount: 'vmsa', labels: { app: 'vmapp', 'security.istio.io/tlsMode': 'istio' } });
    expect(we.metadata.annotations['istio.io/autoRegistrationGroup']).toBe('vmapp');
  });

  it('an app on the VM with no proxy settings gets productpage by its name over mTLS (the server sees the VM\'s SPIFFE id)', async () => {
    const r = await waitFor(() => { const x = curl(VM, ['http://productpage.default.svc.cluster.local:9080/productpage']); return x.status === 0 && x.out.startsWith('{') ? x : undefined; }, { timeoutMs: 30_000, what: () => `productpage from the VM\n${joined!.output().slice(-3000)}` });
    const body = JSON.parse(r!.out);
    expect(body.who).toBe('productpage');
    expect(body.xfcc).toContain('URI=spiffe://cluster.local/ns/default/sa/vmsa');
  });

  it('a plain TCP client on the VM reaches a mesh TCP service by its name', () => {
    const r = ns(VM, [process.execPath, '-e', "const s = require('net').connect(9000, 'tcpecho.default.svc.cluster.local', () => s.end('vm-tcp')); s.pipe(process.stdout); s.on('error', (e) => { console.error(e.message); process.exit(1); })"]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toBe('vm-tcp');
  });

  it('productpage reaches the VM\'s HTTP (8080) and TCP (3306) services with STRICT mTLS', async () => {
    const out = JSON.parse((await waitFor(() => { const x = curl(CL, ['-x', 'http://127.0.0.1:15001', 'http://vmapp.default.svc.cluster.local:8080/from-cluster']); return x.status === 0 && x.out.startsWith('{') ? x : undefined; }, { timeoutMs: 20_000, what: 'the VM from productpage' }))!.out);
    expect(out.who).toBe('vm');
    expect(out.xfcc).toContain('URI=spiffe://cluster.local/ns/default/sa/productpage');
    const tcp = ns(CL, [process.execPath, '-e', `const req = require('http').request({ host: '127.0.0.1', port: 15001, method: 'CONNECT', path: 'vmapp.default.svc.cluster.local:3306' });
      req.on('connect', (res, s) => { s.end('to-vm-3306'); s.pipe(process.stdout); }); req.on('error', (e) => { console.error(e.message); process.exit(1); }); req.end();`]);
    expect(tcp.status, tcp.out).toBe(0);
    expect(tcp.out).toBe('to-vm-3306');
    // STRICT: a plaintext client in the cluster is refused by the VM's sidecar.
    expect(curl(CL, ['http://10.78.0.2:8080/plain']).status).not.toBe(0);
  });

  it('the VM\'s certificate renews several times while a request loop runs: zero failures', async () => {
    const installed = () => (joined!.output().match(/\/sa\/vmsa installed/g) ?? []).length;
    const before = installed();
    const stopFile = join(home, 'loop.stop');
    // Bounded: at most 60 s or 2000 requests, sequential, each with a 5 s timeout.
    const loop = start('ip', ['netns', 'exec', VM, process.execPath, '-e', `const http = require('http'); const fs = require('fs'); let ok = 0, fail = 0; const t0 = Date.now();
      (function next() {
        if (fs.existsSync(${JSON.stringify(stopFile)}) || Date.now() - t0 > 60000 || ok + fail >= 2000) { console.log('ok=' + ok + ' fail=' + fail); return; }
        const req = http.get('http://productpage.default.svc.cluster.local:9080/loop', { timeout: 5000 }, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => { if (res.statusCode === 200 && b.includes('sa/vmsa')) ok++; else { fail++; console.error('status ' + res.statusCode + ' ' + b); } setTimeout(next, 20); }); });
        req.on('timeout', () => req.destroy(new Error('timeout'))); req.on('error', (e) => { fail++; console.error(e.message); setTimeout(next, 20); });
      })();`]);
    children.push(loop);
    await waitFor(() => installed() >= before + 3, { timeoutMs: 50_000, what: () => `3 renewals\n${joined!.output().slice(-2000)}` });
    writeFileSync(stopFile, '');
    const counts = await waitFor(() => /ok=(\d+) fail=(\d+)/.exec(loop.output()), { timeoutMs: 15_000, what: () => `the loop's counts: ${loop.output()}` });
    expect(Number(counts![2]), loop.output()).toBe(0);
    expect(Number(counts![1])).toBeGreaterThan(20);
  }, 90_000);

  it('probe: the VM\'s WorkloadEntry is Healthy while the probe passes; failing, it turns unhealthy and gets no traffic; passing again, traffic returns', async () => {
    const healthy = () => {
      const g = cli(CL, ['get', 'workloadentry', 'vmapp-10.78.0.2', '-o', 'json', '--server', api]);
      const c = (JSON.parse(g.out).status?.conditions ?? []).find((x: { type: string }) => x.type === 'Healthy');
      return c as { status: string; message?: string } | undefined;
    };
    expect(cli(CL, ['get', 'workloadentry', 'vmapp-10.78.0.2', '-o', 'json', '--server', api]).out).toContain('"proxy.istio.io/health-checks-enabled": "true"');
    await waitFor(() => healthy()?.status === 'True', { timeoutMs: 15_000, what: 'Healthy=True' });
    const toVm = () => curl(CL, ['-o', '/dev/null', '-w', '%{http_code}', '-x', 'http://127.0.0.1:15001', 'http://vmapp.default.svc.cluster.local:8080/probe-test']).out;
    rmSync(healthyFile);
    const down = await waitFor(() => { const c = healthy(); return c?.status === 'False' ? c : undefined; }, { timeoutMs: 15_000, what: () => `Healthy=False\n${joined!.output().slice(-1500)}` });
    expect(down!.message).toContain(`exec test -e ${healthyFile}: exit 1`);
    await waitFor(() => joined!.output().includes('workload probe: unhealthy'), { timeoutMs: 5_000, what: 'the proxy\'s probe log line' });
    await waitFor(() => toVm() === '503', { timeoutMs: 15_000, what: 'no healthy VM endpoint (503) from productpage' });
    writeFileSync(healthyFile, '');
    await waitFor(() => healthy()?.status === 'True', { timeoutMs: 15_000, what: 'Healthy=True again' });
    await waitFor(() => toVm() === '200', { timeoutMs: 15_000, what: 'the VM serves productpage again' });
  });

  it('leave: the proxy stops and deregisters at once (not after the 60 s grace period); no rule, file or user is left behind', async () => {
    const exited = new Promise((r) => joined!.proc.once('exit', r));
    const r = cli(VM, ['leave', '--root', root]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('stopping the proxy');
    await exited;
    // Deleted by the control plane when the proxy said `leave`: well inside the grace period.
    await waitFor(() => cli(CL, ['get', 'workloadentry', 'vmapp-10.78.0.2', '--server', api]).status !== 0, { timeoutMs: 5_000, what: 'the WorkloadEntry removed' });
    expect(ns(VM, ['iptables-save']).out).not.toContain('BOWLINE');
    expect(ns(VM, ['ip6tables-save']).out).not.toContain('BOWLINE');
    expect(existsSync(join(root, 'etc/bowline'))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/bowline-proxy.service'))).toBe(false);
    expect(spawnSync('id', ['-u', USER]).status).not.toBe(0);
  });
});
