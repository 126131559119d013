// Transparent capture with real processes in network namespaces this test creates (root, Linux):
// a "vm" namespace (10.77.0.1) runs the control plane, backends and a sidecar started with
// `bowline proxy --capture iptables` as an unprivileged user after `bowline capture install`;
// a "peer" namespace (10.77.0.2) on the other end of a veth pair sends inbound traffic. Apps
// use no proxy settings: HTTP is routed by Host, TCP by original destination, unknown
// destinations pass through, inbound connections reach the app through the proxy. With the
// proxy stopped, captured connections are refused (fail closed); install is idempotent;
// `rules` applies nothing; `clean` leaves no rule. DNS (`capture install --dns`): the app's lookups go
// to the proxy's DNS proxy, which answers mesh names (ServiceEntry addresses, and virtual IPs the
// control plane allocated for hosts without addresses) and forwards the rest to the namespace's
// resolv.conf nameserver (a resolver in the peer namespace).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, start, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { openTraversal } from '../support/traverse.js';
import { tempDir } from '../support/temp.js';

const canRun = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('iptables', ['--version']).status === 0
  && existsSync(join(repoRoot, 'native/original-dst/build/Release/original_dst.node'));
const VM = `cap-vm-${process.pid}`;
const PEER = `cap-peer-${process.pid}`;
const home = tempDir('bowline-e2e-capture-');
const children: Child[] = [];
const bowline = join(repoRoot, 'bin/bowline');
let push = 0;
let backend = 0;
let echo = 0;
let proxy: Child | undefined;
/** Restores the modes of the checkout's ancestors opened for the proxy's unprivileged user (test/support/traverse.ts). */
let closeTraversal = (): void => {};

function ns(name: string, cmd: string[], input?: string): { status: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', name, ...cmd], { encoding: 'utf8', input, timeout: 20_000 });
  return { status: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}
const sh = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const cli = (args: string[], name = VM) => ns(name, [process.execPath, bowline, ...args]);
const curl = (args: string[], name = VM) => ns(name, ['curl', '-sS', '--max-time', '5', ...args]);

/** A server inside the vm namespace (script prints its port). */
async function serve(script: string): Promise<number> {
  const c = start('ip', ['netns', 'exec', VM, process.execPath, '-e', script]);
  children.push(c);
  return Number(await waitFor(() => /^port (\d+)$/m.exec(c.output())?.[1], { timeoutMs: 10_000, what: () => `server: ${c.output()}` }));
}

function startProxy(): Child {
  const c = start('ip', ['netns', 'exec', VM, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bowline, 'proxy',
    '--server', `127.0.0.1:${push}`, '--name', 'vmapp', '--labels', 'app=vmapp', '--service', 'vmapp:8080', '--address', '10.77.0.1',
    '--capture', 'iptables', '--telemetry', 'off', '--ports-file', join(home, 'run', 'proxy.ports.json')]);
  children.push(c);
  return c;
}

async function apply(name: string, yaml: string): Promise<void> {
  const file = join(home, `${name}.yaml`);
  writeFileSync(file, yaml);
  const r = cli(['apply', '-f', file, '--server', `http://127.0.0.1:${JSON.parse(readFileSync(join(home, 'cp.ports.json'), 'utf8')).api}`]);
  expect(r.status, r.out).toBe(0);
}

/** A resolver for the peer namespace (10.77.0.2:53, UDP): every A query gets 10.77.0.99. */
const RESOLVER = `const p = require(${JSON.stringify(join(repoRoot, 'node_modules/dns-packet'))}); const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => { const q = p.decode(m); s.send(p.encode({ id: q.id, type: 'response', flags: p.RECURSION_AVAILABLE, questions: q.questions,
  answers: q.questions[0].type === 'A' ? [{ type: 'A', name: q.questions[0].name, ttl: 5, data: '10.77.0.99' }] : [] }), r.port, r.address); });
s.bind(53, '10.77.0.2', () => console.log('resolver ready'));`;

const dig = (args: string[]) => ns(VM, ['dig', '+short', '+time=3', '+tries=1', ...args]);

const ruleCount = (name = VM): number => cli(['capture', 'list'], name).out.split('\n').filter((l) => l.includes('BOWLINE_')).length;

describe.skipIf(!canRun)('transparent capture in network namespaces', () => {
  beforeAll(async () => {
    closeTraversal = openTraversal(repoRoot);
    sh(['netns', 'add', VM]);
    sh(['netns', 'add', PEER]);
    sh(['link', 'add', `cap-v${process.pid % 10000}`, 'netns', VM, 'type', 'veth', 'peer', 'name', `cap-p${process.pid % 10000}`, 'netns', PEER]);
    for (const [n, dev, addr] of [[VM, `cap-v${process.pid % 10000}`, '10.77.0.1/16'], [PEER, `cap-p${process.pid % 10000}`, '10.77.0.2/16']] as const) {
      sh(['-n', n, 'link', 'set', 'lo', 'up']);
      sh(['-n', n, 'addr', 'add', addr, 'dev', dev]);
      sh(['-n', n, 'link', 'set', dev, 'up']);
    }
    // Every address used routes over the veth we made (no default route exists in these namespaces).
    expect(sh(['-n', VM, 'route', 'get', '10.77.5.5'])).toContain(`dev cap-v${process.pid % 10000}`);
    expect(sh(['-n', PEER, 'route', 'get', '10.77.0.1'])).toContain(`dev cap-p${process.pid % 10000}`);
    expect(sh(['-n', VM, 'route', 'show', 'default'])).toBe('');
    // Virtual IPs need a route for connect() to start (a host's default route; here the veth): capture takes them before they leave.
    sh(['-n', VM, 'route', 'add', '240.240.0.0/16', 'dev', `cap-v${process.pid % 10000}`]);
    expect(sh(['-n', VM, 'route', 'get', '240.240.1.1'])).toContain(`dev cap-v${process.pid % 10000}`);
    // The vm namespace's resolv.conf (ip netns exec mounts /etc/netns/NAME/ over /etc) names a resolver in the peer namespace.
    mkdirSync(`/etc/netns/${VM}`, { recursive: true });
    writeFileSync(`/etc/netns/${VM}/resolv.conf`, 'nameserver 10.77.0.2\n');
    const resolver = start('ip', ['netns', 'exec', PEER, process.execPath, '-e', RESOLVER]);
    children.push(resolver);
    await waitFor(() => resolver.output().includes('resolver ready'), { timeoutMs: 10_000, what: () => `resolver: ${resolver.output()}` });
    chmodSync(home, 0o711); // the proxy's user writes its ports file in run/
    const run = join(home, 'run');
    execFileSync('mkdir', ['-p', run]);
    chmodSync(run, 0o777);
    const cp = start('ip', ['netns', 'exec', VM, process.execPath, bowline, 'up', '--push-plaintext', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--ports-file', join(home, 'cp.ports.json')]);
    children.push(cp);
    await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 30_000, what: () => `bowline up:\n${cp.output()}` });
    push = (JSON.parse(readFileSync(join(home, 'cp.ports.json'), 'utf8')) as { push: number }).push;
    const headers = "res.end(JSON.stringify({host: req.headers.host, rid: req.headers['x-request-id'] ?? null}))";
    backend = await serve(`require('http').createServer((req, res) => ${headers}).listen(0, '10.77.0.1', function () { console.log('port ' + this.address().port); })`);
    echo = await serve("require('net').createServer((s) => s.pipe(s)).listen(0, '10.77.0.1', function () { console.log('port ' + this.address().port); })");
    await serve(`require('http').createServer((req, res) => ${headers.replace('host:', "app: 'vmapp', host:")}).listen(8080, '0.0.0.0', function () { console.log('port ' + this.address().port); })`);
    await apply('entries', `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example.mesh]
  addresses: [10.77.5.5]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.77.0.1, ports: {http: ${backend}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.mesh]
  addresses: [10.77.5.6]
  ports: [{number: 3306, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 10.77.0.1, ports: {tcp: ${echo}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: web-auto, namespace: default}
spec:
  hosts: [web-auto.example.mesh]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.77.0.1, ports: {http: ${backend}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: db-auto, namespace: default}
spec:
  hosts: [db-auto.example.mesh]
  ports: [{number: 3306, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 10.77.0.1, ports: {tcp: ${echo}}}]
`);
    const inst = cli(['capture', 'install', '--proxy-uid', '65534', '--proxy-gid', '65534', '--include-inbound-ports', '8080', '--dns']);
    expect(inst.status, inst.out).toBe(0);
    proxy = startProxy();
    await waitFor(() => existsSync(join(run, 'proxy.ports.json')) && readFileSync(join(run, 'proxy.ports.json'), 'utf8').includes('virtualInbound'), { timeoutMs: 30_000, what: 'captured proxy listeners' })
      .catch((err: Error) => { throw new Error(`${err.message}\n${proxy!.output()}`); });
  }, 120_000);

  afterAll(async () => {
    for (const c of children.reverse()) await c.stop();
    spawnSync('ip', ['netns', 'del', VM]);
    spawnSync('ip', ['netns', 'del', PEER]);
    rmSync(`/etc/netns/${VM}`, { recursive: true, force: true });
    closeTraversal();
  });

  it('an app without proxy settings reaches an HTTP service by Host through the sidecar', async () => {
    const r = await waitFor(() => { const x = curl(['--resolve', 'web.example.mesh:80:10.77.5.5', 'http://web.example.mesh/']); return x.status === 0 && x.out.includes('"rid":"') ? x : undefined; }, { timeoutMs: 20_000, what: 'web.example.mesh via capture' });
    expect(JSON.parse(r!.out)).toMatchObject({ host: "web.example.mesh" }); // x-request-id: the proxy handled it
  });

  it('a plain TCP client reaches a mesh TCP service by its address (original destination)', () => {
    const r = ns(VM, [process.execPath, '-e', "const s = require('net').connect(3306, '10.77.5.6', () => s.end('ping-through-capture')); s.pipe(process.stdout); s.on('error', (e) => { console.error(e.message); process.exit(1); })"]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toBe('ping-through-capture');
  });

  it('unknown destinations pass through (ALLOW_ANY), other loopback addresses are captured, 127.0.0.1 is not', () => {
    const r = curl([`http://10.77.0.1:${backend}/direct`]);
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out).rid).toMatch(/./);
    sh(['-n', VM, 'addr', 'add', '127.127.42.69/32', 'dev', 'lo']);
    // Captured: the proxy answers (503, nothing listens there) instead of the kernel refusing the connection.
    const other = curl(['-o', '/dev/null', '-w', '%{http_code}', 'http://127.127.42.69:9/']);
    expect(other.out).toBe('503');
    // 127.0.0.1 is never captured: the kernel refuses at once, no HTTP answer.
    const plain = curl(['-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9/']);
    expect(plain.status).toBe(7);
    expect(plain.out).toContain('000');
  });

  it('inbound connections to captured ports reach the app through the proxy', () => {
    const r = curl(['http://10.77.0.1:8080/in'], PEER);
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ app: 'vmapp' });
    expect(JSON.parse(r.out).rid).toMatch(/./);
  });

  it('DNS: mesh names resolve from the name table (virtual IPs for hosts without addresses), others through the host resolver', async () => {
    const vip = await waitFor(() => { const r = dig(['web-auto.example.mesh']); return /^240\.240\.\d+\.\d+$/.test(r.out.trim()) ? r.out.trim() : undefined; }, { timeoutMs: 20_000, what: 'web-auto.example.mesh via the DNS proxy' });
    expect(dig(['web.example.mesh']).out.trim()).toBe('10.77.5.5');
    expect(dig(['+tcp', 'web-auto.example.mesh']).out.trim()).toBe(vip);
    expect(dig(['db-auto.example.mesh']).out.trim()).toMatch(/^240\.240\./);
    expect(dig(['db-auto.example.mesh']).out.trim()).not.toBe(vip);
    expect(dig(['outside.example.org']).out.trim()).toBe('10.77.0.99');
    // The proxy's own lookups are not captured: it reached the real resolver above (a loop would time out).
    const r = curl(['http://web-auto.example.mesh/by-name']);
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ host: 'web-auto.example.mesh' });
    expect(JSON.parse(r.out).rid).toMatch(/./);
  });

  it('DNS: a plain TCP client reaches a mesh TCP service without addresses by its name (virtual IP + original destination)', () => {
    const r = ns(VM, [process.execPath, '-e', "const s = require('net').connect(3306, 'db-auto.example.mesh', () => s.end('tcp-by-name')); s.pipe(process.stdout); s.on('error', (e) => { console.error(e.message); process.exit(1); })"]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toBe('tcp-by-name');
  });

  it('fails closed while the proxy is down, and install stays idempotent', async () => {
    const before = ruleCount();
    expect(before).toBeGreaterThan(10);
    await proxy!.stop();
    const r = curl([`http://10.77.0.1:${backend}/bypass`]);
    expect(r.status).not.toBe(0);
    expect(curl(['http://10.77.0.1:8080/in'], PEER).status).not.toBe(0);
    const again = cli(['capture', 'install', '--proxy-uid', '65534', '--proxy-gid', '65534', '--include-inbound-ports', '8080', '--dns']);
    expect(again.status, again.out).toBe(0);
    expect(ruleCount()).toBe(before);
    proxy = startProxy();
    await waitFor(() => curl([`http://10.77.0.1:${backend}/back`]).status === 0, { timeoutMs: 30_000, what: 'proxy back' })
      .catch((err: Error) => { throw new Error(`${err.message}\n${proxy!.output()}`); });
  });

  it('refuses without root (nothing changed); `rules` prints without applying; `clean` leaves nothing', () => {
    const noRoot = ns(PEER, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bowline, 'capture', 'install']);
    expect(noRoot.status).toBe(1);
    expect(noRoot.out).toContain('capture needs root');
    const printed = cli(['capture', 'rules', '--dns', '--exclude-cidrs', '10.1.0.0/16'], PEER);
    expect(printed.status).toBe(0);
    expect(printed.out).toContain('-A BOWLINE_REDIRECT -p tcp -j REDIRECT --to-ports 15001');
    expect(printed.out).toContain('-A BOWLINE_OUTPUT -m owner --uid-owner bowline-proxy -j RETURN');
    expect(printed.out).toContain('-A BOWLINE_DNS -p udp --dport 53 -j REDIRECT --to-ports 15053');
    expect(ruleCount(PEER)).toBe(0);
    expect(cli(['capture', 'clean']).status).toBe(0);
    expect(ruleCount()).toBe(0);
    expect(ns(VM, ['iptables-save']).out).not.toContain('BOWLINE');
  });
});
