import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, for locating bin/bowline and samples from tests. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A child process started by a test, with its output kept for failure messages. */
export interface Child {
  proc: ChildProcess;
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `cmd args` and keeps its stdout and stderr. Only PIDs we started are ever signalled. */
export function start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)); });
  proc.stderr!.on('data', (d) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)); });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    output: () => out,
    async stop(graceMs = 3000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Starts `bin/bowline ARGS` (the built CLI, as a user runs it). */
export function startBowline(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  return start(process.execPath, [repoRoot + 'bin/bowline', ...args], opts);
}

/** What a finished `bin/bowline` run printed, and its exit code. */
export interface BowlineRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `bin/bowline ARGS` to the end (killed after `timeoutMs`); a non-zero exit is a result, not a throw. */
export function runBowline(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<BowlineRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [repoRoot + 'bin/bowline', ...args], { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      resolve({ code, out: String(stdout), err: String(stderr) });
    });
  });
}
