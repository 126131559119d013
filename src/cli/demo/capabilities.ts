// Whether this build can run the mesh demo: the commands and `bowline proxy` flags it uses.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { commands } from '../commands.js';
import { packageRoot } from './workloads.js';

/** The `bowline proxy` flags the demo passes to sidecars and the gateway. */
export const PROXY_FLAGS_USED = ['--server', '--name', '--namespace', '--service-account', '--labels', '--service', '--app-port', '--bind-port', '--outbound-port', '--gateway', '--admin-port', '--ports-file', '--token-file'];

/** What the mesh demo needs and this build lacks (empty when it can run); asks the built CLI. */
export function meshGaps(): string[] {
  const gaps = ['up', 'proxy', 'apply', 'delete'].filter((n) => !commands.some((c) => c.name === n || c.aliases?.includes(n))).map((n) => `bowline ${n}`);
  if (gaps.includes('bowline proxy')) return gaps;
  const help = spawnSync(process.execPath, [path.join(packageRoot, 'bin', 'bowline'), 'proxy', '--help'], { encoding: 'utf8', timeout: 10_000 });
  const text = `${help.stdout ?? ''}${help.stderr ?? ''}`;
  for (const flag of PROXY_FLAGS_USED) if (!new RegExp(`${flag}\\b`).test(text)) gaps.push(`bowline proxy ${flag}`);
  return gaps;
}
