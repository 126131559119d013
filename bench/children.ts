/**
 * The child processes a bench driver starts (proxies, nginx, haproxy): each kept with the tail of
 * its stderr, named on stderr when it exits with an error while the run goes on, and all stopped
 * together at the end (SIGTERM, then SIGKILL for those still running after a grace period).
 */
import type { ChildProcess } from 'node:child_process';

/** A driver's children. */
export class Children {
  private readonly all: ChildProcess[] = [];
  private stopping = false;

  /** Keeps `c` (returned); if it exits non-zero before `stop`, writes `what exited CODE: STDERR TAIL` to stderr. */
  keep(c: ChildProcess, what: string): ChildProcess {
    let err = '';
    c.stderr?.on('data', (d) => { err = (err + String(d)).slice(-2000); });
    c.on('exit', (code) => { if (!this.stopping && code) process.stderr.write(`${what} exited ${code}: ${err}\n`); });
    this.all.push(c);
    return c;
  }

  /** SIGTERM to every child still running; SIGKILL to those still running `graceMs` later. */
  async stop(graceMs = 300): Promise<void> {
    this.stopping = true;
    for (const c of this.all) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, graceMs));
    for (const c of this.all) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
