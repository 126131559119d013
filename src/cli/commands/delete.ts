import { collectionPath, qualifiedName } from '../../control/kinds.js';
import { ApiClient, failureLine, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { formatViolation, readManifests } from '../manifests.js';
import { placeManifest } from './apply.js';
import { kindArg } from './get.js';

const usage = `Usage: bowline delete -f FILE|DIR|- | KIND NAME... [-n NAMESPACE] [--ignore-not-found] [--server URL]
`;

/** Runs `bowline delete` with injectable I/O; resolves to the exit code. */
export async function runDelete(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...clientFlags,
    filename: { type: 'string', short: 'f', multiple: true },
    namespace: { type: 'string', short: 'n' },
    'ignore-not-found': { type: 'boolean', default: false },
  });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  const targets: Array<{ label: string; path: string }> = [];
  if (values.filename?.length) {
    if (positionals.length) throw new UsageError('use either -f FILE or KIND NAME, not both');
    const { manifests, violations } = await readManifests(values.filename, io.readStdin);
    const errors = violations.filter((v) => v.severity === 'error');
    for (const v of errors) io.stderr(formatViolation(v) + '\n');
    if (errors.length) return EXIT_INVALID;
    for (const m of manifests) {
      try {
        const p = placeManifest(m, values.namespace);
        targets.push({ label: `${qualifiedName(p.kind)} "${p.name}"`, path: p.path });
      } catch (err) {
        io.stderr(`${(err as Error).message}\n`);
        return EXIT_INVALID;
      }
    }
  } else {
    const kind = kindArg(positionals[0]);
    const names = positionals.slice(1);
    if (!names.length) throw new UsageError('missing NAME: bowline delete KIND NAME (or -f FILE)');
    for (const n of names) targets.push({ label: `${qualifiedName(kind)} "${n}"`, path: `${collectionPath(kind, values.namespace ?? 'default')}/${encodeURIComponent(n)}` });
  }
  const client = new ApiClient(resolveTarget(values, env));
  let failed = 0;
  try {
    for (const t of targets) {
      const r = await client.call('DELETE', t.path);
      if (r.status === 200) io.stdout(`${t.label} deleted\n`);
      else if (r.status === 404 && values['ignore-not-found']) continue;
      else { io.stderr(failureLine('delete', r)); failed++; }
    }
  } catch (err) {
    if (err instanceof UnreachableError) { io.stderr(failureLine('delete', err)); return EXIT_INVALID; }
    throw err;
  }
  return failed ? EXIT_INVALID : EXIT_OK;
}

/** `bowline delete`: remove resources named on the command line or in files. */
export const command: Command = {
  name: 'delete',
  summary: 'Delete resources by KIND NAME or from files (like kubectl delete)',
  run: (args) => runDelete(args, processIO),
};
