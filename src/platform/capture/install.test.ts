import { describe, expect, it } from 'vitest';
import { captureRules, defaultCaptureOptions } from './rules.js';
import { CaptureError, installCapture, type Runner } from './install.js';

/** Records every command; answers with `status(cmd, args)`. */
function recorder(status: (cmd: string, args: string[]) => number): { run: Runner; calls: string[] } {
  const calls: string[] = [];
  return { calls, run: (cmd, args) => { calls.push(`${cmd} ${args.join(' ')}`); return { status: status(cmd, args), stdout: '', stderr: status(cmd, args) === 0 ? '' : 'modprobe: FATAL: Module nft_chain_nat not found' }; } };
}

const changes = (calls: string[]): string[] => calls.filter((c) => /restore --noflush$| -A /.test(c));
const rules = captureRules(defaultCaptureOptions());

describe('capture install checks before it changes anything', () => {
  it('refuses without root', () => {
    const r = recorder(() => 0);
    expect(() => installCapture(rules, { run: r.run, isRoot: false, ipv6: true })).toThrow(/capture needs root/);
    expect(r.calls).toEqual([]);
  });

  it('names a missing iptables, a missing ip6tables with IPv6 on, and a kernel without the nat table', () => {
    const noTool = recorder((cmd) => (cmd === 'ip6tables' ? 127 : 0));
    expect(() => installCapture(rules, { run: noTool.run, isRoot: true, ipv6: true })).toThrow(/ip6tables is not installed.*IPv6 is enabled/);
    expect(changes(noTool.calls)).toEqual([]);
    const noNat = recorder((cmd, args) => (cmd === 'iptables' && args.includes('nat') ? 1 : 0));
    expect(() => installCapture(rules, { run: noNat.run, isRoot: true, ipv6: false })).toThrow(/nat table is not usable.*nf_nat/);
    expect(changes(noNat.calls)).toEqual([]);
  });

  it('a failed dry run of either family changes nothing; a good run adds only missing jumps', () => {
    const bad = recorder((cmd, args) => (cmd === 'ip6tables-restore' && args.includes('--test') ? 1 : 0));
    expect(() => installCapture(rules, { run: bad.run, isRoot: true, ipv6: true })).toThrow(CaptureError);
    expect(changes(bad.calls)).toEqual([]);
    // Jumps already present (-C succeeds): nothing is appended, so a second install never doubles them.
    const again = recorder(() => 0);
    installCapture(rules, { run: again.run, isRoot: true, ipv6: true });
    expect(again.calls.filter((c) => c.includes(' -A '))).toEqual([]);
    expect(again.calls.filter((c) => c.endsWith('restore --noflush'))).toHaveLength(2);
  });
});
