import { readFileSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDemoNetwork, defaultPrefix, removeDemoNetwork, validPrefix, verifyDemoNetwork, type NetRunner } from './netns.js';
import { tempDir } from '../../../test/support/temp.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const etc = () => { const d = tempDir('bowline-netns-test-'); dirs.push(d); return d; };

/** A stand-in for `ip`/`iptables` (the real ones need root: the e2e bookinfo-capture test runs them): records calls, answers from `answer`. */
function fakeRunner(answer: (cmd: string, args: string[]) => { status?: number; stdout?: string } | undefined = () => undefined) {
  const calls: string[] = [];
  const run: NetRunner = (cmd, args) => {
    calls.push(`${cmd} ${args.join(' ')}`);
    const a = answer(cmd, args) ?? {};
    return { status: a.status ?? 0, stdout: a.stdout ?? '', stderr: a.status ? 'boom' : '' };
  };
  return { run, calls };
}

describe('demo --capture network', () => {
  it('prefixes: the default is bl + the pid in base 36; at most 8 lowercase characters starting with a letter', () => {
    expect(defaultPrefix(123456)).toBe('bl2n9c');
    expect(validPrefix('vm2n9c')).toBe(true);
    expect(validPrefix('toolongpx')).toBe(false);
    expect(validPrefix('9abc')).toBe(false);
    expect(validPrefix('Ab')).toBe(false);
  });

  it('skips a /24 the host already uses, makes a bridge and one namespace per workload with a veth, the VIP route and a resolv.conf', () => {
    const dir = etc();
    const f = fakeRunner((cmd, args) => {
      if (args.includes('addr') && args.includes('show')) return { stdout: '2: eth0    inet 10.239.8.5/24 scope global eth0\n' };
      if (args.includes('match') && args.at(-1) === '10.239.9.1') return { stdout: '10.239.0.0/16 via 192.0.2.1 dev eth0\n' };
      if (args.includes('match')) return { stdout: 'default via 192.0.2.1 dev eth0\n' };
      return undefined;
    });
    const net = createDemoNetwork('vmt', ['details-v1', 'sleep'], f.run, 7, dir);
    expect(net.subnet).toBe('10.239.10.0/24'); // 8 has an address, 9 a route
    expect(net.bridge).toBe('vmtbr');
    expect(net.namespaces['sleep']).toEqual({ name: 'vmt-sleep', address: '10.239.10.3', hostVeth: 'vmth1' });
    expect(f.calls).toContain('ip link add vmth0 type veth peer name eth0 netns vmt-details-v1');
    expect(f.calls).toContain('ip link set vmth1 master vmtbr');
    expect(f.calls).toContain('ip -n vmt-sleep route add 240.240.0.0/16 dev eth0');
    expect(f.calls.some((c) => c.includes('default'))).toBe(false);
    expect(readFileSync(path.join(dir, 'vmt-sleep', 'resolv.conf'), 'utf8')).toBe('nameserver 10.239.10.1\n');
  });

  it('a failed step removes what was made and throws naming the command', () => {
    const dir = etc();
    const made = new Set<string>();
    const f = fakeRunner((cmd, args) => {
      if (args.includes('addr') && args.includes('show')) return { stdout: '' };
      if (args.includes('match')) return { stdout: '' };
      if (args[0] === 'link' && args[1] === 'add' && args[2] === 'vmth1') return { status: 2 };
      if (args[0] === 'link' && args[1] === 'add') made.add(args[2]!);
      if (args[0] === 'link' && args[1] === 'show') return { status: made.has(args[2]!) ? 0 : 1 };
      return undefined;
    });
    expect(() => createDemoNetwork('vmt', ['a', 'b'], f.run, 1, dir)).toThrow(/ip link add vmth1 type veth .* failed: boom/);
    expect(f.calls).toContain('ip link del vmtbr');
    expect(f.calls).toContain('ip link del vmth0');
    expect(existsSync(path.join(dir, 'vmt-a'))).toBe(false);
  });

  it('the route check refuses a namespace with a default route, and an address that does not go over the bridge', () => {
    const base = { prefix: 'vmt', bridge: 'vmtbr', hostAddress: '10.239.1.1', subnet: '10.239.1.0/24', etcNetns: etc(), namespaces: { a: { name: 'vmt-a', address: '10.239.1.2', hostVeth: 'vmth0' } } };
    const good = (cmd: string, args: string[]) => (args.includes('get') ? { stdout: `${args.at(-1)} dev ${args[0] === '-n' ? 'eth0' : 'vmtbr'} src x\n` } : { stdout: '' });
    expect(() => verifyDemoNetwork(base, fakeRunner(good).run)).not.toThrow();
    expect(() => verifyDemoNetwork(base, fakeRunner((c, a) => (a.includes('default') ? { stdout: 'default via 10.239.1.1 dev eth0\n' } : good(c, a))).run)).toThrow('vmt-a has a default route');
    expect(() => verifyDemoNetwork(base, fakeRunner((c, a) => (a.includes('get') && a[0] !== '-n' ? { stdout: '10.239.1.2 via 192.0.2.1 dev eth0\n' } : good(c, a))).run)).toThrow('10.239.1.2 does not route over vmtbr');
  });

  it('removal deletes the namespaces, the bridge and the FORWARD rule, and names what it could not remove', () => {
    const f = fakeRunner((cmd, args) => (args[0] === 'link' && args[1] === 'del' ? { status: 1 } : cmd === 'iptables' && args[0] === '-C' ? { status: f.calls.filter((c) => c.startsWith('iptables -D')).length ? 1 : 0 } : undefined));
    const net = { prefix: 'vmt', bridge: 'vmtbr', hostAddress: '10.239.1.1', subnet: '10.239.1.0/24', etcNetns: etc(), namespaces: {}, forwardRule: ['FORWARD', '-i', 'vmtbr', '-o', 'vmtbr', '-j', 'ACCEPT'] };
    expect(removeDemoNetwork(net, f.run)).toEqual(['bridge vmtbr: boom']);
    expect(f.calls.filter((c) => c.startsWith('iptables -D'))).toEqual(['iptables -D FORWARD -i vmtbr -o vmtbr -j ACCEPT']);
  });
});
