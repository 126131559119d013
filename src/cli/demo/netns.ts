// `bowline demo --capture`: each workload in its own network namespace, like a pod. One bridge in
// the host's namespace (PREFIXbr, 10.239.X.1/24) and one veth pair per workload (PREFIXhN on the
// bridge, eth0 with 10.239.X.N inside the namespace PREFIX-WORKLOAD). The namespaces have no
// default route: an address outside the bridge's subnet is unreachable from them, and every
// address the demo uses is checked to route over the bridge or a veth before traffic is sent.
// Everything is removed by removeDemoNetwork (idempotent; also from an exit handler).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** Runs a command; a missing binary is status 127. */
export type NetRunner = (cmd: string, args: string[]) => { status: number; stdout: string; stderr: string };

/** The real runner (sbin directories searched too). */
export const netRunner: NetRunner = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
  if (r.error) return { status: 127, stdout: '', stderr: r.error.message };
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
};

/** One workload's namespace. */
export interface DemoNamespace {
  /** The namespace (`PREFIX-reviews-v2`). */
  name: string;
  /** Its address on the bridge's subnet (eth0). */
  address: string;
  /** The host end of its veth pair, on the bridge. */
  hostVeth: string;
}

/** What the demo created (written to demo.json, so tests and people can check it is gone after exit). */
export interface DemoNetwork {
  prefix: string;
  bridge: string;
  /** The bridge's address: the control plane's push stream and the namespaces' resolver live here. */
  hostAddress: string;
  subnet: string;
  namespaces: Record<string, DemoNamespace>;
  /** Where `ip netns exec` finds per-namespace files (/etc/netns): each namespace's resolv.conf. */
  etcNetns: string;
  /** The FORWARD rule added when bridged traffic passes the host's iptables (br_netfilter) and FORWARD does not accept by default. */
  forwardRule?: string[];
}

/** Where `ip netns exec` bind-mounts per-namespace files from. */
export const ETC_NETNS = '/etc/netns';

/** The virtual IPs the control plane allocates (bowline up's default --vip-cidr): routed over eth0 so connect() starts and capture takes it. */
export const VIP_CIDR = '240.240.0.0/16';

/** The demo's default prefix: unique per run (the pid), short enough for interface names (15 bytes). */
export function defaultPrefix(pid = process.pid): string {
  return `bl${pid.toString(36)}`;
}

/** A prefix is 1-8 lowercase letters/digits starting with a letter (interface names stay under 15 bytes). */
export function validPrefix(p: string): boolean {
  return /^[a-z][a-z0-9]{0,7}$/.test(p);
}

class NetError extends Error {}

function must(run: NetRunner, cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new NetError(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? `exit ${r.status}`}`);
  return r.stdout;
}

/** A /24 in 10.239.0.0/16 no route and no address of this host uses (the pid spreads parallel runs). */
function pickSubnet(run: NetRunner, pid: number): string {
  const addrs = must(run, 'ip', ['-o', '-4', 'addr', 'show']);
  for (let k = 0; k < 250; k++) {
    const third = ((pid + k) % 250) + 1;
    const net = `10.239.${third}`;
    if (addrs.includes(` ${net}.`)) continue;
    const routes = must(run, 'ip', ['-4', 'route', 'show', 'table', 'all', 'match', `${net}.1`]).split('\n').filter((l) => l.trim() && !/^(default|broadcast|local)\b/.test(l.trim()) && !l.includes('table local'));
    if (routes.length === 0) return net;
  }
  throw new NetError('no free /24 in 10.239.0.0/16 for the demo\'s bridge');
}

/** What `bowline demo --capture` needs and this host lacks (empty when it can run). */
export function captureGaps(run: NetRunner = netRunner): string[] {
  const gaps: string[] = [];
  if (process.platform !== 'linux') return ['Linux (network namespaces and iptables)'];
  if (process.getuid?.() !== 0) gaps.push('root (it creates network namespaces, a bridge and iptables rules)');
  if (run('ip', ['-V']).status !== 0) gaps.push('the ip command (Debian: apt-get install iproute2)');
  if (run('iptables', ['--version']).status !== 0) gaps.push('iptables (Debian: apt-get install iptables)');
  return gaps;
}

/** Creates the bridge and one namespace per workload; on a failure removes what it made and throws. */
export function createDemoNetwork(prefix: string, workloads: readonly string[], run: NetRunner = netRunner, pid = process.pid, etcNetns = ETC_NETNS): DemoNetwork {
  const subnet = pickSubnet(run, pid);
  const net: DemoNetwork = { prefix, bridge: `${prefix}br`, hostAddress: `${subnet}.1`, subnet: `${subnet}.0/24`, namespaces: {}, etcNetns };
  try {
    must(run, 'ip', ['link', 'add', net.bridge, 'type', 'bridge']);
    must(run, 'ip', ['addr', 'add', `${net.hostAddress}/24`, 'dev', net.bridge]);
    must(run, 'ip', ['link', 'set', net.bridge, 'up']);
    workloads.forEach((w, i) => {
      const ns: DemoNamespace = { name: `${prefix}-${w}`, address: `${subnet}.${i + 2}`, hostVeth: `${prefix}h${i}` };
      net.namespaces[w] = ns;
      must(run, 'ip', ['netns', 'add', ns.name]);
      must(run, 'ip', ['link', 'add', ns.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
      must(run, 'ip', ['link', 'set', ns.hostVeth, 'master', net.bridge]);
      must(run, 'ip', ['link', 'set', ns.hostVeth, 'up']);
      for (const dev of ['lo', 'eth0']) must(run, 'ip', ['-n', ns.name, 'link', 'set', dev, 'up']);
      must(run, 'ip', ['-n', ns.name, 'addr', 'add', `${ns.address}/24`, 'dev', 'eth0']);
      must(run, 'ip', ['-n', ns.name, 'route', 'add', VIP_CIDR, 'dev', 'eth0']);
      // The app's resolver: an address on the bridge (capture redirects its DNS to the proxy's DNS proxy).
      mkdirSync(`${etcNetns}/${ns.name}`, { recursive: true });
      writeFileSync(`${etcNetns}/${ns.name}/resolv.conf`, `nameserver ${net.hostAddress}\n`);
    });
    // Bridged traffic passes the host's FORWARD chain when br_netfilter is on: let our bridge's through.
    if (bridgeFiltered() && !/^-P FORWARD ACCEPT$/m.test(run('iptables', ['-S', 'FORWARD']).stdout)) {
      const rule = ['FORWARD', '-i', net.bridge, '-o', net.bridge, '-m', 'comment', '--comment', `bowline demo ${prefix}`, '-j', 'ACCEPT'];
      must(run, 'iptables', ['-I', ...rule]);
      net.forwardRule = rule;
    }
  } catch (err) {
    removeDemoNetwork(net, run);
    throw err;
  }
  return net;
}

function bridgeFiltered(): boolean {
  try {
    return readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Checks, before any traffic, that every address the demo uses routes over what it created: from
 * the host each namespace's address over the bridge; from each namespace the bridge's address,
 * the other namespaces and the virtual IPs over its eth0, and no default route. Throws naming the first problem.
 */
export function verifyDemoNetwork(net: DemoNetwork, run: NetRunner = netRunner): void {
  const over = (ns: string | undefined, addr: string, dev: string) => {
    const out = must(run, 'ip', [...(ns ? ['-n', ns] : []), 'route', 'get', addr]);
    if (!new RegExp(`\\bdev ${dev}\\b`).test(out)) throw new NetError(`${addr} does not route over ${dev}${ns ? ` in ${ns}` : ''} (it would leave by another interface): ${out.trim()}`);
  };
  const all = Object.values(net.namespaces);
  for (const ns of all) over(undefined, ns.address, net.bridge);
  for (const ns of all) {
    if (must(run, 'ip', ['-n', ns.name, 'route', 'show', 'default']).trim() !== '') throw new NetError(`${ns.name} has a default route`);
    over(ns.name, net.hostAddress, 'eth0');
    over(ns.name, '240.240.0.1', 'eth0');
    for (const other of all) if (other !== ns) over(ns.name, other.address, 'eth0');
  }
}

/** Removes every namespace (their veths, capture rules and resolv.conf go with them), the bridge and the FORWARD rule; returns what could not be removed. */
export function removeDemoNetwork(net: DemoNetwork, run: NetRunner = netRunner): string[] {
  const left: string[] = [];
  for (const ns of Object.values(net.namespaces)) {
    if (existsNs(ns.name)) {
      const r = run('ip', ['netns', 'del', ns.name]);
      if (r.status !== 0 && existsNs(ns.name)) left.push(`namespace ${ns.name}: ${r.stderr.trim()}`);
    }
    rmSync(`${net.etcNetns}/${ns.name}`, { recursive: true, force: true });
    if (run('ip', ['link', 'show', ns.hostVeth]).status === 0) run('ip', ['link', 'del', ns.hostVeth]);
  }
  if (run('ip', ['link', 'show', net.bridge]).status === 0) {
    const r = run('ip', ['link', 'del', net.bridge]);
    if (r.status !== 0) left.push(`bridge ${net.bridge}: ${r.stderr.trim()}`);
  }
  if (net.forwardRule) {
    for (let i = 0; i < 10 && run('iptables', ['-C', ...net.forwardRule]).status === 0; i++) run('iptables', ['-D', ...net.forwardRule]);
  }
  return left;
}

function existsNs(name: string): boolean {
  return existsSync(`/run/netns/${name}`) || existsSync(`/var/run/netns/${name}`);
}
