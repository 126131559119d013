/**
 * A closed stdout or stderr (`bowline apply -f many.yaml | head -1`) never stops a command: the
 * write fails with EPIPE, which Node reports as an 'error' event that would otherwise crash the
 * process halfway through its work. Once a stream is closed, later output to it is dropped; the
 * command finishes and its exit code still says how the work went.
 */

const closed = { stdout: false, stderr: false };

function guard(name: 'stdout' | 'stderr'): void {
  const stream = process[name];
  if ((stream as { bowlinePipeGuard?: boolean }).bowlinePipeGuard) return;
  (stream as { bowlinePipeGuard?: boolean }).bowlinePipeGuard = true;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
      closed[name] = true;
      return;
    }
    // Any other write error (a full disk behind a redirect): say it once on the other stream, keep working.
    closed[name] = true;
    const other = name === 'stdout' ? 'stderr' : 'stdout';
    if (!closed[other]) process[other].write(`bowline: cannot write to ${name}: ${err.code ?? err.message}\n`);
  });
}

/** Installs the guards on process.stdout and process.stderr (idempotent). */
export function guardPipes(): void {
  guard('stdout');
  guard('stderr');
}

/** Writes to stdout unless the reader has gone away. */
export function writeStdout(s: string): void {
  guardPipes();
  if (!closed.stdout) process.stdout.write(s);
}

/** Writes to stderr unless the reader has gone away. */
export function writeStderr(s: string): void {
  guardPipes();
  if (!closed.stderr) process.stderr.write(s);
}
