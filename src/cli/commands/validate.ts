import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { analyzeDocuments, MAX_INPUT_CHARS, parseAndValidate, type ParsedDocument, type Violation } from '../../api/index.js';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, parseFlags, UsageError, type Command } from '../command.js';

/** Where validate writes and reads; tests pass their own. */
export interface ValidateIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
}

const usage = `Usage: bowline validate -f FILE|DIR|- [-f ...] [-o text|json] [--ignore-unknown-kinds]

Checks Istio resources (VirtualService, DestinationRule, Gateway, ServiceEntry, WorkloadEntry, Sidecar,
PeerAuthentication, AuthorizationPolicy, RequestAuthentication, MeshPolicy, Policy) and the istio
ConfigMap (mesh config). A directory is read recursively: every .yaml/.yml file with a top-level
apiVersion or kind, and every .json file holding an object with apiVersion and kind.

  -f, --filename PATH        file, directory or - for stdin (repeatable)
  -o, --output text|json     output format (default text)
      --ignore-unknown-kinds skip documents of other kinds (Deployment, Service ...) instead of failing

Exit: 0 valid (warnings are printed), 1 violations, 2 usage or read error.
Codes are explained in docs/errors.md.
`;

interface Input { file: string; text: string }
interface ReadError { file: string; message: string; code: string }

function collect(dir: string, out: string[], depth = 0): void {
  if (depth > 32) return;
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'dist') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) collect(p, out, depth + 1);
    else if (e.isFile() && ['.yaml', '.yml', '.json'].includes(extname(e.name).toLowerCase())) out.push(p);
  }
}

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

function line(v: Violation): string {
  const where = `${v.file ?? '<input>'}:${v.line ?? 1}:${v.column ?? 1}`;
  const head = `${where} ${v.code}${v.path ? ` ${v.path}` : ''}: ${v.message}`;
  return v.hint ? `${head}\n    hint: ${v.hint}\n` : `${head}\n`;
}

/** Runs `bowline validate` with injectable I/O; resolves to the exit code. */
export async function runValidate(args: string[], io: ValidateIO): Promise<number> {
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
      const files: string[] = [];
      try {
        collect(p, files);
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
  for (const v of violations) io.stderr(line(v));
  const skippedNote = skipped.length ? `, ${skipped.length} non-resource file(s) skipped` : '';
  io.stdout(`${inputs.length} file(s), ${resources} resource(s): ${errors} error(s), ${warnings} warning(s)${skippedNote}\n`);
  return code;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    size += (c as Buffer).length;
    if (size > MAX_INPUT_CHARS) throw new UsageError(`stdin is larger than ${MAX_INPUT_CHARS / 1048576} MB`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `bowline validate`: checks Istio YAML/JSON files and prints every violation with file:line:col. */
export const command: Command = {
  name: 'validate',
  summary: 'Check Istio YAML/JSON files: every violation with file:line:col, code and field path',
  run: (args) => runValidate(args, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), readStdin }),
};
