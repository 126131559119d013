import { parseArgs } from 'node:util';
import { collectionPath } from '../../control/kinds.js';
import { ApiClient, describeFailure, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { EXIT_INVALID, EXIT_OK, UsageError, type Command } from '../command.js';
import { describe } from '../printers.js';
import { kindArg } from './get.js';

/** Runs `bowline describe KIND NAME [-n NS]` with injectable I/O. */
export async function runDescribe(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: {
      namespace: { type: 'string', short: 'n' },
      server: { type: 'string' },
      home: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    } });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) { io.stdout('Usage: bowline describe KIND NAME [-n NAMESPACE] [--server URL]\n'); return EXIT_OK; }
  const kind = kindArg(positionals[0]);
  const name = positionals[1];
  if (!name || positionals.length > 2) throw new UsageError('usage: bowline describe KIND NAME');
  const client = new ApiClient(resolveTarget({ ...(values.server ? { server: values.server } : {}), ...(values.home ? { home: values.home } : {}) }, env));
  try {
    const r = await client.call('GET', `${collectionPath(kind, values.namespace ?? 'default')}/${encodeURIComponent(name)}`);
    if (r.status !== 200) { io.stderr(describeFailure(r) + '\n'); return EXIT_INVALID; }
    io.stdout(describe(kind, r.body));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof UnreachableError) { io.stderr(`error: ${err.message}\n`); return EXIT_INVALID; }
    throw err;
  }
}

/** `bowline describe`: one resource, readable. */
export const command: Command = {
  name: 'describe',
  summary: 'Show one resource in detail (like kubectl describe)',
  run: (args) => runDescribe(args, processIO),
};
