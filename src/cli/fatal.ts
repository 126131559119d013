/**
 * The last resort of a long-running command (`bowline proxy`): an exception nothing caught is
 * logged as one line with a stable code and the process exits non-zero, so its supervisor
 * (systemd, Kubernetes, `bowline demo`) starts a clean one. Node's guidance: state after an
 * uncaught exception is unknown, never keep serving. Known data-plane paths catch their own
 * failures (src/proxy/internal-error.ts); reaching this handler is a bug worth a report.
 */

/** Exit code after an uncaught exception (the CLI's "failed" code). */
export const EXIT_UNCAUGHT = 1;

/** Installs the handler for command `name`; `code` is the stable error code printed (e.g. BOWLINE_E_PROXY_UNCAUGHT). */
export function exitOnUncaught(name: string, code: string): void {
  process.on('uncaughtException', (err: unknown, origin: string) => {
    const what = err instanceof Error ? err.stack ?? err.message : String(err);
    const kind = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught exception';
    try {
      process.stderr.write(`bowline ${name}: ${code}: ${kind}, exiting so a supervisor restarts a clean process: ${what}\n`);
    } finally {
      process.exit(EXIT_UNCAUGHT);
    }
  });
}
