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
  /**
   * Resolves with the exit code (null when killed by a signal) once the process has exited AND its
   * stdout and stderr have been read to the end, so `output()` then holds everything it printed.
   * (The 'exit' event can come before the last output is read; a grandchild holding the pipes
   * open delays 'close' for at most 2 s.)
   */
  exited(): Promise<number | null>;
}

/** Starts `cmd args` and keeps its stdout and stderr. Only PIDs we started are ever signalled. */
export function start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)); });
  proc.stderr!.on('data', (d) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)); });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  return {
    proc,
    output: () => out,
    async exited() {
      await exited;
      let t: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((r) => { t = setTimeout(r, 2000); })]);
      clearTimeout(t);
      return proc.exitCode;
    },
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
