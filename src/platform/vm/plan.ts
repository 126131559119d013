/**
 * A plan of changes to a host (`bowline join` / `bowline leave`): files to write, directories
 * to make, commands to run. `--dry-run` prints it (`# file: PATH (MODE)` then the content,
 * `# run: COMMAND`); otherwise it is carried out in order, stopping at the first failure.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One step. `owner` is a user name that gets the file or directory (after it is written). */
export type Step =
  | { kind: 'file'; path: string; mode: number; content: string; owner?: string }
  | { kind: 'dir'; path: string; mode: number; owner?: string }
  | { kind: 'remove'; path: string }
  | { kind: 'run'; argv: string[]; /** A failure is reported and the plan goes on (e.g. a user that is already gone). */ optional?: boolean };

const octal = (m: number): string => `0${m.toString(8)}`;
const quote = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** The plan as `--dry-run` prints it. */
export function renderPlan(steps: readonly Step[]): string {
  const out: string[] = [];
  for (const s of steps) {
    if (s.kind === 'file') out.push(`# file: ${s.path} (${octal(s.mode)}${s.owner ? `, owner ${s.owner}` : ''})`, s.content.replace(/\n$/, ''));
    else if (s.kind === 'dir') out.push(`# run: ${['install', '-d', '-m', octal(s.mode), ...(s.owner ? ['-o', s.owner] : []), s.path].map(quote).join(' ')}`);
    else if (s.kind === 'remove') out.push(`# run: rm -rf ${quote(s.path)}`);
    else out.push(`# run: ${s.argv.map(quote).join(' ')}`);
  }
  return out.join('\n') + '\n';
}

/** Carries out the plan; throws with the failing step's reason. `log` gets one line per step. */
export function executePlan(steps: readonly Step[], log: (line: string) => void): void {
  const chown = (path: string, owner: string) => run(['chown', owner, path], false);
  const run = (argv: string[], optional: boolean | undefined) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) {
      const why = `${argv.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout || '').trim()}`;
      if (!optional) throw new Error(why);
      log(`  (${why}; going on)`);
    }
  };
  for (const s of steps) {
    if (s.kind === 'file') {
      log(`write ${s.path} (${octal(s.mode)})`);
      mkdirSync(dirname(s.path), { recursive: true });
      writeFileSync(s.path, s.content, { mode: s.mode });
      chmodSync(s.path, s.mode);
      if (s.owner) chown(s.path, s.owner);
    } else if (s.kind === 'dir') {
      log(`mkdir ${s.path} (${octal(s.mode)})`);
      mkdirSync(s.path, { recursive: true, mode: s.mode });
      chmodSync(s.path, s.mode);
      if (s.owner) chown(s.path, s.owner);
    } else if (s.kind === 'remove') {
      log(`remove ${s.path}`);
      rmSync(s.path, { recursive: true, force: true });
    } else {
      log(`run ${s.argv.join(' ')}`);
      run(s.argv, s.optional);
    }
  }
}
