import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { analyzeDocuments, MAX_INPUT_CHARS, parseAndValidate, type ParsedDocument, type Violation } from '../../api/index.js';
import { processIO, type CliIO } from '../client.js';
import { formatViolation, listConfigFiles } from '../manifests.js';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline validate -f FILE|DIR|- [-f ...] [-o text|json] [--ignore-unknown-kinds]

Checks Istio resources (VirtualService, DestinationRule, Gateway, ServiceEntry, WorkloadEntry, Sidecar,
WorkloadGroup, ProxyConfig, Telemetry, PeerAuthentication, AuthorizationPolicy, RequestAuthentication,
MeshPolicy, Policy), v1 Lists of them (as \`bowline get -o yaml\` writes) and the istio ConfigMap (mesh
config). EnvoyFilter is refused: Bowline runs no Envoy (the error names the built-in feature to use). A directory is read recursively: every .yaml/.yml file with a top-level
apiVersion or kind, and every .json file holding an object with apiVersion and kind.

  -f, --filename PATH        file, directory or - for stdin (repeatable)
  -o, --output text|json     output format (default text)
      --ignore-unknown-kinds skip documents of other kinds (Deployment, Service ...) instead of failing

Exit: 0 valid (warnings are printed), 1 violations, 2 usage or read error.
Codes are explained in docs/errors.md.
`;

interface Input { file: string; text: string }
interface ReadError { file: string; message: string; code: string }

/** In a directory, a file counts as Kubernetes-style config only if it looks like one (see usage). */
function looksLikeResource(file: string, text: string): boolean {
  if (extname(file).toLowerCase() === '.json') {
    try {
      const v = JSON.parse(text) as unknown;
      return typeof v === 'object' && v !== null && !Array.isArray(v) && 'apiVersion' in v && 'kind' in v;
    } catch {
      return false;
    }
  }
  return /^(apiVersion|kind)\s*:/m.test(text) || /^\s*\{\s*"(apiVersion|kind)"/.test(text);
}

function readOne(file: string, fromDir: boolean, inputs: Input[], errors: ReadError[], skipped: string[]): void {
  try {
    const st = statSync(file);
    if (st.size > MAX_INPUT_CHARS) {
      errors.push({ file, code: 'BOWLINE_E_API_TOO_LARGE', message: `file is ${(st.size / 1048576).toFixed(1)} MB: the limit is ${MAX_INPUT_CHARS / 1048576} MB` });
      return;
    }
    const text = readFileSync(file, 'utf8');
    if (fromDir && !looksLikeResource(file, text)) skipped.push(file);
    else inputs.push({ file, text });
  } catch (err) {
    errors.push({ file, code: 'BOWLINE_E_API_READ', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
  }
}

/** Runs `bowline validate` with injectable I/O; resolves to the exit code. */
export async function runValidate(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, {
    filename: { type: 'string', short: 'f', multiple: true },
    output: { type: 'string', short: 'o', default: 'text' },
    'ignore-unknown-kinds': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  }, { allowPositionals: false });
  if (values.help) {
    io.stdout(usage);
    return EXIT_OK;
  }
  const paths = values.filename ?? [];
  if (paths.length === 0) throw new UsageError('missing -f FILE|DIR|- (see bowline validate --help)');
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError(`-o must be text or json, got "${values.output}"`);
  const inputs: Input[] = [];
  const readErrors: ReadError[] = [];
  const skipped: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      inputs.push({ file: '<stdin>', text: await io.readStdin() });
      continue;
    }
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      readErrors.push({ file: p, code: 'BOWLINE_E_API_READ', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    if (isDir) {
      let files: string[] = [];
      try {
        files = listConfigFiles(p);
      } catch (err) {
        readErrors.push({ file: p, code: 'BOWLINE_E_API_READ', message: `cannot list directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
      for (const f of files) readOne(f, true, inputs, readErrors, skipped);
    } else readOne(p, false, inputs, readErrors, skipped);
  }

  const ignoreUnknownKinds = values['ignore-unknown-kinds'];
  const perFile = inputs.map((i) => ({ file: i.file, ...parseAndValidate(i.text, { file: i.file, ignoreUnknownKinds, analyze: false }) }));
  const allDocs: ParsedDocument[] = perFile.flatMap((f) => f.documents);
  const analyzed = analyzeDocuments(allDocs);
  const violations: Violation[] = [...perFile.flatMap((f) => f.violations), ...analyzed];
  const order = new Map(inputs.map((i, n) => [i.file, n]));
  violations.sort((a, b) => (order.get(a.file ?? '') ?? 0) - (order.get(b.file ?? '') ?? 0) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  const errors = violations.filter((v) => v.severity === 'error').length;
  const warnings = violations.length - errors;
  const resources = allDocs.filter((d) => d.resource || d.meshConfig).length;
  const code = readErrors.length ? EXIT_USAGE : errors ? EXIT_INVALID : EXIT_OK;

  if (values.output === 'json') {
    io.stdout(JSON.stringify({
      valid: code === EXIT_OK,
      errors,
      warnings,
      readErrors,
      skipped,
      files: perFile.map((f) => ({
        file: f.file,
        documents: f.documents.map((d) => ({ docIndex: d.docIndex, line: d.line, kind: d.kind, apiVersion: d.apiVersion, name: d.resource?.metadata?.name, namespace: d.resource?.metadata?.namespace, valid: !d.violations.some((v) => v.severity === 'error') })),
      })),
      violations,
    }, null, 2) + '\n');
    return code;
  }
  for (const e of readErrors) io.stderr(`${e.file}: ${e.code}: ${e.message}\n`);
  for (const v of violations) io.stderr(formatViolation(v) + '\n');
  const skippedNote = skipped.length ? `, ${skipped.length} non-resource file(s) skipped` : '';
  io.stdout(`${inputs.length} file(s), ${resources} resource(s): ${errors} error(s), ${warnings} warning(s)${skippedNote}\n`);
  return code;
}

/** `bowline validate`: checks Istio YAML/JSON files and prints every violation with file:line:col. */
export const command: Command = {
  name: 'validate',
  summary: 'Check Istio YAML/JSON files: every violation with file:line:col, code and field path',
  run: (args) => runValidate(args, processIO),
};
