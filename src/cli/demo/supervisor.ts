// The demo's processes: each started with its output in a log file, watched for an early
// death (reported with its log path while the rest keep running), and stopped together.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One process the demo runs. */
export interface ProcessSpec {
  /** Short unique name, also the log file's name (`reviews-v2`, `reviews-v2-sidecar`). */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** A command that runs to completion (`bowline apply`): its exit is not a death. */
  oneShot?: boolean;
  /** Opens an IPC channel (`proc.send`), e.g. to hand the app its listening socket. */
  ipc?: boolean;
  /** Runs it with this group id (uid unchanged, supplementary groups cleared): the captured demo's proxies, exempt from capture by gid. */
  gid?: number;
}

/** A started process. */
export interface Managed {
  spec: ProcessSpec;
  proc: ChildProcess;
  logPath: string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts and stops the demo's processes; never signals a process it did not start. */
export class Supervisor {
  private readonly managed: Managed[] = [];
  private stopping = false;

  constructor(
    private readonly logDir: string,
    /** Called when a process exits while the demo is not stopping. */
    private readonly onDeath: (m: Managed, code: number | null, signal: NodeJS.Signals | null) => void = () => {},
  ) {}

  /** Every process started so far. */
  get processes(): readonly Managed[] {
    return this.managed;
  }

  /** Starts `spec` with stdout and stderr in LOGDIR/NAME.log (a new log each run, so no stale line is read as fresh). */
  start(spec: ProcessSpec): Managed {
    const logPath = path.join(this.logDir, `${spec.name}.log`);
    const fd = openSync(logPath, 'w');
    let proc: ChildProcess;
    try {
      proc = spawn(spec.command, spec.args, { env: { ...process.env, ...spec.env }, stdio: spec.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd], detached: false, ...(spec.gid !== undefined ? { gid: spec.gid } : {}) });
    } finally {
      closeSync(fd);
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      proc.once('error', () => resolve({ code: null, signal: null }));
      proc.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const m: Managed = { spec, proc, logPath, exited };
    this.managed.push(m);
    void exited.then(({ code, signal }) => { if (!this.stopping && !spec.oneShot) this.onDeath(m, code, signal); });
    return m;
  }

  /** True while `m` has not exited. */
  static alive(m: Managed): boolean {
    return m.proc.exitCode === null && m.proc.signalCode === null;
  }

  /** The last `lines` lines of a process's log (for error messages). */
  static tail(m: Managed, lines = 5): string {
    try {
      return readFileSync(m.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Stops every process: SIGTERM (reverse start order), then SIGKILL after `graceMs` or at once when `force`. */
  async stopAll(opts: { graceMs?: number; force?: boolean } = {}): Promise<void> {
    this.stopping = true;
    const live = this.managed.filter(Supervisor.alive).reverse();
    for (const m of live) m.proc.kill(opts.force ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => { for (const m of live) if (Supervisor.alive(m)) m.proc.kill('SIGKILL'); }, opts.graceMs ?? 5000);
    await Promise.all(live.map((m) => m.exited));
    clearTimeout(timer);
  }

  /** Kills every live process at once (the second Ctrl-C). */
  forceAll(): void {
    this.stopping = true;
    for (const m of this.managed) if (Supervisor.alive(m)) m.proc.kill('SIGKILL');
  }
}
