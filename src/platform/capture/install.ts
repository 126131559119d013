/**
 * Applies and removes the capture rules (rules.ts) with the system's iptables (the nf_tables
 * backend on current Debian). Install checks everything first (root, the tools, the nat table,
 * a dry run of the whole rule set) and changes nothing when a piece is missing; then it replaces
 * the contents of Bowline's chains atomically (iptables-restore --noflush) and adds each jump
 * once, so a stale rule set from a crashed proxy is replaced, never doubled. Nothing here runs on
 * proxy stop: rules stay (fail closed) until `bowline capture clean` or `bowline leave`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHAINS, type Jump, type RuleSet } from './rules.js';

/** A capture install that could not start or finish; `code` is BOWLINE_E_CAPTURE_*. */
export class CaptureError extends Error {
  constructor(readonly code: 'BOWLINE_E_CAPTURE_PREREQ' | 'BOWLINE_E_CAPTURE_APPLY', message: string) {
    super(`${message} (${code})`);
  }
}

/** Runs a command (a missing binary is status 127). */
export type Runner = (cmd: string, args: string[], input?: string) => { status: number; stdout: string; stderr: string };

/** The real runner: sbin directories are searched too. */
export const systemRunner: Runner = (cmd, args, input) => {
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', env });
  if (r.error) return { status: 127, stdout: '', stderr: r.error.message };
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
};

const tool = (family: 4 | 6, restore = false): string => `${family === 4 ? 'iptables' : 'ip6tables'}${restore ? '-restore' : ''}`;

/** True when this host has IPv6 (rules for it are then required). */
export function ipv6Enabled(): boolean {
  return existsSync('/proc/net/if_inet6');
}

/** Checks, then applies. Throws CaptureError (nothing changed) when a prerequisite is missing. */
export function installCapture(rules: RuleSet, opts: { run?: Runner; ipv6?: boolean; isRoot?: boolean } = {}): void {
  const run = opts.run ?? systemRunner;
  const v6 = opts.ipv6 ?? ipv6Enabled();
  if (!(opts.isRoot ?? process.getuid?.() === 0)) throw new CaptureError('BOWLINE_E_CAPTURE_PREREQ', 'capture needs root (CAP_NET_ADMIN in the workload\'s network namespace); nothing was changed');
  const families: Array<4 | 6> = v6 ? [4, 6] : [4];
  for (const f of families) {
    const probe = run(tool(f), ['-t', f === 4 ? 'nat' : 'filter', '-S', 'OUTPUT']);
    if (probe.status === 127) throw new CaptureError('BOWLINE_E_CAPTURE_PREREQ', `${tool(f)} is not installed (Debian: apt-get install iptables)${f === 6 ? '; IPv6 is enabled here and is refused by ip6tables rules, never left open' : ''}; nothing was changed`);
    if (probe.status !== 0) throw new CaptureError('BOWLINE_E_CAPTURE_PREREQ', `the kernel's ${f === 4 ? 'nat' : 'IPv6 filter'} table is not usable (${firstLine(probe.stderr)}): netfilter modules ${f === 4 ? 'nf_nat / nft_chain_nat' : 'ip6_tables / nf_tables'} are needed; nothing was changed`);
    const test = run(tool(f, true), ['--test', '--noflush'], f === 4 ? rules.v4 : rules.v6);
    if (test.status !== 0) throw new CaptureError('BOWLINE_E_CAPTURE_PREREQ', `the ${f === 4 ? 'IPv4' : 'IPv6'} rules cannot be loaded: ${firstLine(test.stderr)} (needed: the owner match for the proxy's uid/gid, which must exist, and the REDIRECT/REJECT targets); nothing was changed`);
  }
  for (const f of families) {
    const r = run(tool(f, true), ['--noflush'], f === 4 ? rules.v4 : rules.v6);
    if (r.status !== 0) throw new CaptureError('BOWLINE_E_CAPTURE_APPLY', `${tool(f, true)} failed: ${firstLine(r.stderr)}`);
  }
  for (const j of rules.jumps) {
    if (!families.includes(j.family)) continue;
    if (run(tool(j.family), ['-t', j.table, '-C', j.chain, ...j.rule]).status === 0) continue;
    const r = run(tool(j.family), ['-t', j.table, '-A', j.chain, ...j.rule]);
    if (r.status !== 0) throw new CaptureError('BOWLINE_E_CAPTURE_APPLY', `cannot add ${describe(j)}: ${firstLine(r.stderr)}`);
  }
}

/** Removes every jump to Bowline's chains and the chains themselves (both families); missing pieces are fine. */
export function cleanCapture(jumps: Jump[], opts: { run?: Runner } = {}): string[] {
  const run = opts.run ?? systemRunner;
  const removed: string[] = [];
  for (const j of jumps) {
    for (let i = 0; i < 100 && run(tool(j.family), ['-t', j.table, '-D', j.chain, ...j.rule]).status === 0; i++) removed.push(describe(j));
  }
  const tables: Array<[4 | 6, string]> = [[4, 'nat'], [6, 'filter'], [4, 'filter'], [6, 'nat']];
  for (const [f, table] of tables) {
    for (const chain of Object.values(CHAINS)) {
      if (run(tool(f), ['-t', table, '-F', chain]).status !== 0) continue;
      if (run(tool(f), ['-t', table, '-X', chain]).status === 0) removed.push(`${tool(f)} -t ${table} chain ${chain}`);
    }
  }
  return removed;
}

/** Lines of Bowline's rules currently installed (`iptables-save` style), for checks and tests. */
export function listCapture(opts: { run?: Runner } = {}): string[] {
  const run = opts.run ?? systemRunner;
  const out: string[] = [];
  for (const f of [4, 6] as const) {
    for (const table of ['nat', 'filter']) {
      const r = run(tool(f), ['-t', table, '-S']);
      if (r.status === 0) out.push(...r.stdout.split('\n').filter((l) => l.includes('BOWLINE_')).map((l) => `${tool(f)} -t ${table} ${l}`));
    }
  }
  return out;
}

function describe(j: Jump): string {
  return `${tool(j.family)} -t ${j.table} ${j.chain} ${j.rule.join(' ')}`;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
