import { collectionPath } from '../../control/kinds.js';
import { ApiClient, failureLine, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { describe } from '../printers.js';
import { kindArg } from './get.js';

/** Runs `bowline describe KIND NAME [-n NS]` with injectable I/O. */
export async function runDescribe(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...clientFlags, namespace: { type: 'string', short: 'n' } });
  if (values.help) { io.stdout('Usage: bowline describe KIND NAME [-n NAMESPACE] [--server URL]\n'); return EXIT_OK; }
  const kind = kindArg(positionals[0]);
  const name = positionals[1];
  if (!name || positionals.length > 2) throw new UsageError('usage: bowline describe KIND NAME');
  const client = new ApiClient(resolveTarget(values, env));
  try {
    const r = await client.call('GET', `${collectionPath(kind, values.namespace ?? 'default')}/${encodeURIComponent(name)}`);
    if (r.status !== 200) { io.stderr(failureLine('describe', r)); return EXIT_INVALID; }
    io.stdout(describe(kind, r.body));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof UnreachableError) { io.stderr(failureLine('describe', err)); return EXIT_INVALID; }
    throw err;
  }
}

/** `bowline describe`: one resource, readable. */
export const command: Command = {
  name: 'describe',
  summary: 'Show one resource in detail (like kubectl describe)',
  run: (args) => runDescribe(args, processIO),
};
