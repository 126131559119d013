import { createRequire } from 'node:module';
import type { ParseArgsConfig } from 'node:util';

/**
 * node:util's parseArgs, required (CommonJS) rather than imported: an ESM import of node:util makes node
 * build the module's namespace, which reads every export, and util's lazy ones load internal/mime and
 * internal/encoding with it (+0.11 MB RSS for `bowline proxy`, docs/performance.md Memory). Required,
 * only parseArgs's own module loads, on the first parse.
 */
let util: typeof import('node:util') | undefined;

/** One CLI command: its name, a one-line summary for `bowline --help`, and what it does. */
export interface Command {
  /** The word after `bowline`, e.g. `validate`. */
  name: string;
  /** Other words that run the same command (e.g. `control` for `up`). */
  aliases?: string[];
  /** One line shown by `bowline --help`. */
  summary: string;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Exit code: the command did what was asked. */
export const EXIT_OK = 0;
/** Exit code: the input was wrong or a check failed (violations, conflicts, an unreachable server). */
export const EXIT_INVALID = 1;
/** Exit code: the command line itself was wrong (unknown flag, missing argument). */
export const EXIT_USAGE = 2;

/** A usage error: printed as `bowline CMD: message` and exits 2, without a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * `util.parseArgs` for a command: positionals allowed unless `allowPositionals: false`, and every
 * parse failure (unknown option, missing value) turned into a UsageError (exit 2, no stack trace).
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, opts: { allowPositionals?: boolean } = {}) {
  try {
    util ??= createRequire(import.meta.url)('node:util') as typeof import('node:util');
    return util.parseArgs({ args, options, allowPositionals: opts.allowPositionals ?? true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The flags every command that talks to the control plane takes: `--server URL`, `--home DIR`, `-h`. */
export const clientFlags = {
  server: { type: 'string' },
  home: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The code of a failure that carries none of its own (usually a bug: BOWLINE_DEBUG=1 prints the stack). */
export const UNEXPECTED_CODE = 'BOWLINE_E_CLI_UNEXPECTED';

/** The code of a usage error (exit 2). */
export const USAGE_CODE = 'BOWLINE_E_CLI_USAGE';

/** `CODE: message` with the code printed once (not again when the message starts with it); UNEXPECTED_CODE when the error has none. */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const own = (err as { code?: unknown } | null)?.code;
  const code = typeof own === 'string' && own !== '' ? own : err instanceof UsageError ? USAGE_CODE : UNEXPECTED_CODE;
  return message.startsWith(`${code}: `) || message.startsWith(`${code} `) ? message : `${code}: ${message}`;
}
