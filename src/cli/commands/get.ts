import { stringify } from 'yaml';
import { collectionPath, resolveKind, servedKinds } from '../../control/kinds.js';
import { ApiClient, failureLine, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { table } from '../printers.js';

const usage = `Usage: bowline get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json|wide] [--server URL]

KIND is a kind, plural, singular or short name, any case: vs, dr, gw, se, we, pa, ap, ra,
virtualservices, Gateway, configmap ...
`;

/** Resolves a KIND word or throws a usage error listing the choices. */
export function kindArg(word: string | undefined) {
  if (!word) throw new UsageError('missing KIND (e.g. vs, dr, gw, se, we, pa, ap, ra)');
  const k = resolveKind(word);
  if (!k) throw new UsageError(`unknown kind "${word}": use one of ${servedKinds.map((s) => [s.plural, ...s.shortNames].join('/')).join(', ')}`);
  return k;
}

/** Runs `bowline get` with injectable I/O; resolves to the exit code. */
export async function runGet(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...clientFlags,
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A', default: false },
    output: { type: 'string', short: 'o' },
  });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  const kind = kindArg(positionals[0]);
  const name = positionals[1];
  if (positionals.length > 2) throw new UsageError('too many arguments: bowline get KIND [NAME]');
  const out = values.output;
  if (out !== undefined && !['yaml', 'json', 'wide'].includes(out)) throw new UsageError(`-o must be yaml, json or wide, got "${out}"`);
  if (values['all-namespaces'] && values.namespace) throw new UsageError('use either -n NAMESPACE or -A, not both');
  const all = values['all-namespaces'] && !name;
  const ns = values.namespace ?? 'default';
  const client = new ApiClient(resolveTarget(values, env));
  const base = collectionPath(kind, all ? undefined : ns);
  try {
    const r = await client.call('GET', name ? `${base}/${encodeURIComponent(name)}` : base);
    if (r.status !== 200) { io.stderr(failureLine('get', r)); return EXIT_INVALID; }
    const items: any[] = name ? [r.body] : r.body.items;
    if (out === 'json') { io.stdout(JSON.stringify(name ? r.body : { apiVersion: 'v1', kind: 'List', items }, null, 2) + '\n'); return EXIT_OK; }
    if (out === 'yaml') { io.stdout(stringify(name ? r.body : { apiVersion: 'v1', kind: 'List', items })); return EXIT_OK; }
    if (items.length === 0) {
      io.stderr(all || !kind.namespaced ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
      return EXIT_OK;
    }
    io.stdout(table(kind, items, { allNamespaces: all, wide: out === 'wide' }));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof UnreachableError) { io.stderr(failureLine('get', err)); return EXIT_INVALID; }
    throw err;
  }
}

/** `bowline get`: list or show resources. */
export const command: Command = {
  name: 'get',
  summary: 'List resources as a table, or show them as YAML/JSON (like kubectl get)',
  run: (args) => runGet(args, processIO),
};
