import { commands } from './commands.js';
import { errorLine, EXIT_INVALID, EXIT_USAGE, USAGE_CODE, UsageError } from './command.js';
import { guardPipes } from './pipes.js';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return [
    'bowline: a service mesh that speaks Istio\'s YAML and runs anywhere',
    '',
    'Usage: bowline COMMAND [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `bowline COMMAND --help` for the options of one command.',
    '',
  ].join('\n');
}

/** Entry point of the CLI: dispatches to one command and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  guardPipes();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : EXIT_USAGE;
  }
  if (name === '--version' || name === '-v') return main(['version']);
  const entry = commands.find((c) => c.name === name || c.aliases?.includes(name));
  if (!entry) {
    process.stderr.write(`bowline: ${USAGE_CODE}: unknown command "${name}"\n\n${help()}`);
    return EXIT_USAGE;
  }
  // Node starts without V8's baseline compiler (bin/bowline's shebang), for the proxy; every other command has it back at once.
  if (entry.name !== 'proxy') (await import('../proxy/baseline-compiler.js')).releaseBaselineCompiler();
  try {
    const command = await entry.load();
    return await command.run(rest);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (err instanceof UsageError || code.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`bowline ${entry.name}: ${USAGE_CODE}: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    // Anything else (BOWLINE_E_CLI_UNREACHABLE, a file that cannot be written, a bug): one line with
    // the code when there is one; the stack trace only with BOWLINE_DEBUG=1.
    process.stderr.write(`bowline ${entry.name}: ${errorLine(err)}\n`);
    if (process.env.BOWLINE_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return EXIT_INVALID;
  }
}
