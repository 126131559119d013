import { stringify } from 'yaml';
import type { Violation } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { SOURCE_ANNOTATION } from '../../control/explain/types.js';
import type { Endpoint } from '../../model/service.js';
import { analysisSnapshot, analyzeMesh, type AnalysisFinding, type LiveMesh } from '../../push/analysis/index.js';
import { ApiClient, apiFailure, processIO, resolveTarget, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { formatViolation, readManifests, type Manifest } from '../manifests.js';

/** Exit code when any finding is an Error (as `istioctl analyze`). */
export const EXIT_ANALYSIS_ERRORS = 79;

const usage = `Usage: bowline analyze [-f FILE|DIR|-]... [--live] [-n NAMESPACE | -A] [-o text|json|yaml] [--server URL]

Finds configuration that is wrong or will not do what it says, with Istio's analysis codes where
the meaning is the same (IST0101 missing reference, IST0104 gateway port, IST0106 schema, IST0109
mesh host conflict, IST0118 port name, IST0128/IST0129 server certificate not verified, IST0130
unreachable rule, IST0131 ineffective match, IST0132 host not in gateway) and Bowline's own
(mTLS conflicts, subsets without endpoints, policies that select nothing, weights that send nothing).

  -f, --filename PATH   analyze these files (repeatable); alone: the files by themselves
      --live            the running mesh (default without -f); with -f: the files laid over it
  -n, --namespace NS    report findings in NS (default: default); findings on -f files are always reported
  -A, --all-namespaces  report findings in every namespace
  -o, --output FORMAT   text (default), json or yaml

Exit code 0 without errors (warnings and info are printed), 79 when an Error is found (a file that
does not parse counts, and is reported as bowline validate does), 1 when the control plane cannot be
read, 2 for a wrong command line. Codes: docs/analyze.md.
`;

/** One line of the report. */
interface Item {
  code: string;
  level: string;
  origin: string;
  reference?: string;
  message: string;
  /** A file problem, printed as `bowline validate` prints it. */
  violation?: Violation;
}

const key = (kind: string, ns: string | undefined, name: string) => `${kind}/${ns ?? 'default'}/${name}`;

async function liveMesh(client: ApiClient): Promise<LiveMesh> {
  const [cfg, reg] = await Promise.all([client.call('GET', '/debug/configz'), client.call('GET', '/debug/registryz')]);
  for (const r of [cfg, reg]) if (r.status !== 200) throw apiFailure(r);
  const c = cfg.body as { configs: Record<string, Resource[]>; mesh?: LiveMesh['mesh']; domains?: LiveMesh['domains'] };
  const g = reg.body as { services: LiveMesh['services']; endpoints: Record<string, Endpoint[]>; workloads: LiveMesh['workloads'] };
  return { configs: Object.values(c.configs).flat(), services: g.services, endpoints: Object.values(g.endpoints).flat(), workloads: g.workloads, ...(c.mesh ? { mesh: c.mesh } : {}), ...(c.domains ? { domains: c.domains } : {}) };
}

/** Codes of input that could not be read or parsed (reported as `bowline validate` does); other errors are schema errors. */
const UNREADABLE = /^BOWLINE_E_(API_(YAML|ALIAS_BOMB|BINARY|DUPLICATE_KEY|LIST|READ|TOO_LARGE|INTERNAL|NOT_OBJECT)|CLI_READ)/;

function violationItem(v: Violation): Item {
  const reference = `${v.file ?? '<input>'}:${v.line ?? 1}:${v.column ?? 1}`;
  const message = `${v.path ? `${v.path}: ` : ''}${v.message}`;
  if (v.severity === 'error' && !UNREADABLE.test(v.code)) return { code: 'IST0106', level: 'Error', origin: reference, reference, message: `${message} (${v.code})` };
  return { code: v.code, level: v.severity === 'error' ? 'Error' : 'Warning', origin: v.file ?? '<input>', reference, message, violation: v };
}

/** `Error [CODE] (Kind name.ns reference) message`. */
function itemLine(i: Item): string {
  return `${i.level} [${i.code}] (${i.origin}${i.reference && i.reference !== i.origin ? ` ${i.reference}` : ''}) ${i.message}`;
}

/** Runs `bowline analyze` with injectable I/O; resolves to the exit code. */
export async function runAnalyze(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseFlags(args, {
    ...clientFlags,
    filename: { type: 'string', short: 'f', multiple: true },
    live: { type: 'boolean', default: false },
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A', default: false },
    output: { type: 'string', short: 'o', default: 'text' },
  }, { allowPositionals: false });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  if (!['text', 'json', 'yaml'].includes(values.output!)) throw new UsageError('-o must be text, json or yaml');
  if (values.namespace && values['all-namespaces']) throw new UsageError('-n and -A cannot be used together');
  const files = values.filename ?? [];
  const live = values.live || files.length === 0;
  const items: Item[] = [];
  // Files: parse and schema problems are reported as validate reports them; those documents are not analyzed further.
  let manifests: Manifest[] = [];
  if (files.length) {
    const read = await readManifests(files, io.readStdin);
    const broken = new Set(read.violations.filter((v) => v.severity === 'error').map((v) => `${v.file}\0${v.docIndex ?? 0}`));
    for (const v of read.violations) if (v.code !== 'BOWLINE_W_API_UNKNOWN_SUBSET' && v.code !== 'BOWLINE_W_API_UNREACHABLE_RULE') items.push(violationItem(v));
    manifests = read.manifests.filter((m) => !broken.has(`${m.file}\0${m.docIndex}`));
  }
  const placed = new Map<string, Manifest>();
  const resources = manifests.map((m) => {
    const ns = m.obj.metadata?.namespace ?? values.namespace ?? 'default';
    const r = { ...m.obj, metadata: { ...m.obj.metadata, namespace: ns } } as Resource;
    placed.set(key(r.kind, ns, r.metadata.name), m);
    return r;
  });
  let mesh: LiveMesh | undefined;
  if (live) {
    const client = new ApiClient(resolveTarget(values, env));
    try {
      mesh = await liveMesh(client);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      io.stderr(`bowline analyze: ${typeof code === 'string' ? code : 'BOWLINE_E_CLI_API'}: cannot read the live mesh: ${(err as Error).message}\n`);
      return EXIT_INVALID;
    }
  }
  const snap = analysisSnapshot(resources, mesh);
  const ns = values.namespace ?? 'default';
  const annotated = new Map((mesh?.configs ?? []).map((r) => [key(r.kind, r.metadata.namespace, r.metadata.name), r.metadata.annotations?.[SOURCE_ANNOTATION]]));
  for (const f of analyzeMesh(snap, live)) {
    const k = key(f.kind, f.namespace, f.name);
    const fromFile = placed.get(k);
    if (!fromFile && !values['all-namespaces'] && f.namespace !== undefined && f.namespace !== ns) continue;
    items.push(findingItem(f, fromFile ? `${fromFile.file}:${fromFile.line}` : annotated.get(k)));
  }
  const errors = items.filter((i) => i.level === 'Error').length;
  const where = values['all-namespaces'] ? 'all namespaces' : `namespace ${ns}`;
  const what = `${files.length ? `${files.join(', ')}` : ''}${files.length && live ? ' over ' : ''}${live ? 'the live mesh' : ''}`;
  const plain = items.map(({ violation: _v, ...rest }) => rest);
  if (values.output === 'json') io.stdout(JSON.stringify(plain, null, 2) + '\n');
  else if (values.output === 'yaml') io.stdout(stringify(plain));
  else if (items.length === 0) io.stdout(`No issues found in ${what} (${where}).\n`);
  else for (const i of items) io.stdout(`${i.violation ? formatViolation(i.violation) : itemLine(i)}\n`);
  if (errors) io.stderr(`bowline analyze: ${errors} error(s) in ${what} (${where})\n`);
  return errors ? EXIT_ANALYSIS_ERRORS : EXIT_OK;
}

function findingItem(f: AnalysisFinding, reference: string | undefined): Item {
  const path = f.path?.length ? ` [${f.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1)}]` : '';
  return { code: f.code, level: f.level, origin: `${f.kind} ${f.name}${f.namespace ? `.${f.namespace}` : ''}`, ...(reference ? { reference } : {}), message: `${f.message}${path}` };
}

/** `bowline analyze`: istioctl analyze's findings (IST codes) and Bowline's own, on files, the live mesh or both. */
export const command: Command = {
  name: 'analyze',
  summary: 'Find configuration problems (Istio IST codes and Bowline\'s own) in files, the live mesh or both; exit 79 on errors',
  run: (args) => runAnalyze(args, processIO),
};
