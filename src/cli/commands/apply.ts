import { collectionPath, qualifiedName, resolveKind, type ServedKind } from '../../control/kinds.js';
import { ApiClient, apiFailure, failureLine, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { formatViolation, readManifests, type Manifest } from '../manifests.js';
import { confirmSubsetWarnings, UNKNOWN_SUBSET } from '../apply-analysis.js';
import { SOURCE_ANNOTATION } from '../../control/explain/types.js';


const usage = `Usage: bowline apply -f FILE|DIR|- [-f ...] [-n NAMESPACE] [--dry-run] [--server URL]

Creates or updates every resource in the files (multi-document YAML or JSON; directories are read
recursively). Each is validated first; with any violation nothing is applied and the exit code is 1.
Prints e.g. "virtualservice.networking.istio.io/reviews created|configured|unchanged".
`;

/** Stable JSON (sorted keys), for "did anything change" comparisons. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as any)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as any)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** The fields apply owns: everything but server-set metadata and the source annotation. */
function desiredView(o: Record<string, any>): string {
  const { metadata = {}, status: _s, ...rest } = o;
  // The source annotation alone is no change: the same resource applied from another file stays unchanged.
  const { [SOURCE_ANNOTATION]: _src, ...annotations } = metadata.annotations ?? {};
  return canonical({ ...rest, labels: metadata.labels ?? {}, annotations });
}

/** Where a manifest goes: its kind, namespace and URL. */
export function placeManifest(m: Manifest, nsFlag: string | undefined): { kind: ServedKind; namespace?: string; name: string; path: string } {
  const kind = resolveKind(String(m.obj.kind));
  if (!kind || kind.kind !== m.obj.kind) throw new Error(`${m.file}:${m.line}: kind ${String(m.obj.kind)} is not served by the config API`);
  const name = String(m.obj.metadata?.name ?? '');
  if (!kind.namespaced) return { kind, name, path: `${collectionPath(kind)}/${encodeURIComponent(name)}` };
  const own = m.obj.metadata?.namespace as string | undefined;
  if (own && nsFlag && own !== nsFlag) throw new Error(`${m.file}:${m.line}: the namespace from the provided object "${own}" does not match the namespace "${nsFlag}" (-n)`);
  const namespace = own ?? nsFlag ?? 'default';
  return { kind, namespace, name, path: `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}` };
}

/** Runs `bowline apply` with injectable I/O; resolves to the exit code. */
export async function runApply(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseFlags(args, {
    ...clientFlags,
    filename: { type: 'string', short: 'f', multiple: true },
    namespace: { type: 'string', short: 'n' },
    'dry-run': { type: 'boolean', default: false },
  }, { allowPositionals: false });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  if (!values.filename?.length) throw new UsageError('missing -f FILE|DIR|- (see bowline apply --help)');
  const { manifests, violations } = await readManifests(values.filename, io.readStdin);
  // Unknown-subset warnings wait until the server's DestinationRules are known (apply-analysis.ts).
  const subsetWarnings = violations.some((v) => v.severity === 'error') ? [] : violations.filter((v) => v.code === UNKNOWN_SUBSET);
  for (const v of violations) if (!subsetWarnings.includes(v)) io.stderr(formatViolation(v) + '\n');
  if (violations.some((v) => v.severity === 'error')) {
    io.stderr(`apply: nothing applied: fix the ${violations.filter((v) => v.severity === 'error').length} error(s) above\n`);
    return EXIT_INVALID;
  }
  if (manifests.length === 0) { io.stderr('apply: no resources found in the input\n'); return EXIT_INVALID; }
  const client = new ApiClient(resolveTarget(values, env));
  const dry = values['dry-run'] ? '?dryRun=All' : '';
  const suffix = values['dry-run'] ? ' (dry run)' : '';
  let failed = 0;
  try {
    for (const w of await confirmSubsetWarnings(subsetWarnings, manifests, values.namespace, client)) io.stderr(formatViolation(w) + '\n');
    for (const m of manifests) {
      let place;
      try {
        place = placeManifest(m, values.namespace);
      } catch (err) {
        io.stderr(`${(err as Error).message}\n`);
        failed++;
        continue;
      }
      const label = `${qualifiedName(place.kind)}/${place.name}`;
      // What the server sets (as `bowline get -o yaml` shows it) is not the user's to write.
      const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, generation: _g, managedFields: _mf, selfLink: _sl, ...ownMeta } = m.obj.metadata ?? {};
      const { status: _status, ...own } = m.obj;
      const body = { ...own, metadata: { ...ownMeta, ...(place.namespace !== undefined ? { namespace: place.namespace } : {}) } };
      // Where it came from, for `bowline explain` and the dashboard (stdin has no file to name).
      if (m.file !== '<stdin>') body.metadata.annotations = { ...(ownMeta.annotations ?? {}), [SOURCE_ANNOTATION]: `${m.file}:${m.line}` };
      if (!place.kind.namespaced) delete body.metadata.namespace;
      let outcome = '';
      for (let attempt = 0; attempt < 3 && !outcome; attempt++) {
        const cur = await client.call('GET', place.path);
        if (cur.status === 404) {
          const r = await client.call('POST', place.path.slice(0, place.path.lastIndexOf('/')) + dry, body);
          if (r.status === 201) outcome = 'created';
          else if (r.status !== 409) { io.stderr(`${m.file}:${m.line}: ${label}: ${serverError(r)}\n`); outcome = 'failed'; }
        } else if (cur.status === 200) {
          if (desiredView(cur.body) === desiredView({ ...body, metadata: { ...body.metadata } })) { outcome = 'unchanged'; break; }
          const r = await client.call('PUT', place.path + dry, { ...body, metadata: { ...body.metadata, resourceVersion: cur.body.metadata.resourceVersion } });
          if (r.status === 200) outcome = 'configured';
          else if (r.status !== 409) { io.stderr(`${m.file}:${m.line}: ${label}: ${serverError(r)}\n`); outcome = 'failed'; }
        } else {
          io.stderr(`${m.file}:${m.line}: ${label}: ${serverError(cur)}\n`);
          outcome = 'failed';
        }
      }
      if (!outcome) io.stderr(`${m.file}:${m.line}: ${label}: changed by another writer during each of 3 attempts (409 Conflict); nothing applied for it, run apply again\n`);
      if (outcome === 'failed' || !outcome) failed++;
      else io.stdout(`${label} ${outcome}${suffix}\n`);
    }
  } catch (err) {
    if (err instanceof UnreachableError) { io.stderr(failureLine('apply', err)); return EXIT_INVALID; }
    throw err;
  }
  return failed ? EXIT_INVALID : EXIT_OK;
}

/** A server error with its validation causes, one per line. */
function serverError(r: { status: number; body: any }): string {
  const causes = (r.body?.details?.causes ?? []) as Array<{ reason: string; field?: string; message: string }>;
  const f = apiFailure(r as never);
  const head = `${f.code}: ${f.message}`;
  return causes.length ? `${head}\n${causes.map((c) => `    ${c.reason} ${c.field ?? ''}: ${c.message}`).join('\n')}` : head;
}

/** `bowline apply`: create or update resources from files. */
export const command: Command = {
  name: 'apply',
  summary: 'Create or update resources from YAML/JSON files (like kubectl apply)',
  run: (args) => runApply(args, processIO),
};
